"""Serve an app with uvicorn, in the foreground (``serve``) or on a thread (tests, ``run``)."""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import Any

import uvicorn

# HTTP read and written by httptools (a dependency): the reference server answers the bench's mixed load 1.16 times
# as fast as on uvicorn's pure-Python h11, side by side (docs/performance.md). Every server here runs on it, the
# benchmark's trivial endpoint too.
HTTP = "httptools"


class BindError(OSError):
    """The server cannot listen where it was asked to; the message is one sentence naming host and port."""


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` (0: a free port), or a :class:`BindError` saying why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        raise BindError(f"cannot serve on {host}: the host name does not resolve") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise BindError(f"cannot serve on {host} port {port}: the port is in use") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise BindError(f"cannot serve on {host}: the address is not one of this machine's") from None
        if exc.errno == errno.EACCES:
            raise BindError(f"cannot serve on {host} port {port}: permission denied (ports below 1024 need privileges)") from None
        raise BindError(f"cannot serve on {host} port {port}: {exc.strerror or exc}") from None
    return sock


def serve_workers(settings_json: str, sock: socket.socket, workers: int, *, log_level: str = "info") -> None:
    """``workers`` uvicorn worker processes on one bound socket, each making its app from ``settings_json``
    (:func:`conformance.server.app.from_environment`), until interrupted."""
    import os

    from uvicorn.supervisors import Multiprocess

    from conformance.server.app import SETTINGS_VARIABLE

    os.environ[SETTINGS_VARIABLE] = settings_json
    config = uvicorn.Config("conformance.server.app:from_environment", factory=True, workers=workers, http=HTTP,
                            log_level=log_level)
    import inspect

    if "target" in inspect.signature(Multiprocess.__init__).parameters:  # uvicorn before 0.50 takes the target
        Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
    else:
        Multiprocess(config, sockets=[sock]).run()


def serve(app: Any, sock: socket.socket, *, log_level: str = "info") -> None:
    """Serve ``app`` with uvicorn on an already bound socket, in the foreground, until interrupted."""
    uvicorn.Server(uvicorn.Config(app, http=HTTP, log_level=log_level)).run(sockets=[sock])


class ServerThread:
    """uvicorn on a background thread, bound to 127.0.0.1 and a free port by default.

    Use as a context manager; ``url`` is known once it is entered.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(app, host=host, port=port, http=HTTP, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="reference-server", daemon=True)
        self.app = app
        self.failure: BaseException | None = None  # what ended the server's thread, said by start()

    def _run(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # noqa: BLE001 - a server that cannot start says why in start()
            self.failure = exc

    @property
    def url(self) -> str:
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                why = f": {type(self.failure).__name__}: {self.failure}" if self.failure is not None else ""
                raise RuntimeError(f"the reference server did not start{why}") from self.failure
            if time.monotonic() > deadline:
                raise RuntimeError(f"the reference server did not start within {timeout:g} s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
