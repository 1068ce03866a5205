"""The retry policy of every request the suite sends: bounded, honouring ``Retry-After``.

- Idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) are retried after no answer (connection
  refused or reset, timeout, truncated body) and after 429, 502, 503 and 504.
- A POST that only reads (a v2/v3 list or search, an export lookup, a summary: :data:`READING_POSTS`) is
  retried like them by the suite's own clients.
- Other requests (POST, PATCH) are retried only after 429 and 503, answers that say the request
  was not processed; anything else could repeat a change.
- At most :data:`ATTEMPTS` retries per request, waiting ``Retry-After`` when the answer gives it,
  else an exponential backoff, never longer than :data:`MAX_WAIT` seconds at a time.

What outlasts the policy reaches the test: no answer or a 429/502/503/504 then makes the
test *broken* (:class:`conformance.verdicts.TargetBroken`), not failed.

The suite's own clients (httpx) use ``httpx-retries``; schemathesis's ``requests`` session uses
urllib3's ``Retry``, the same policy in each library's terms.
"""

from __future__ import annotations

import time

import httpx
import requests
import urllib3
from httpx_retries import Retry, RetryTransport

from conformance import liveness
from conformance.apis import UNSERVED

ATTEMPTS = 3
BACKOFF = 0.5  # seconds, doubled per attempt
MAX_WAIT = 30.0  # a longer Retry-After is cut to this
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
NOT_PROCESSED = frozenset({429, 503})  # the only answers after which a POST or PATCH is sent again
READING_POSTS = frozenset({"/v2/memories/", "/v3/memories/", "/v1/memories/search/", "/v2/memories/search/",
                           "/v3/memories/search/", "/v1/exports/get", "/v1/exports/get/", "/v1/summary/"})


def _policies(attempts: int, backoff: float) -> tuple[Retry, Retry, Retry]:
    """The policies for idempotent requests, reading POSTs and changing requests."""
    common = {"total": attempts, "backoff_factor": backoff, "max_backoff_wait": MAX_WAIT}
    return (Retry(allowed_methods=IDEMPOTENT, status_forcelist=UNSERVED, retry_on_exceptions=[httpx.TransportError],
                  **common),
            Retry(allowed_methods={"POST"}, status_forcelist=UNSERVED, retry_on_exceptions=[httpx.TransportError],
                  **common),
            Retry(allowed_methods={"POST", "PATCH"}, status_forcelist=NOT_PROCESSED,
                  retry_on_exceptions=[httpx.ConnectError], **common))


IDEMPOTENT_POLICY, READING_POLICY, CHANGING_POLICY = _policies(ATTEMPTS, BACKOFF)
PROBING = _policies(1, 0.2)  # capability probes: one quick retry; no answer leaves a capability assumed


def policy_of(method: str, path: str, policies: tuple[Retry, Retry, Retry] | None = None) -> Retry:
    idempotent, reading, changing = policies or (IDEMPOTENT_POLICY, READING_POLICY, CHANGING_POLICY)
    if method in IDEMPOTENT:
        return idempotent
    return reading if method == "POST" and path in READING_POSTS else changing


class _PolicyByMethod(httpx.BaseTransport):
    """httpx-retries' transport, given per request the policy of its method."""

    def __init__(self, inner: httpx.BaseTransport, policies: tuple[Retry, Retry, Retry] | None = None) -> None:
        self.inner = RetryTransport(inner, retry=IDEMPOTENT_POLICY)
        self.policies = policies

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions.setdefault("retry", policy_of(request.method, request.url.path, self.policies))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def transport(inner: httpx.BaseTransport, policies: tuple[Retry, Retry, Retry] | None = None) -> httpx.BaseTransport:
    """``inner`` behind the policy (every attempt goes through ``inner``); ``policies`` (e.g. :data:`PROBING`)
    replace the suite's own."""
    return _PolicyByMethod(inner, policies)


class _UrllibPolicy(urllib3.Retry):
    """urllib3's Retry with the same rule for requests that change something."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() not in IDEMPOTENT:
            return bool(self.total) and status_code in NOT_PROCESSED
        return super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, MAX_WAIT)


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, reporting each request's answer (or its absence) to :mod:`conformance.liveness`."""

    def send(self, request, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - requests' own signature
        try:
            liveness.WATCH.check()
        except liveness.TargetSilent as exc:
            raise requests.ConnectionError(str(exc), request=request) from exc
        started = time.monotonic()
        try:
            response = super().send(request, *args, **kwargs)
        except (requests.ConnectionError, requests.Timeout):
            liveness.WATCH.unanswered(started)
            raise
        liveness.WATCH.answered()
        return response


def mount(session: requests.Session) -> requests.Session:
    """``session`` (schemathesis's) with the policy on http and https."""
    policy = _UrllibPolicy(total=ATTEMPTS, connect=ATTEMPTS, read=ATTEMPTS, status=ATTEMPTS, other=0,
                           allowed_methods=IDEMPOTENT, status_forcelist=UNSERVED, backoff_factor=BACKOFF,
                           backoff_max=MAX_WAIT, respect_retry_after_header=True, raise_on_status=False)
    adapter = _WatchedAdapter(max_retries=policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
