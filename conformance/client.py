"""The suite's one HTTP layer: httpx clients that authenticate for their API, keep to the
target's rate limit and record every exchange, with keys redacted.

The recording and the rate limit live in an httpx *transport* (:class:`RecordingTransport`), so
any ``httpx.Client`` built on it (the suite's own, or one handed to an SDK) records the same
way. A failing test shows the exchanges of the current test (see the plugin), never a key.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.targets import ApiTarget

REDACTED = "[redacted]"
SENSITIVE_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "cookie", "set-cookie", "proxy-authorization"})
SCHEMES = {"mem0": "Token", "klavis": "Bearer"}  # Mem0 wants "Token <key>", Klavis "Bearer <key>"
_BODY_LIMIT = 4000


@dataclass(frozen=True)
class Exchange:
    """One request and what came back (or the transport error), already redacted."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    request_body: str
    status: int | None
    response_body: str
    elapsed: float
    error: str | None = None

    def render(self) -> str:
        lines = [f"> {self.method} {self.url}"]
        lines += [f"> {name}: {value}" for name, value in self.request_headers]
        if self.request_body:
            lines.append(_indent(self.request_body, "> "))
        if self.error is not None:
            lines.append(f"< transport error after {self.elapsed:.3f}s: {self.error}")
        else:
            lines.append(f"< {self.status} ({self.elapsed:.3f}s)")
            if self.response_body:
                lines.append(_indent(self.response_body, "< "))
        return "\n".join(lines)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


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
    """Spaces requests evenly to stay within ``"N/s"``, ``"N/m"`` or ``"N/h"``; shared by threads.

    ``share`` processes (xdist workers) test the same target at once: each keeps to its share.
    """

    _UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}

    def __init__(self, rate: str | None, *, share: int = 1) -> None:
        if rate:
            count, unit = rate.split("/")
            self.interval = self._UNITS[unit] / int(count) * max(share, 1)
        else:
            self.interval = 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _body(content: bytes, secrets: tuple[str, ...]) -> str:
    if not content:
        return ""
    try:
        text = json.dumps(json.loads(content), ensure_ascii=False, indent=2)
    except ValueError:
        text = content.decode("utf-8", errors="replace")
    text = redact(text, secrets)
    return text if len(text) <= _BODY_LIMIT else f"{text[:_BODY_LIMIT]}\n... ({len(text) - _BODY_LIMIT} more characters)"


class RecordingTransport(httpx.BaseTransport):
    """Wraps a transport: waits for the rate limit, then records the exchange into ``recorder``."""

    def __init__(
        self,
        recorder: Recorder,
        *,
        secrets: tuple[str, ...] = (),
        limiter: RateLimiter | None = None,
        inner: httpx.BaseTransport | None = None,
    ) -> None:
        self.recorder = recorder
        self.secrets = tuple(s for s in secrets if s)
        self.limiter = limiter or RateLimiter(None)
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.limiter.wait()
        request_body = _body(request.read(), self.secrets)
        headers = tuple(
            (name, REDACTED if name.lower() in SENSITIVE_HEADERS else redact(value, self.secrets))
            for name, value in request.headers.items()
            if name.lower() not in ("host", "accept-encoding", "connection", "content-length", "user-agent", "accept")
        )
        url = redact(str(request.url), self.secrets)
        started = time.monotonic()
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError as exc:
            self.recorder.record(Exchange(request.method, url, headers, request_body, None, "",
                                          time.monotonic() - started, f"{type(exc).__name__}: {exc}"))
            raise
        content = response.read()
        self.recorder.record(Exchange(request.method, url, headers, request_body, response.status_code,
                                      _body(content, self.secrets), time.monotonic() - started))
        return httpx.Response(response.status_code, headers=response.headers, content=content,
                              request=request, extensions=response.extensions)

    def close(self) -> None:
        self.inner.close()


class ApiClient:
    """An httpx client for one API of a target: base URL, auth scheme, timeout, rate limit, recording.

    ``wait`` is the target's consistency wait (seconds): how long queued work may take to show.
    """

    def __init__(self, api: ApiTarget, recorder: Recorder, limiter: RateLimiter | None = None) -> None:
        self.api = api.api
        self.url = api.url
        self.wait = api.consistency_wait
        self.recorder = recorder
        self.transport = RecordingTransport(recorder, secrets=(api.key,), limiter=limiter or RateLimiter(api.rate_limit))
        self.http = httpx.Client(
            base_url=api.url,
            headers={"Authorization": f"{SCHEMES[api.api]} {api.key}"},
            timeout=api.timeout,
            transport=self.transport,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

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
