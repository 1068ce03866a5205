"""Small helpers the suite's tests and machines share: expectations on answers, bounded waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


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
