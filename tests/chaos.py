"""A misbehaving network between the suite and a target, for the project's own tests.

:class:`ChaosProxy` listens on 127.0.0.1 (a free port) and forwards HTTP/1.1 requests to an
upstream server, one upstream connection per request, adding ``latency`` to each. The first
``healthy`` requests always pass; after them every ``every``-th request meets the ``trouble``:

- ``"reset"``: the client's connection is reset (TCP RST) instead of an answer;
- ``"status"``: the proxy answers ``status`` itself (with ``Retry-After: retry_after`` when given);
- ``"truncate"``: the upstream answer is cut off halfway through its body, then the connection closed;
- ``"silent"``: the request is read and never answered (a target that stopped answering).

It never sends traffic anywhere but loopback; ``counts`` says what it did.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import Counter
from urllib.parse import urlsplit

TROUBLES = ("reset", "status", "truncate", "silent")


class ChaosProxy:
    def __init__(self, upstream: str, *, healthy: int = 0, trouble: str = "reset", every: int = 1,
                 status: int = 503, retry_after: str | None = None, latency: float = 0.0) -> None:
        if trouble not in TROUBLES:
            raise ValueError(f"trouble must be one of {TROUBLES}")
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.healthy, self.trouble, self.every = healthy, trouble, every
        self.status, self.retry_after, self.latency = status, retry_after, latency
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
        return beyond > 0 and beyond % self.every == 0

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
        return answer


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip() or 0)
    return 0
