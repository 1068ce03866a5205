"""Verdicts: one shape for every failed expectation, and the rules that grade a test.

- :class:`ContractViolation` is the one failure of the suite: the target's answer contradicts
  the contract. It says what was received, what the contract says, where the contract says it
  (an operation of an effective document and its JSON pointer, or a FACTS.md entry) and how
  severe it is. It is an ``AssertionError``, so Hypothesis shrinks it and bounded waits retry it.
- :class:`TargetBroken` is the target or the network misbehaving (connection refused or reset,
  timeout, a truncated body, 429/502/503/504 that outlast the retry policy, a test over its time
  bound): the expectation could not be judged.
- :func:`classify` grades an exception: ``failed``, ``broken`` or ``error`` (a bug of the suite
  itself: anything else).

A test's verdict is one of :data:`VERDICTS`; ``deviation`` is a known deviation of the target
(a strict xfail), ``error`` is reserved for bugs of the suite.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

PASSED, FAILED, BROKEN, SKIPPED, DEVIATION, ERROR = "passed", "failed", "broken", "skipped", "deviation", "error"
VERDICTS = (PASSED, FAILED, BROKEN, DEVIATION, SKIPPED, ERROR)
TIMEOUT_MESSAGE = "Timeout (>"  # how pytest-timeout's failure of a test over its bound begins
OVER_BOUND = "the test ran over its time bound"  # what the target broken says of such a failure


class Severity(enum.StrEnum):
    """Allure's severities: how much a violation matters to a client of the API."""

    BLOCKER = "blocker"  # the API cannot be used: server errors, authentication bypassed
    CRITICAL = "critical"  # data is lost, leaked or changed against the contract
    NORMAL = "normal"  # a documented status, shape or rule is not kept
    MINOR = "minor"  # a detail a careful client can work around


@dataclass(frozen=True)
class Source:
    """Where the contract says it: an operation (and its pointer) and/or a FACTS.md entry."""

    operation: str | None = None  # "PUT /v1/batch/"
    pointer: str | None = None  # "mem0.openapi.json#/paths/~1v1~1batch~1/put"
    fact: str | None = None  # a heading of specs/FACTS.md, e.g. "Batch"

    def __str__(self) -> str:
        parts = [f"{self.operation} ({self.pointer})" if self.pointer else self.operation or "",
                 f'FACTS.md "{self.fact}"' if self.fact else ""]
        return "; ".join(part for part in parts if part) or "the suite's reading of the documents"


def fact(heading: str, operation: str | None = None) -> Source:
    """A FACTS.md entry as the source, optionally with the operation it is about."""
    return _with_operation(Source(fact=heading), operation)


def operation_source(label: str, *, fact: str | None = None) -> Source:
    """``METHOD /path`` (a template or a concrete path) as the source, with its pointer when known."""
    return _with_operation(Source(fact=fact), label)


def _with_operation(source: Source, label: str | None) -> Source:
    if not label:
        return source
    from conformance.specs import find_operation

    method, _, path = label.partition(" ")
    found = find_operation(method, path.split("?")[0])
    if found is None:
        return Source(operation=label, fact=source.fact)
    return Source(operation=found.label, pointer=found.pointer, fact=source.fact)


def _show(value: Any, limit: int = 600) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def _difference(received: Any, documented: Any, limit: int = 200) -> str:
    """Where two objects differ, key by key with both values: what a shortened ``received`` can cut off."""
    if not isinstance(received, dict) or not isinstance(documented, dict) or received == documented:
        return ""
    keys = [key for key in dict.fromkeys([*documented, *received]) if received.get(key, _MISSING) != documented.get(key, _MISSING)]
    return "\n".join(f"{key}: {_show(received.get(key, '(absent)'), limit)} instead of "
                     f"{_show(documented.get(key, '(absent)'), limit)}" for key in keys[:20])


_MISSING = object()


class ContractViolation(AssertionError):
    """The target's answer contradicts the contract: a failed expectation, in one shape."""

    def __init__(self, title: str, *, received: Any, documented: Any, source: Source | None = None,
                 severity: Severity = Severity.NORMAL, request: tuple[str, str] | None = None) -> None:
        self.title = title
        self.received = received
        self.documented = documented
        self.source = source or Source()
        self.severity = Severity(severity)
        self.request = request  # (method, url) of the request whose answer this is about, when one is
        super().__init__(self.render())

    def render(self) -> str:
        fields = (("difference", _difference(self.received, self.documented)), ("received", _show(self.received)),
                  ("documented", _show(self.documented)), ("source", str(self.source)), ("severity", str(self.severity)))
        fields = tuple((name, value) for name, value in fields if value)
        return "\n".join([self.title, *(f"  {name + ':':<12}" + value.replace("\n", "\n" + " " * 14)
                                         for name, value in fields)])

    @property
    def operation(self) -> str | None:
        return self.source.operation


