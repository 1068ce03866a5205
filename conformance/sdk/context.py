"""What an SDK scenario is and what it may use: a :class:`Scenario` runs with a :class:`Context`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.sdk.calls import CallLog
from conformance.sdk.versions import LIST, PAGE, RESULTS, Release
from conformance.verdicts import fact, require


@dataclass
class Context:
    """What a scenario may use.

    ``mem0`` (a MemoryClient) and ``klavis`` (a Klavis) are made on first use; ``make_mem0(**extra)``,
    ``async_mem0()`` and ``async_klavis()`` make more, on recorded httpx clients. Every client is
    watched: each public call is one record in ``log``. ``releases`` holds what the installed
    version of each SDK does differently (``conformance/sdk/versions.py``). ``new_user()`` is a
    run-prefixed user (deleted at the end), ``track_sandbox(id)`` releases a sandbox at the end,
    and ``memory(user, text)`` adds one memory through the SDK and answers its id."""

    log: CallLog
    releases: dict[str, Release]
    new_user: Callable[[], str]
    track_sandbox: Callable[[str], None]
    track_webhook: Callable[[str], None] = lambda webhook_id: None
    wait: float = 10.0  # the target's consistency wait: how long queued work may take to show
    prefix: str = "mct"  # the run prefix, for names the run gives (webhooks)
    make_mem0: Callable[..., Any] = lambda **extra: None  # a new MemoryClient (extra constructor arguments)
    async_mem0: Callable[[], Any] = lambda: None  # a new AsyncMemoryClient
    async_klavis: Callable[[], Any] = lambda: None  # a new AsyncKlavis
    mem0: Any = None
    klavis: Any = None
    npm: dict[str, Any] = field(default_factory=dict)  # "npm:mem0ai" -> its NpmClients (conformance/sdk/npm.py)

    def memory(self, user: str, text: str) -> str:
        added = self.mem0.add(text, user_id=user, infer=False, async_mode=False)
        results = added.get("results") if isinstance(added, dict) else added
        require(isinstance(results, list) and len(results) == 1 and results[0].get("id"),
                "MemoryClient.add(infer=False, async_mode=False) returns no single result with an id",
                received=added, documented='{"results": [{"id", "memory", "event": "ADD"}]}', source=fact("Add"))
        return results[0]["id"]


@dataclass(frozen=True, repr=False)
class Scenario:
    sdk: str  # "mem0ai" | "klavis"
    call: str  # the SDK call, as a user writes it
    expectation: str
    source: str  # a FACTS.md entry
    run: Callable[[Context], None]
    needs: tuple[str, ...] = ()  # what the target must offer beyond the SDK's API (a capability, "destructive")

    @property
    def id(self) -> str:
        return f"{self.sdk}: {self.call}"

    def __repr__(self) -> str:  # how the report shows the test's parameter
        return self.id


def ids_of(found: Any) -> list[str]:
    items = found.get("results") if isinstance(found, dict) else found
    return [item.get("id") for item in items or [] if isinstance(item, dict)]


def shape(answer: Any) -> str:
    """``results``, ``page`` or ``list`` (see :mod:`conformance.sdk.versions`), or the answer's type."""
    if isinstance(answer, list):
        return LIST
    if isinstance(answer, dict) and isinstance(answer.get("results"), list):
        return PAGE if {"count", "next", "previous"} <= answer.keys() else RESULTS
    return type(answer).__name__


def same_shape(ctx: Context, call: str, answer: Any) -> None:
    release = ctx.releases["mem0ai"]
    require(shape(answer) == release.shapes[call],
            f"{call}() returns {shape(answer)}, where {release.label} returns {release.shapes[call]}",
            received=answer, documented=f"{release.shapes[call]} (conformance/sdk/versions.py)",
            source=fact("List/search filters (v2/v3)"))
