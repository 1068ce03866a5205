"""The suite's one HTTP layer: httpx clients that authenticate for their API, keep to the
target's rate limit and record every exchange, with keys redacted.

The recording and the rate limit live in an httpx *transport* (:class:`RecordingTransport`), so
any ``httpx.Client`` built on it (the suite's own, or one handed to an SDK) records the same
way. A failing test shows the exchanges of the current test (see the plugin), never a key.
"""

from __future__ import annotations

import json
import shlex
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate

from conformance import liveness, retries
from conformance.targets import ApiTarget
from conformance.apis import APIS, BY_SCHEME, REDACTED, UNSERVED
from conformance.verdicts import TargetBroken

SENSITIVE_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "cookie", "set-cookie", "proxy-authorization"})
_BODY_LIMIT = 4000  # characters of a body shown in a rendered exchange
_REQUEST_LIMIT = 1_000_000  # a request body is kept whole up to this, for the curl reproducer
_RESPONSE_LIMIT = 20_000
_UNSHOWN_HEADERS = frozenset({"host", "accept-encoding", "connection", "content-length", "user-agent", "accept"})
_RATE_UNITS = {"s": Duration.SECOND, "m": Duration.MINUTE, "h": Duration.HOUR}  # of a rate limit, "60/m"


@dataclass(frozen=True)
class Exchange:
    """One request and what came back (or the transport error), already redacted.

    The one record of an exchange, whichever client sent it (:meth:`of_httpx` for the suite's
    clients and the SDKs', :meth:`of_requests` for schemathesis). The request body is kept whole
    (up to :data:`_REQUEST_LIMIT`) so that :meth:`curl` reproduces it; rendering shortens it.
    """

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    request_body: str
    status: int | None
    response_body: str
    elapsed: float
    error: str | None = None

    @classmethod
    def of_httpx(cls, request: httpx.Request, response: httpx.Response | None, elapsed: float,
                 secrets: tuple[str, ...], error: str | None = None) -> Exchange:
        return cls(request.method, redact(str(request.url), secrets), _headers(request.headers.items(), secrets),
                   _body(request.read(), secrets, _REQUEST_LIMIT),
                   None if response is None else response.status_code,
                   "" if response is None else _body(response.read(), secrets), elapsed,
                   None if error is None else redact(error, secrets))

    @classmethod
    def of_requests(cls, response: Any, secrets: tuple[str, ...]) -> Exchange:
        """A ``requests`` response (schemathesis sends with requests)."""
        request = response.request
        elapsed = response.elapsed.total_seconds() if hasattr(response.elapsed, "total_seconds") else response.elapsed
        return cls(request.method, redact(request.url, secrets), _headers(request.headers.items(), secrets),
                   _body(request.body or b"", secrets, _REQUEST_LIMIT), response.status_code,
                   _body(response.content, secrets), float(elapsed))

    def render(self) -> str:
        lines = [f"> {self.method} {self.url}"]
        lines += [f"> {name}: {value}" for name, value in self.request_headers]
        if self.request_body:
            lines.append(_indent(_shortened(_pretty(self.request_body)), "> "))
        if self.error is not None:
            lines.append(f"< transport error after {self.elapsed:.3f}s: {self.error}")
        else:
            lines.append(f"< {self.status} ({self.elapsed:.3f}s)")
            if self.response_body:
                lines.append(_indent(_shortened(_pretty(self.response_body)), "< "))
        return "\n".join(lines)

    def curl(self) -> str:
        """A shell command that sends this request again; the key comes from its environment variable."""
        parts = [f"curl -sS -X {self.method} {shlex.quote(self.url)}"]
        for name, value in self.request_headers:
            scheme, _, credential = value.partition(" ")
            if name.lower() == "authorization" and credential == REDACTED and scheme in BY_SCHEME:
                parts.append(f'-H "{name}: {scheme} ${BY_SCHEME[scheme].key_variable}"')
            else:
                parts.append(f"-H {shlex.quote(f'{name}: {value}')}")
        if self.request_body:
            parts.append(f"--data-raw {shlex.quote(self.request_body)}")
        return " \\\n  ".join(parts)


