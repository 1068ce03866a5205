"""Handlers by operationId, and what a handler receives and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.server.operations import HANDLER_CHECKED, Operation
from conformance.server.settings import ServerSettings
from conformance.server.store import Store


@dataclass
class Call:
    """One request, parsed and validated against its operation."""

    operation: Operation
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any
    store: Store
    settings: ServerSettings
    faults: frozenset[str]
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, the Authorization header left out

    @property
    def api(self) -> str:
        return self.operation.api

    def fault(self, name: str) -> bool:
        return name in self.faults


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], "Reply | tuple[int, Any]"]
HANDLERS: dict[str, Handler] = {}


def handles(*operation_ids: str, checks: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
    """Register a handler for one or more operationIds.

    ``checks`` names JSON Schema keywords (e.g. ``"maxItems"``) the handler enforces itself, with
    the API's own message; input validation then leaves them to it.
    """

    def register(function: Handler) -> Handler:
        for operation_id in operation_ids:
            if operation_id in HANDLERS:
                raise ValueError(f"operation {operation_id!r} has two handlers")
            HANDLERS[operation_id] = function
            if checks:
                HANDLER_CHECKED[operation_id] = frozenset(checks)
        return function

    return register
