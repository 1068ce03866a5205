"""Small helpers the suite's tests and machines share: expectations on answers, bounded waits."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from conformance.verdicts import (  # eventually: the suite's bounded wait, defined beside require
    ContractViolation,
    Severity,
    Source,
    eventually,
    operation_source,
    require,
)

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


# What the API offers no way to delete: (method, path, kind, the answer's key that names it).
UNDELETABLE = (("POST", "/v1/exports/", "export job", "id"), ("POST", "/v1/memories/", "event", "event_id"),
               ("POST", "/v3/memories/add/", "event", "event_id"), ("POST", "/v1/feedback/", "feedback", "id"))


def track_undeletable(cleanup: Cleanup, method: str, path: str, answer: Any) -> None:
    """Register what an answer says the run created and cannot delete (export jobs, queued adds' events)."""
    for verb, where, kind, key in UNDELETABLE:
        if method.upper() == verb and path == where:
            items = answer.get("results", [answer]) if isinstance(answer, dict) else answer
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get(key), str):
                    cleanup.keep(kind, item[key])


def track_background_initialize(cleanup: Cleanup, path: str, sent: Any, *, default_data: bool) -> None:
    """A Klavis initialize with items processed in the background, on a target whose two APIs share one
    store: it queues a Mem0 add (FACTS.md mapping: ``background_processing`` is ``async_mode``, true by
    default), whose event the API offers no way to delete. Counted once per initialize."""
    if not re.fullmatch(r"/sandbox/mem0/[^/]+/initialize", path):
        return
    if default_data:  # the default data set: the initialize operation's documented example
        from conformance.specs import effective

        operation = effective("klavis")["paths"]["/sandbox/mem0/{sandbox_id}/initialize"]["post"]
        sent = operation["requestBody"]["content"]["application/json"]["examples"]["default"]["value"]
    items = sent.get("memory_list") if isinstance(sent, dict) else None
    if isinstance(items, list) and any(isinstance(item, dict) and item.get("background_processing") is not False
                                       for item in items):
        cleanup.keep("event", f"background work of {path} #{next(_INITIALIZES)}")


_INITIALIZES = itertools.count(1)


def track_webhook(cleanup: Cleanup, mem0: ApiClient, webhook_id: str) -> None:
    cleanup.add("webhook", webhook_id, lambda: mem0.delete(f"/api/v1/webhooks/{webhook_id}/"))


def _operation(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url.path}"


def _received(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:500]}".rstrip()


def answer_of(response: httpx.Response) -> Any:
    """The answer's JSON body, its text when it is not JSON, None when it is empty."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def expect(response: httpx.Response, *statuses: int, what: str = "", source: Source | None = None) -> Any:
    """The answer's body (see :func:`answer_of`) when its status is one of ``statuses``; else a
    :class:`ContractViolation` (a 5xx is one with severity blocker)."""
    __tracebackhide__ = True
    if response.status_code not in statuses:
        label = what or _operation(response)
        server_error = response.status_code >= 500
        raise ContractViolation(
            f"{label}: {'server error ' if server_error else ''}{response.status_code} instead of "
            f"{' or '.join(map(str, statuses))}",
            received=_received(response), documented=f"status {' or '.join(map(str, statuses))}",
            source=source or operation_source(_operation(response)),
            severity=Severity.BLOCKER if server_error else Severity.NORMAL,
            request=(response.request.method, str(response.request.url)),
        )
    return answer_of(response)


def expect_error(response: httpx.Response, what: str = "", source: Source | None = None) -> Any:
    """A 4xx answer with a non-empty body (Mem0: ``error``/``detail``; Klavis: ``detail``); its body."""
    __tracebackhide__ = True
    label = what or _operation(response)
    request = (response.request.method, str(response.request.url))
    source = source or operation_source(_operation(response))
    if not 400 <= response.status_code < 500:
        server_error = response.status_code >= 500
        raise ContractViolation(
            f"{label}: {response.status_code} instead of a 4xx refusal", received=_received(response),
            documented="a 4xx refusal with an error body", source=source, request=request,
            severity=Severity.BLOCKER if server_error else Severity.CRITICAL if response.is_success else Severity.NORMAL,
        )
    require(response.content.strip(), f"{label}: the {response.status_code} refusal has an empty body",
            received=_received(response), documented="a non-empty error body", source=source)
    return answer_of(response)


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