def _headers(items: Any, secrets: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Headers worth showing, credentials redacted (an Authorization header keeps its scheme)."""
    shown = []
    for name, value in items:
        lowered = name.lower()
        if lowered in _UNSHOWN_HEADERS:
            continue
        if lowered in SENSITIVE_HEADERS:
            scheme = str(value).partition(" ")[0]
            value = f"{scheme} {REDACTED}" if lowered == "authorization" and scheme in BY_SCHEME else REDACTED
        shown.append((name, redact(str(value), secrets)))
    return tuple(shown)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except ValueError:
        return text


def _shortened(text: str) -> str:
    return text if len(text) <= _BODY_LIMIT else f"{text[:_BODY_LIMIT]}\n... ({len(text) - _BODY_LIMIT} more characters)"


class Recorder:
    """The most recent exchanges (bounded), cleared at the start of each test."""

    def __init__(self, limit: int = 30) -> None:
        self._exchanges: deque[Exchange] = deque(maxlen=limit)
        self._total = 0
        self._lock = threading.Lock()

    def record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)
            self._total += 1

    def clear(self) -> None:
        with self._lock:
            self._exchanges.clear()
            self._total = 0

    def __iter__(self) -> Iterator[Exchange]:
        with self._lock:
            return iter(list(self._exchanges))

    def __len__(self) -> int:
        return len(self._exchanges)

    def render(self) -> str:
        exchanges = list(self)
        if not exchanges:
            return ""
        skipped = self._total - len(exchanges)
        head = f"({skipped} earlier exchanges not shown)\n\n" if skipped else ""
        return head + "\n\n".join(e.render() for e in exchanges)


class RateLimiter:
    """Keeps to a target's rate limit, ``"N/s"``, ``"N/m"`` or ``"N/h"``, with pyrate-limiter.

    A sliding window in memory, shared by the threads of one process: :meth:`wait` blocks until
    the request fits (up to the whole window, e.g. an hour). Requests are not spaced evenly: up
    to the rate may go at once, then the next waits until the oldest leaves the window, which is
    what a platform's "N per minute" means. ``share`` processes (xdist workers) test the same
    target at once, each keeping to its share: ``N // share`` per unit, so together never more
    than N; when ``share > N`` a worker gets one request per ``share / N`` units (N per unit on
    average, though two workers may then both go within one unit). ``None``: no limit, no cost.
    """

    def __init__(self, rate: str | None, *, share: int = 1) -> None:
        self.rate = rate
        self._limiter: Limiter | None = None
        if not rate:
            return
        count, _, unit = rate.partition("/")
        if not (count.isascii() and count.isdigit()) or int(count) < 1 or unit not in _RATE_UNITS:
            raise ValueError(f"a rate limit looks like '60/m' (at least 1, per s, m or h), not {rate!r}")
        n, share, window = int(count), max(share, 1), _RATE_UNITS[unit].value  # window in ms
        own = Rate(n // share, window) if n >= share else Rate(1, -(-window * share // n))
        self._limiter = Limiter(InMemoryBucket([own]))

    def wait(self) -> None:
        if self._limiter is None:
            return
        if not self._limiter.try_acquire("request"):  # blocking, no timeout: False only if it can never fit
            raise RuntimeError(f"the rate limit {self.rate!r} refused a request outright")


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _body(content: bytes | str, secrets: tuple[str, ...], limit: int = _RESPONSE_LIMIT) -> str:
    """A body as text, keys redacted, JSON compact (as sent), cut at ``limit`` characters."""
    if not content:
        return ""
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    text = redact(text, secrets)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


def record_exchange(recorder: Recorder, request: httpx.Request, response: httpx.Response | None, started: float,
                    secrets: tuple[str, ...], exc: Exception | None = None) -> None:
    """Record one exchange of an httpx transport (sync or async) that began at ``started`` (monotonic):
    its read answer, or the transport error ``exc``."""
    recorder.record(Exchange.of_httpx(request, response, time.monotonic() - started, secrets,
                                      error=None if exc is None else f"{type(exc).__name__}: {exc}"))


class RecordingTransport(httpx.BaseTransport):
    """Wraps a transport: waits for the rate limit, then records the exchange into ``recorder``."""

    def __init__(
        self,
        recorder: Recorder,
        *,
        secrets: tuple[str, ...] = (),
        limiter: RateLimiter | None = None,
        inner: httpx.BaseTransport | None = None,
        watched: bool = True,
    ) -> None:
        self.recorder = recorder
        self.secrets = tuple(s for s in secrets if s)
        self.limiter = limiter or RateLimiter(None)
        self.inner = inner or httpx.HTTPTransport()
        self.watched = watched  # answers and silences count for the run's liveness (conformance/liveness.py)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.watched:
            try:
                liveness.WATCH.check()
            except liveness.TargetSilent as exc:  # the target went silent: this request is not even sent
                raise httpx.ConnectError(str(exc), request=request) from exc
        self.limiter.wait()
        started = time.monotonic()
        try:
            response = self.inner.handle_request(request)
            response.read()
        except httpx.TransportError as exc:
            if self.watched:
                liveness.WATCH.unanswered(started)
            record_exchange(self.recorder, request, None, started, self.secrets, exc)
            raise
        if self.watched:
            liveness.WATCH.answered()
        record_exchange(self.recorder, request, response, started, self.secrets)
        return response

    def close(self) -> None:
        self.inner.close()


class _Client(httpx.Client):
    recording: RecordingTransport  # the transport that records, rate-limits and watches every attempt


def http_client(api: ApiTarget, recorder: Recorder, *, timeout: float | None = None, policies: Any = None,
                limiter: RateLimiter | None = None, watched: bool = True) -> _Client:
    """An httpx client for one API of a target, through the one HTTP layer: the key in the API's scheme, every
    attempt rate-limited and recorded into ``recorder`` (keys redacted), retried by the one policy (``policies``:
    another one of :mod:`conformance.retries`, such as the probes'), and watched for liveness unless the
    requests come before the run (``watched=False``: the preflight's, which stops the run on silence itself)."""
    recording = RecordingTransport(recorder, secrets=(api.key,), limiter=limiter or RateLimiter(api.rate_limit),
                                   watched=watched)
    client = _Client(base_url=api.url, headers={"Authorization": APIS[api.api].authorization(api.key)},
                     timeout=timeout or api.timeout, transport=retries.transport(recording, policies))
    client.recording = recording
    return client


class AsyncRecordingTransport(httpx.AsyncBaseTransport):
    """:class:`RecordingTransport` for asynchronous clients (an SDK's ``httpx.AsyncClient``): every exchange
    recorded, keys redacted."""

    def __init__(self, recorder: Recorder, secrets: tuple[str, ...]) -> None:
        self.recorder, self.secrets = recorder, tuple(secret for secret in secrets if secret)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        try:
            response = await self.inner.handle_async_request(request)
            await response.aread()
        except httpx.TransportError as exc:
            record_exchange(self.recorder, request, None, started, self.secrets, exc)
            raise
        record_exchange(self.recorder, request, response, started, self.secrets)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class ApiClient:
    """An httpx client for one API of a target: base URL, auth scheme, timeout, rate limit, recording.

    ``wait`` is the target's consistency wait (seconds): how long queued work may take to show.
    """

    def __init__(self, api: ApiTarget, recorder: Recorder, limiter: RateLimiter | None = None) -> None:
        self.api = api.api
        self.url = api.url
        self.wait = api.consistency_wait
        self.recorder = recorder
        self.http = http_client(api, recorder, limiter=limiter)
        self.transport = self.http.recording

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request (retried by :mod:`conformance.retries`); what outlasts the retries raises
        :class:`TargetBroken`: no answer (refused, reset, timed out, truncated) or a 429/502/503/504.
        """
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise TargetBroken(f"{method} {path}: {type(exc).__name__}: {redact(str(exc), self.transport.secrets)}",
                               operation=f"{method} {path}") from exc
        if response.status_code in UNSERVED:
            raise TargetBroken(f"{method} {path} answered {response.status_code} {response.reason_phrase}",
                               operation=f"{method} {path}")
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"ApiClient({self.api!r}, {self.url!r})"


def route_missing(response: httpx.Response) -> bool:
    """Whether the answer is that of a server without the route (not the API refusing the request)."""
    if response.status_code in (405, 501):
        return True
    if response.status_code != 404:
        return False
    try:
        body = response.json()
    except ValueError:
        return True  # an HTML or text page: the web server's, not the API's
    return body == {"detail": "Not Found"} or not isinstance(body, dict)  # Starlette's and FastAPI's own 404
