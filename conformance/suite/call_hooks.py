"""The schemathesis hooks of the suite: one active :class:`CallHooks` per schemathesis test.

schemathesis's ``before_call``/``after_call`` hooks are global; :func:`active` routes them to the
hooks of the test that runs. Before a call they rewrite the case for a live target
(:mod:`conformance.suite.live_scope`), steer positive cases to learned ids and entity-scoped
filters (:mod:`conformance.suite.learned`) and keep to the target's rate limit; after it they
record the exchange (keys redacted), stop the run on a target that does not serve the API, and
learn the ids the answer shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import schemathesis

from conformance.apis import UNSERVED
from conformance.client import Exchange, RateLimiter, Recorder
from conformance.suite.learned import SCOPED_FILTERS, Learned, address_learned, with_entity
from conformance.suite.live_scope import Scope, rewrite_case
from conformance.verdicts import TargetBroken


def _stateful(case: Any) -> bool:
    phase = getattr(getattr(case, "meta", None), "phase", None)
    return str(getattr(phase, "name", "")) == "stateful"


def _negative(case: Any) -> bool:
    """Whether schemathesis generated any part of ``case`` as negative data (an example is positive)."""
    meta = getattr(case, "meta", None)
    generation = getattr(meta, "generation", None)
    mode = getattr(generation, "mode", None)
    return bool(getattr(mode, "is_negative", False))


@dataclass
class CallHooks:
    """What the hooks do for the test that runs: rewrite (when ``scope``), rate-limit, record."""

    recorder: Recorder
    secrets: tuple[str, ...]
    limiter: RateLimiter
    scope: Scope | None = None  # None: the embedded server or allow_destructive, nothing rewritten
    on_created: Callable[[str, str, Any, Any], None] = lambda method, path, body, case: None
    filter_user: str | None = None  # the run-scoped user a generated positive filter without an entity gets
    learned: Learned | None = None  # ids the run's answers showed (learning goes on)
    picks: Learned | None = None  # what positive cases address: the ids learned before the test began, so that
    #                               Hypothesis replays a case against the same resource
    as_built: bool = False  # a success path's request (success_paths.py) goes out as built

    @contextmanager
    def sending_as_built(self, ids: set[str]) -> Iterator[None]:
        """Send a success path's request as its recipe built it: no learned ids put in, and its resource ids
        (which the run made through its own client) known to the scope as the run's own."""
        if self.scope is not None:
            self.scope.known.update(ids)
        self.as_built = True
        try:
            yield
        finally:
            self.as_built = False

    def before(self, case: Any) -> None:
        if self.scope is not None:
            rewrite_case(self.scope, case)
        if not _negative(case) and not self.as_built:
            if self.filter_user and isinstance(case.body, dict) and getattr(case, "path", "") in SCOPED_FILTERS:
                case.body = with_entity(case.body, self.filter_user)
            if self.picks is not None and not _stateful(case):  # the stateful phase follows its links
                address_learned(case, self.picks, self.scope)
        self.limiter.wait()

    def after(self, case: Any, response: Any) -> None:
        self.recorder.record(Exchange.of_requests(response, self.secrets))
        if response.status_code in UNSERVED:
            # schemathesis's own response (what its hooks get) names its reason phrase ``message``
            raise TargetBroken(f"{case.method} {case.formatted_path} answered {response.status_code} {response.message}",
                               operation=f"{case.method} {case.path}")
        try:  # schemathesis's response keeps what it parses: its checks read the same body without parsing it again
            body = response.json() if response.content else None
        except (ValueError, LookupError):  # not JSON, not in its declared encoding, or an encoding Python lacks
            body = None
        if self.scope is not None:
            self.scope.learn(case.method, response.status_code, body)
        if self.learned is not None and 200 <= response.status_code < 300:
            if case.method.upper() == "DELETE":
                self.learned.forget((case.path_parameters or {}).values())
            else:
                self.learned.learn(body, case.body)
        if 200 <= response.status_code < 300 and case.method.upper() == "POST":
            self.on_created(case.method, case.formatted_path, body, case)


_ACTIVE: list[CallHooks] = []


@contextmanager
def active(hooks: CallHooks) -> Iterator[CallHooks]:
    """Route schemathesis's calls through ``hooks`` while the block runs."""
    _ACTIVE.append(hooks)
    try:
        yield hooks
    finally:
        _ACTIVE.remove(hooks)


@schemathesis.hook
def before_call(context, case, kwargs) -> None:  # noqa: ARG001 - schemathesis's hook signature
    if _ACTIVE:
        _ACTIVE[-1].before(case)


@schemathesis.hook
def after_call(context, case, response) -> None:  # noqa: ARG001
    if _ACTIVE:
        _ACTIVE[-1].after(case, response)
