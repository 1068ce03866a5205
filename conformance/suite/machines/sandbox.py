"""The Klavis mem0 sandbox machine: acquire, initialize, reset, release and dump, against a model.

The model of each held sandbox is the memory list of the initialize in effect (empty after a
reset) and whether background items of it may still be pending. After every step the dump of
each held sandbox must be ≈ its model (:mod:`conformance.suite.roundtrip`): items stored before
the answer at once, background items (``background_processing`` true) only once settled, which
the ``dump`` rule and every replacing rule wait for with ``eventually(..., within=klavis.wait)``.

Acquiring is costly on a live target, so sandboxes come from a :class:`SandboxPool` that the
examples of a run share: each example holds two (reset and initialized empty at its start);
it releases at most one and then may acquire one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conformance.cleanup import Cleanup
from conformance.client import ApiClient
from conformance.suite import roundtrip
from conformance.suite.sources import DUMP, KLAVIS, refused
from conformance.suite.support import Patience, expect
from conformance.verdicts import fact, require
from conformance.strategies.sandbox import initialize_bodies, invalid_initialize_bodies

HELD = 2  # sandboxes an example holds: two, so that one sandbox's dump can show the other's data
BASE = "/sandbox/mem0"


class SandboxPool:
    """Occupied sandboxes the run holds for the machine, handed from one example to the next."""

    def __init__(self, new_sandbox: Callable[[], str]) -> None:
        self.new_sandbox = new_sandbox
        self.free: list[str] = []

    def take(self, count: int) -> list[str]:
        while len(self.free) < count:
            self.free.append(self.new_sandbox())
        taken, self.free = self.free[:count], self.free[count:]
        return taken

    def give_back(self, sandbox_ids: list[str]) -> None:
        self.free.extend(sandbox_ids)


@dataclass
class Held:
    """A held sandbox and its model: the items initialized (``[]`` when empty)."""

    sandbox_id: str
    items: list[dict[str, Any]] = field(default_factory=list)
    pending: bool = False  # background items may not have appeared yet
    body: dict[str, Any] | None = None  # the last initialize body, to send again

    def expected(self) -> roundtrip.Normalised:
        return roundtrip.normalise_initialize(self.items)


def _background(items: list[dict[str, Any]]) -> bool:
    return any(item.get("background_processing") is not False for item in items)  # null/absent: default true


def _is_datetime(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _require_status(answer: Any, status: str, operation: str, held: str, *, after: str = "",
                    **fields: Any) -> None:
    """The answer of ``operation`` (a template) on sandbox ``held`` is an object with this ``status``
    and these other fields."""
    __tracebackhide__ = True
    wanted = {**fields, "status": status}
    received = {key: answer.get(key) for key in wanted} if isinstance(answer, dict) else answer
    label = operation.replace("{sandbox_id}", held) + (f" {after}" if after else "")
    require(received == wanted, f"{label} answers {received!r} instead of {wanted!r}",
            received=answer, documented=wanted, source=fact(KLAVIS, operation))


class SandboxMachine(RuleBasedStateMachine):
    def __init__(self, *, klavis: ApiClient, pool: SandboxPool, patience: Patience, cleanup: Cleanup,
                 run_prefix: str, default_items: list[dict[str, Any]]) -> None:
        super().__init__()
        self.klavis, self.pool, self.patience, self.cleanup = klavis, pool, patience, cleanup
        self.run_prefix, self.default_items = run_prefix, default_items
        self.released = False
        self.held = [Held(sandbox_id) for sandbox_id in pool.take(HELD)]
        for sandbox in self.held:  # both, so that a broken reset or initialize cannot leak data
            self._reset(sandbox)   # into the next example (which would make runs differ)
            self._initialize(sandbox, {"memory_list": []})

    # --- helpers ---------------------------------------------------------------------------

    def _pick(self, which: int) -> Held:
        return self.held[which % len(self.held)]

    def _dump(self, sandbox: Held) -> dict[str, Any]:
        label, source = f"GET {BASE}/{sandbox.sandbox_id}/dump", fact(KLAVIS, DUMP)
        body = expect(self.klavis.get(f"{BASE}/{sandbox.sandbox_id}/dump"), 200, source=source)
        envelope = {key: body.get(key) for key in ("sandbox_id", "server_name")} if isinstance(body, dict) else body
        wanted = {"sandbox_id": sandbox.sandbox_id, "server_name": "mem0"}
        require(envelope == wanted, f"{label} names {envelope!r} instead of {wanted!r}", received=envelope,
                documented=wanted, source=source)
        require(_is_datetime(body.get("dumped_at")), f"{label} has no date-time dumped_at",
                received=body.get("dumped_at"), documented="dumped_at: a required date-time", source=source)
        return body

    def _check(self, sandbox: Held, *, settled: bool) -> dict[str, Any]:
        body = self._dump(sandbox)
        actual = roundtrip.normalise_dump(roundtrip.memory_list(body))
        roundtrip.assert_equivalent(actual, sandbox.expected(), settled=settled,
                                    what=f"GET {BASE}/{sandbox.sandbox_id}/dump")
        return body

    def _settle(self, sandbox: Held) -> dict[str, Any]:
        """Wait until the dump is ≈ the model with every background item present."""
        body = self.patience.wait(lambda: self._check(sandbox, settled=True),
                                  what="background-processed items of the last initialize appear in the dump")
        sandbox.pending = False
        return body

    def _settle_if_pending(self, sandbox: Held) -> None:
        if sandbox.pending:
            self._settle(sandbox)

    def _reset(self, sandbox: Held) -> None:
        answer = expect(self.klavis.post(f"{BASE}/{sandbox.sandbox_id}/reset"), 200)
        _require_status(answer, "occupied", f"POST {BASE}/{{sandbox_id}}/reset", sandbox.sandbox_id,
                        sandbox_id=sandbox.sandbox_id)
        sandbox.items, sandbox.pending, sandbox.body = [], False, None

    def _initialize(self, sandbox: Held, body: dict[str, Any] | None, *, default: bool = False) -> None:
        self._settle_if_pending(sandbox)
        params = {"init_default_data": "true"} if default else {}
        answer = expect(self.klavis.post(f"{BASE}/{sandbox.sandbox_id}/initialize", params=params, json=body), 200)
        _require_status(answer, "occupied", f"POST {BASE}/{{sandbox_id}}/initialize", sandbox.sandbox_id,
                        sandbox_id=sandbox.sandbox_id)
        sandbox.items = self.default_items if default else list((body or {}).get("memory_list") or [])
        sandbox.pending = _background(sandbox.items)
        sandbox.body = None if default else body

    # --- rules -----------------------------------------------------------------------------

    @rule(which=st.integers(0, HELD - 1), data=st.data())
    def initialize(self, which: int, data: st.DataObject) -> None:
        """initialize(x) replaces the sandbox's data with x."""
        body = data.draw(initialize_bodies(run_prefix=self.run_prefix), label="body")
        self._initialize(self._pick(which), body)

    @rule(which=st.integers(0, HELD - 1))
    def initialize_default_data(self, which: int) -> None:
        """init_default_data=true loads the initialize operation's documented example."""
        self._initialize(self._pick(which), None, default=True)

    @precondition(lambda self: any(sandbox.body is not None for sandbox in self.held))
    @rule(which=st.integers(0, HELD - 1))
    def initialize_again(self, which: int) -> None:
        """Initialize is idempotent: the same body again leaves the same data."""
        sandbox = next(s for s in self.held[which:] + self.held[:which] if s.body is not None)
        self._initialize(sandbox, sandbox.body)

    @rule(which=st.integers(0, HELD - 1))
    def initialize_from_dump(self, which: int) -> None:
        """A dump is a fixpoint: initializing it and dumping again gives ≈ the same data."""
        sandbox = self._pick(which)
        first = self._settle(sandbox)
        self._initialize(sandbox, {"memory_list": roundtrip.memory_list(first)})

    @rule(which=st.integers(0, HELD - 1), data=st.data())
    def initialize_invalid(self, which: int, data: st.DataObject) -> None:
        """An invalid initialize body gets 422 with a detail list and changes nothing."""
        sandbox = self._pick(which)
        body = data.draw(invalid_initialize_bodies(run_prefix=self.run_prefix), label="invalid body")
        response = self.klavis.post(f"{BASE}/{sandbox.sandbox_id}/initialize", json=body)
        label, source = f"POST {BASE}/{sandbox.sandbox_id}/initialize with an invalid body", \
            fact(KLAVIS, f"POST {BASE}/{{sandbox_id}}/initialize")
        answer = refused(response, 422, what=label, source=source)
        detail = answer.get("detail") if isinstance(answer, dict) else None
        require(isinstance(detail, list) and detail, f"{label}: the 422 has no detail list", received=answer,
                documented='{"detail": [{loc, msg, type, …}, …]}: a non-empty list', source=source)

    @rule(which=st.integers(0, HELD - 1))
    def reset(self, which: int) -> None:
        """Reset empties the sandbox and keeps it occupied."""
        sandbox = self._pick(which)
        self._settle_if_pending(sandbox)
        self._reset(sandbox)

    @rule(which=st.integers(0, HELD - 1))
    def dump(self, which: int) -> None:
        """Eventually the dump is ≈ the model, background items included."""
        self._settle(self._pick(which))

    @precondition(lambda self: len(self.held) == HELD and not self.released)
    @rule(which=st.integers(0, HELD - 1))
    def release(self, which: int) -> None:
        """Release answers 200 idle and the sandbox is idle afterwards."""
        sandbox = self.held.pop(which % len(self.held))
        self.released = True
        answer = expect(self.klavis.delete(f"{BASE}/{sandbox.sandbox_id}"), 200)
        _require_status(answer, "idle", f"DELETE {BASE}/{{sandbox_id}}", sandbox.sandbox_id, sandbox_id=sandbox.sandbox_id)
        details = expect(self.klavis.get(f"{BASE}/{sandbox.sandbox_id}"), 200)
        _require_status(details, "idle", f"GET {BASE}/{{sandbox_id}}", sandbox.sandbox_id, after="after the release")
        self.cleanup.forget("sandbox", sandbox.sandbox_id)

    @precondition(lambda self: len(self.held) < HELD)
    @rule()
    def acquire(self) -> None:
        """Acquire answers 201 (checked by new_sandbox) and the sandbox is occupied."""
        sandbox = Held(self.pool.take(1)[0])
        details = expect(self.klavis.get(f"{BASE}/{sandbox.sandbox_id}"), 200)
        _require_status(details, "occupied", f"GET {BASE}/{{sandbox_id}}", sandbox.sandbox_id, after="after acquire")
        self._reset(sandbox)
        self.held.append(sandbox)

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def dumps_match_models(self) -> None:
        for sandbox in self.held:
            self._check(sandbox, settled=not sandbox.pending)

    def teardown(self) -> None:
        """Hand the sandboxes on; background work still pending is let land first (not checked
        here: a live target need not cancel it on the next example's reset)."""
        for sandbox in self.held:
            if sandbox.pending:
                try:
                    self._settle(sandbox)
                except AssertionError:
                    pass  # the failing step already reported it, or the next example's checks will
        self.pool.give_back([sandbox.sandbox_id for sandbox in self.held])
