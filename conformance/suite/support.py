"""Small helpers the suite's tests and machines share: expectations on answers, bounded waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

if TYPE_CHECKING:
    from conformance.cleanup import Cleanup
    from conformance.client import ApiClient

T = TypeVar("T")


# What the run creates, with the one call that deletes each kind (registered with the cleanup).
def track_entity(cleanup: Cleanup, mem0: ApiClient, kind: str, name: str) -> None:
    """A run-prefixed user/agent/app/run: deleting the entity deletes its memories too."""
    cleanup.add(kind, name, lambda: mem0.delete(f"/v2/entities/{kind}/{name}/"))


def track_sandbox(cleanup: Cleanup, klavis: ApiClient, sandbox_id: str) -> None:
    """An acquired Klavis sandbox: released (which empties it) at the end of the run."""
    cleanup.add("sandbox", sandbox_id, lambda: klavis.delete(f"/sandbox/mem0/{sandbox_id}"))


def track_webhook(cleanup: Cleanup, mem0: ApiClient, webhook_id: str) -> None:
    cleanup.add("webhook", webhook_id, lambda: mem0.delete(f"/api/v1/webhooks/{webhook_id}/"))


def expect(response: httpx.Response, *statuses: int, what: str = "") -> Any:
    """Assert the answer's status is one of ``statuses``; return its JSON body (or None)."""
    request = response.request
    label = what or f"{request.method} {request.url.path}"
    assert response.status_code in statuses, (
        f"{label}: expected {' or '.join(map(str, statuses))}, got {response.status_code}: {response.text[:500]}"
    )
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def expect_error(response: httpx.Response, what: str = "") -> Any:
    """A 4xx answer with a non-empty body (Mem0: ``error``/``detail``; Klavis: ``detail``)."""
    request = response.request
    label = what or f"{request.method} {request.url.path}"
    assert 400 <= response.status_code < 500, f"{label}: expected a 4xx refusal, got {response.status_code}: {response.text[:500]}"
    assert response.content.strip(), f"{label}: the {response.status_code} refusal has an empty body"
    return response.json() if response.headers.get("content-type", "").startswith("application/json") else response.text


def eventually(check: Callable[[], T], *, within: float, what: str, interval: float = 0.05) -> T:
    """Call ``check`` until it returns without an AssertionError, for at most ``within`` seconds.

    Models eventual consistency: the target file's ``consistency_wait`` bounds the wait, so a
    target that never gets there fails with the last assertion, never hangs.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            return check()
        except AssertionError as exc:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{what}: still not true after {within:g}s: {exc}") from None
        time.sleep(interval)
        interval = min(interval * 2, 1.0)


class Patience:
    """Bounded waits for one test, that get shorter once the target has missed one.

    The first waits last the target's full consistency wait. After one ran out the test has
    failed already, and Hypothesis replays and shrinks the failing program many times; waiting
    in full on every replay would turn one failure into minutes. Later waits therefore last
    ``after_miss`` of the full wait (a tenth by default: still long enough for a target that
    settles, so a replay does not fail from plain lag).
    """

    def __init__(self, within: float, *, after_miss: float = 0.1) -> None:
        self.within = within
        self.after_miss = after_miss
        self.ran_out = False

    def wait(self, check: Callable[[], T], *, what: str) -> T:
        """``check()`` once it passes; else ``check``'s own last failure, with a note of the wait
        (so that the same failure found here and by an invariant is one failure to Hypothesis)."""
        within = self.within * self.after_miss if self.ran_out else self.within
        try:
            return eventually(check, within=within, what=what)
        except AssertionError:
            self.ran_out = True
        try:
            return check()
        except AssertionError as exc:
            exc.add_note(f"{what}: still not true after waiting {within:g}s")
            raise
