"""A misbehaving network between the suite and a target, for the project's own tests.

:class:`ChaosProxy` listens on 127.0.0.1 (a free port) and forwards HTTP/1.1 requests to an
upstream server, one upstream connection per request, adding ``latency`` to each. The first
``healthy`` requests always pass; after them every ``every``-th request meets the ``trouble``
(None: none):

- ``"reset"``: the client's connection is reset (TCP RST) instead of an answer;
- ``"status"``: the proxy answers ``status`` itself (with ``Retry-After: retry_after`` when given);
- ``"truncate"``: the upstream answer is cut off halfway through its body, then the connection closed;
- ``"silent"``: the request is read and never answered (a target that stopped answering).

With ``rewrite``, every JSON body the upstream answers (not a chunked or encoded one) is passed
through it and the answer's Content-Length set to match: a target that shows its data otherwise
(fields left out, say). With ``missing``, requests whose path starts with one of
those prefixes get the 404 of a server without the route (``{"detail": "Not Found"}``): a target
that lacks operations (a seed-only Mem0, say). It never sends traffic anywhere but loopback; ``counts`` says what it did
(``rewritten``: the answers whose body ``rewrite`` changed).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

TROUBLES = ("reset", "status", "truncate", "silent")


class ChaosProxy:
    def __init__(self, upstream: str, *, healthy: int = 0, trouble: str | None = "reset", every: int = 1,
                 status: int = 503, retry_after: str | None = None, latency: float = 0.0,
                 rewrite: Callable[[bytes], bytes] | None = None, missing: tuple[str, ...] = ()) -> None:
        if trouble is not None and trouble not in TROUBLES:
            raise ValueError(f"trouble must be one of {TROUBLES}")
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.healthy, self.trouble, self.every = healthy, trouble, every
        self.status, self.retry_after, self.latency = status, retry_after, latency
        self.rewrite = rewrite
        self.missing = tuple(prefix.encode() for prefix in missing)
        self.requests = 0
        self.counts: Counter[str] = Counter()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="chaos-proxy")
        self._server: asyncio.AbstractServer | None = None
        self.url = ""

    @property
    def resets(self) -> int:
        return self.counts["reset"]

    def __enter__(self) -> ChaosProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop).result(10)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        async def stop() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _troubled(self) -> bool:
        self.requests += 1
        beyond = self.requests - self.healthy
        return self.trouble is not None and beyond > 0 and beyond % self.every == 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (asyncio.CancelledError, ConnectionError):
            pass  # the proxy stops, or the client went away
        finally:
            if not writer.transport.is_closing():
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            body = await reader.readexactly(_content_length(head))
            if self.latency:
                await asyncio.sleep(self.latency)
            if self._troubled():
                self.counts[self.trouble] += 1
                if not await self._misbehave(writer, head, body):
                    return
                continue
            if self.missing and head.split(b" ", 2)[1].startswith(self.missing):
                self.counts["missing"] += 1
                text = b'{"detail": "Not Found"}'
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(text) + text)
                await writer.drain()
                continue
            self.counts["forwarded"] += 1
            writer.write(await self._forward(head, body))
            await writer.drain()

    async def _misbehave(self, writer: asyncio.StreamWriter, head: bytes, body: bytes) -> bool:
        """Answer badly; True when the connection stays usable."""
        if self.trouble == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if self.trouble == "silent":
            await asyncio.Event().wait()  # until the proxy stops
        if self.trouble == "truncate":
            answer = await self._forward(head, body)
            cut = answer.index(b"\r\n\r\n") + 4 + (len(answer) - answer.index(b"\r\n\r\n") - 4) // 2
            writer.write(answer[:cut])
            await writer.drain()
            writer.close()
            return False
        retry = f"Retry-After: {self.retry_after}\r\n" if self.retry_after is not None else ""
        text = b'{"detail": "the proxy says: try again later"}'
        writer.write(f"HTTP/1.1 {self.status} Unavailable\r\nContent-Type: application/json\r\n{retry}"
                     f"Content-Length: {len(text)}\r\n\r\n".encode() + text)
        await writer.drain()
        return True

    async def _forward(self, head: bytes, body: bytes) -> bytes:
        lines = [line for line in head.split(b"\r\n") if line and not line.lower().startswith(b"connection:")]
        request = b"\r\n".join([*lines, b"Connection: close", b"", b""]) + body
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        upstream_writer.write(request)
        await upstream_writer.drain()
        answer = await upstream_reader.read()  # the upstream closes after one answer (Connection: close)
        upstream_writer.close()
        return self._rewritten(answer)

    def _rewritten(self, answer: bytes) -> bytes:
        """``answer`` with ``rewrite`` applied to its JSON body and the Content-Length to match."""
        head, found, body = answer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(b":") for line in lines[1:])}
        if (self.rewrite is None or not found or not body or b"json" not in headers.get(b"content-type", b"")
                or b"transfer-encoding" in headers or b"content-encoding" in headers):
            return answer
        changed = self.rewrite(body)
        if changed == body:
            return answer
        self.counts["rewritten"] += 1
        kept = [line for line in lines if line.partition(b":")[0].strip().lower() != b"content-length"]
        return b"\r\n".join([*kept, b"Content-Length: %d" % len(changed), b"", b""]) + changed


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip() or 0)
    return 0
