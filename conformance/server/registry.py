"""Handlers by operationId, and what a handler receives and returns."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.server.operations import HANDLER_CHECKED, Operation
from conformance.server.settings import ServerSettings
from conformance.server.store import Store


class RequestHeaders(Mapping[str, str]):
    """A request's headers as a handler reads them, as Starlette's ``headers.get`` answers (a name in any case, of a
    repeated header the first), each decoded when it is read (most requests read none), the Authorization header
    left out. ``raw``: ASGI's (lower-case) names and values, the first of each name."""

    __slots__ = ("raw",)

    def __init__(self, raw: dict[bytes, bytes] | None = None) -> None:
        self.raw = raw or {}

    def __getitem__(self, name: str) -> str:
        try:
            return self.raw[name.lower().encode("latin-1")].decode("latin-1")
        except UnicodeEncodeError:  # a name no header can have
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return (name.decode("latin-1") for name in self.raw)

    def __len__(self) -> int:
        return len(self.raw)


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
    headers: Mapping[str, str] = field(default_factory=RequestHeaders)

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
