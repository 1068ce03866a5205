"""A misbehaving network between the suite and a target, for the project's own tests.

:class:`ChaosProxy` listens on 127.0.0.1 (a free port) and forwards HTTP/1.1 requests to an
upstream server, one upstream connection per request. After ``healthy`` requests it stops
behaving: ``"reset"`` resets the client's connection (TCP RST) instead of answering. It stands
in for a target whose network fails mid-run; it never sends traffic anywhere but loopback.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from urllib.parse import urlsplit


class ChaosProxy:
    def __init__(self, upstream: str, *, healthy: int, mode: str = "reset") -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.healthy = healthy
        self.mode = mode
        self.requests = 0
        self.resets = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="chaos-proxy")
        self._server: asyncio.AbstractServer | None = None
        self.url = ""

    def __enter__(self) -> ChaosProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop).result(10)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                body = await reader.readexactly(_content_length(head))
                self.requests += 1
                if self.requests > self.healthy:
                    self._reset(writer)
                    return
                writer.write(await self._forward(head, body))
                await writer.drain()
        finally:
            if not writer.transport.is_closing():
                writer.close()

    def _reset(self, writer: asyncio.StreamWriter) -> None:
        self.resets += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

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