class TargetBroken(Exception):
    """The target or the network misbehaved, so the expectation could not be judged."""

    def __init__(self, cause: str, *, operation: str | None = None) -> None:
        self.cause = cause
        self.operation = operation
        super().__init__(f"the target or the network misbehaved: {cause}")


def require(condition: Any, title: str, *, received: Any, documented: Any, source: Source | None = None,
            severity: Severity = Severity.NORMAL) -> None:
    """Raise a :class:`ContractViolation` unless ``condition`` holds."""
    __tracebackhide__ = True
    if not condition:
        raise ContractViolation(title, received=received, documented=documented, source=source, severity=severity)


# --- grading exceptions ----------------------------------------------------------------------------

def _network_errors() -> tuple[type[BaseException], ...]:
    import httpx
    import requests

    return (httpx.TransportError, requests.ConnectionError, requests.Timeout,
            requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError,
            ConnectionError, TimeoutError)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the exceptions it was raised from or during, and the members of exception groups."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(getattr(current, "exceptions", ()) or ())
        todo.extend((current.__cause__, current.__context__))


def broken_cause(exc: BaseException) -> str | None:
    """Why ``exc`` says the target or the network misbehaved, or None."""
    import pytest

    network = _network_errors()
    for cause in causes(exc):
        if isinstance(cause, TargetBroken):
            return cause.cause
        if isinstance(cause, pytest.fail.Exception) and str(cause).startswith(TIMEOUT_MESSAGE):
            return f"{OVER_BOUND}: {cause}"
        if isinstance(cause, network):
            return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
    return None


def violations(exc: BaseException) -> list[ContractViolation]:
    return [cause for cause in causes(exc) if isinstance(cause, ContractViolation)]


def classify(exc: BaseException) -> str:
    """``failed`` (the contract), ``broken`` (target or network) or ``error`` (the suite itself).

    A violation anywhere in the exception wins over trouble on the way (a failing expectation
    found before the connection dropped is still a failure); a plain ``AssertionError`` of a
    test or a check is a failure too, and so is a failing example Hypothesis cannot replay
    (:func:`inconsistent`).
    """
    import pytest

    if violations(exc):
        return FAILED
    if broken_cause(exc) is not None:
        return BROKEN
    if any(isinstance(cause, (AssertionError, pytest.fail.Exception)) for cause in causes(exc)):
        return FAILED
    if inconsistent(exc):
        return FAILED
    return ERROR


def inconsistent(exc: BaseException) -> bool:
    """Hypothesis could not replay a failing example: the target answered the same steps differently.

    Hypothesis replays only after it saw a failure, so the failure was real once; what made the
    replay differ is the target's timing or state (a sandbox that keeps data after a reset, say).
    """
    from hypothesis.errors import Flaky, FlakyFailure

    return any(isinstance(cause, (Flaky, FlakyFailure)) for cause in causes(exc))


def hypothesis_notes(exc: BaseException) -> list[str]:
    """What Hypothesis added to the failure: the minimal example or program, the reproduction blob."""
    notes: list[str] = []
    for cause in causes(exc):
        # A note another cause already holds is left out (Hypothesis's program is on the failure and on what wraps
        # it), not a note repeated within one cause: a program's steps are one note each, and two steps may be alike.
        known = set(notes)
        notes += [note for note in map(_without_traceback, getattr(cause, "__notes__", ()) or ()) if note not in known]
    return notes


_NOT_REPRODUCED = "Failed to reproduce exception. Expected:"


def _without_traceback(note: str) -> str:
    """Hypothesis's "Failed to reproduce exception. Expected: <a whole traceback>" as one line: the
    exception it expected (the traceback is the suite's and the HTTP library's, not the target's)."""
    if not note.startswith(_NOT_REPRODUCED):
        return note
    lines = [line for line in note[len(_NOT_REPRODUCED):].splitlines() if line.strip()]
    return f"{_NOT_REPRODUCED} {lines[-1].strip() if lines else '(nothing)'}"


T = TypeVar("T")


def eventually(check: Callable[[], T], *, within: float, what: str, interval: float = 0.05) -> T:
    """Call ``check`` until it returns without an AssertionError, for at most ``within`` seconds.

    Models eventual consistency: the target file's ``consistency_wait`` bounds the wait, so a
    target that never gets there fails with the last assertion, never hangs.
    """
    __tracebackhide__ = True
    deadline = time.monotonic() + within
    while True:
        try:
            return check()
        except AssertionError as exc:
            if time.monotonic() >= deadline:
                exc.add_note(f"{what}: still not true after {within:g}s")
                raise
        time.sleep(interval)
        interval = min(interval * 2, 1.0)
