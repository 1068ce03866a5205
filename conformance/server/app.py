"""The reference server's ASGI app: both APIs, routed from the effective documents."""

from __future__ import annotations

import hashlib
import logging
import os
from collections import defaultdict
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette._utils import get_route_path
from starlette.routing import Match, Route, Router

from conformance.server import faults as fault_catalog
from conformance.server.errors import ApiError, unauthorized
from conformance.server.operations import (
    Operation,
    load_operations,
    parse_request,
    route_sort_key,
)
from conformance.server.mutation import Planted
from conformance.server.registry import HANDLERS, Call, Reply, RequestHeaders
from conformance.server.settings import ServerSettings
from conformance.server.shared import SharedState
from conformance.server.store import Memo, Store

log = logging.getLogger("mem0_conformance.server")
AUTH_SCHEME = {"mem0": "Token", "klavis": "Bearer"}
ROUTE_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]

AUTH_ANY_TOKEN = fault_catalog.declare(
    "auth-any-token", "auth", "Any token with the right scheme is accepted, not only the configured key."
)


class MutantError(ValueError):
    """A mutant that cannot be planted: unknown, or asked of a state shared between processes."""


_NOTHING = nullcontext()  # reusable: it holds nothing


class ReferenceServer:
    """State shared by every request of one app: settings, store, the switched-on faults, the planted mutant."""

    def __init__(self, settings: ServerSettings, reads: dict[str, tuple[Operation, Any]] | None = None) -> None:
        self.settings = settings
        self.store = Store(processing_delay=settings.processing_delay)
        self.faults = fault_catalog.validate(settings.faults)
        self.shared = SharedState(Path(settings.state)) if settings.state else None
        self.reads = reads or {}  # GET operations by path, with their handlers (a mutant's pre-images)
        self.served = 0  # requests routed to an operation so far
        self.errors = 0  # requests that ended in an unhandled error (500): a bug of the reference server
        # Told of each such exchange: (operation, query items, raw body, reply), for the mutants' coverage index.
        self.observers: list[Callable[[Operation, list[tuple[str, str]], bytes, Reply], None]] = []
        self.planted: Planted | None = None
        self.set_mutant(settings.mutant)

    def set_mutant(self, mutant_id: str | None) -> Planted | None:
        """Plant this mutant (None: none), replacing the one before; in-process, like :meth:`set_faults`."""
        if mutant_id is None:
            self.planted = None
            return None
        from conformance.catalogue.mutants import UnknownMutant, get

        if self.shared is not None:
            raise MutantError("a mutant needs the in-memory state of one worker, not a state shared through --state "
                              "or --workers")
        try:
            self.planted = Planted(get(mutant_id), self.reads)
        except UnknownMutant as exc:
            raise MutantError(str(exc)) from None
        return self.planted

    def transaction(self):
        """What a request's work runs in: one SQLite transaction when the state is shared, else nothing."""
        return self.shared.transaction(self.store) if self.shared is not None else _NOTHING

    def set_faults(self, names: set[str] | frozenset[str] | list[str]) -> None:
        """Switch faults in-process (tests); the previous set is replaced."""
        self.faults = fault_catalog.validate(names)


def _authorized(server: ReferenceServer, operation: Operation, header: str) -> bool:
    key = server.settings.mem0_key if operation.api == "mem0" else server.settings.klavis_key
    scheme, _, token = header.partition(" ")
    if AUTH_ANY_TOKEN in server.faults:
        return scheme == AUTH_SCHEME[operation.api] and bool(token.strip())
    return scheme == AUTH_SCHEME[operation.api] and token.strip() == key


def _rendered(reply: Reply) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The reply as an HTTP answer (status, raw headers, body), with the headers Starlette's ``Response`` would
    give it. JSON rendered by orjson (about five times the standard library's speed; the same JSON text but for how
    floats are spelled): first as it is (keys that are not strings are refused there, and the option that takes them
    doubles the time of a list of 50 memories), then with that option; what orjson still refuses (an integer beyond
    64 bits) the standard way."""
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers.items()
           ] if reply.headers else []
    if reply.status == 204 or reply.body is None and reply.status != 200:
        if reply.status >= 200 and reply.status not in (204, 304):  # where Starlette gives an empty body its length
            raw.append((b"content-length", b"0"))
        return reply.status, raw, b""
    try:
        content = orjson.dumps(reply.body)
    except TypeError:
        try:
            content = orjson.dumps(reply.body, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            content = JSONResponse(reply.body).body
    raw += [(b"content-length", str(len(content)).encode("latin-1")), (b"content-type", b"application/json")]
    return reply.status, raw, content


def _too_large(api: str, limit: int) -> ApiError:
    """413 in the API's own error shape: Mem0 ``{"error"}``, Klavis (FastAPI) ``{"detail"}``."""
    message = f"Request body larger than {limit} bytes"
    return ApiError(413, {"error": message} if api == "mem0" else {"detail": message})


class _Disconnected(Exception):
    """The client went away before its request's body was read whole: nobody to answer."""


class _Exchange:
    """One request as the endpoint reads it straight from ASGI: what Starlette's ``Request`` would give, made of
    the scope without its objects (a request's headers, query and body are read once each)."""

    __slots__ = ("scope", "method", "path_params", "authorization", "declared_length", "host", "headers", "query",
                 "raw_body")

    def __init__(self, scope: Any, path_params: dict[str, Any]) -> None:
        self.scope = scope
        self.method: str = scope["method"]
        self.path_params = path_params
        # Lower-case names (ASGI's); of a repeated header the first, as Starlette's ``headers.get`` answers. The
        # Authorization header is kept apart: a handler sees the others (``Call.headers``), never the key.
        raw = dict(reversed(scope["headers"]))
        self.authorization: str = raw.pop(b"authorization", b"").decode("latin-1")
        self.declared_length: str = raw.get(b"content-length", b"").decode("latin-1")
        host = raw.get(b"host")
        self.host: str | None = None if host is None else host.decode("latin-1")
        self.headers = RequestHeaders(raw)
        query = scope.get("query_string", b"")
        self.query: list[tuple[str, str]] = parse_qsl(query.decode("latin-1"), keep_blank_values=True) if query else []
        self.raw_body = b""

    @property
    def key(self) -> str:
        """The request as a planted mutant tells one from another: method, path, query, a digest of the body."""
        url = Request(self.scope).url
        body = hashlib.sha1(self.raw_body).hexdigest()[:16]  # noqa: S324 (a key, not a secret)
        return f"{self.method} {url.path}?{url.query} {body}"


async def _read_body(receive: Any, declared: str, limit: int, api: str) -> bytes:
    """The body, refused with 413 as soon as it (or its declared length) passes ``limit``: never read whole."""
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(api, limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(api, limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _endpoint(server: ReferenceServer, by_method: dict[str, Operation]):
    """The ASGI endpoint of one path: its answer (status, raw headers, body), None when the client went away."""
    allowed = ", ".join(sorted(by_method))

    async def endpoint(scope: Any, receive: Any, path_params: dict[str, Any]):
        exchange = _Exchange(scope, path_params)
        operation = by_method.get(exchange.method)
        if operation is None:
            return _rendered(Reply(405, {"detail": "Method Not Allowed"}, {"Allow": allowed}))
        server.served += 1
        planted = server.planted
        try:
            if not _authorized(server, operation, exchange.authorization):
                raise unauthorized(operation.api)
            exchange.raw_body = await _read_body(receive, exchange.declared_length, server.settings.max_body_bytes,
                                                 operation.api)
        except _Disconnected:
            return None
        except ApiError as exc:
            reply = Reply(exc.status, exc.body)
        else:
            reply = _answer(server, operation, exchange, planted)
        if planted is not None:
            reply = planted.answer(operation, exchange.key, reply)
        for observe in server.observers:
            observe(operation, exchange.query, exchange.raw_body, reply)
        return _rendered(reply)

    return endpoint


def _answer(server: ReferenceServer, operation: Operation, exchange: _Exchange, planted: Planted | None) -> Reply:
    """The handler's reply to one authorized request whose body is read (a refusal of its input included)."""
    mine = planted is not None and planted.mine(operation)
    validated = planted.operation(operation) if mine else operation
    try:
        raw = exchange.raw_body
        query = exchange.query
        if mine:
            planted.bound_matters(query, raw)
        parsed = parse_request(validated, exchange.path_params, query, raw)  # the route's own dict: only read
    except ApiError as exc:
        return Reply(exc.status, exc.body)
    with server.transaction():  # a refusal is an answer too: what the handler changed before it stays
        server.store.settle()
        call = Call(validated, parsed.path, parsed.query, parsed.body, server.store, server.settings,
                    server.faults, _base_url(exchange.scope, exchange.host), exchange.headers)
        handler = HANDLERS[operation.operation_id]
        try:
            if mine:
                planted.request(call)
                result = planted.run(call, handler)
            else:
                result = handler(call)
            return result if isinstance(result, Reply) else Reply(*result)
        except ApiError as exc:
            return Reply(exc.status, exc.body)


def _base_url_of(key: tuple[Any, ...]) -> str:
    """What Starlette's ``request.base_url`` gives (without its last ``/``) a request of this scheme, server, root
    path and Host header: all it reads of the scope."""
    scheme, server, root_path, host = key
    scope: dict[str, Any] = {"type": "http", "server": server, "root_path": root_path, "path": root_path,
                             "query_string": b"", "headers": [] if host is None else [(b"host", host.encode("latin-1"))]}
    if scheme is not None:
        scope["scheme"] = scheme
    return str(Request(scope).base_url).rstrip("/")


_BASE_URLS = Memo(_base_url_of, 64)  # a URL parsed and put together again on every request, else


def _base_url(scope: Any, host: str | None) -> str:
    """The request's base URL (Starlette's ``request.base_url``) without its last ``/``, made once per scheme,
    server, root path and Host header (``host``, the first of the request's)."""
    return _BASE_URLS[(scope.get("scheme"), scope.get("server"),
                       scope.get("app_root_path", scope.get("root_path", "")), host)]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "Error")
    return JSONResponse({"detail": detail}, status_code=status, headers=getattr(exc, "headers", None))


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error in the reference server", exc_info=exc)
    server = getattr(request.app.state, "server", None)
    if server is not None:
        server.errors += 1
    return JSONResponse({"error": "Internal server error (a bug in the reference server)"}, status_code=500)


class _Route(Route):
    """A route that turns a path outside its literal beginning away before its regular expression runs."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.literal = path.split("{", 1)[0]
        self.depth = path.count("/")  # a parameter matches within one segment: only paths of this depth match

    def matches(self, scope: Any) -> tuple[Match, Any]:
        path = get_route_path(scope) if scope.get("root_path") else scope["path"]
        if scope["type"] == "http" and not path.startswith(self.literal):
            return Match.NONE, {}
        return super().matches(scope)


class _IndexedRouter(Router):
    """Starlette's router, with its routes looked up rather than tried in turn.

    Starlette matches a request against each route in order: about thirty of the seventy before a get by
    id, a third of that request's time in the server. Here a path without parameters is found in a dict, and
    a path with them is tried only against the routes of its depth (its count of ``/``), in the same order,
    so the route chosen is the one Starlette's loop would choose (literal segments sort before parameters,
    :func:`route_sort_key`). What these find no full match for (a method no route takes, a path to redirect
    or refuse with 404) goes through Starlette's own loop, unchanged.
    """

    def __init__(self, routes: list[_Route]) -> None:
        super().__init__(routes)
        self.literal: dict[str, _Route] = {}
        self.by_depth: dict[int, list[_Route]] = defaultdict(list)
        for route in routes:
            if "{" in route.path:
                self.by_depth[route.depth].append(route)
            else:
                self.literal.setdefault(route.path, route)

    def lookup(self, scope: Any) -> tuple[_Route, dict[str, Any]] | None:
        """The route that fully matches an HTTP request, with its child scope; None: left to Starlette's loop."""
        path = get_route_path(scope) if scope.get("root_path") else scope["path"]
        literal = self.literal.get(path)
        if literal is not None:  # what its matches would answer, without a regular expression for a literal path
            if literal.methods and scope["method"] not in literal.methods:
                return None
            return literal, {"endpoint": literal.endpoint, "path_params": dict(scope.get("path_params", {}))}
        for route in self.by_depth.get(path.count("/"), []):
            if not path.startswith(route.literal):  # what _Route.matches answers first, without its call
                continue
            found = route.path_regex.match(path)  # the rest of what Starlette's matches answers, without its call
            if found is not None and (not route.methods or scope["method"] in route.methods):
                convertors = route.param_convertors
                matched = {name: convertors[name].convert(value) for name, value in found.groupdict().items()}
                return route, {"endpoint": route.endpoint, "path_params": {**scope.get("path_params", {}), **matched}}
        return None


class _Answering:
    """A path's endpoint as an ASGI app (what Starlette's own loop would call, :class:`ReferenceApp` calls it
    straight): its answer from :func:`_endpoint`, sent."""

    def __init__(self, answer: Callable[..., Any]) -> None:
        self.answer = answer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await _send(await self.answer(scope, receive, scope.get("path_params", {})), send)


async def _send(answer: tuple[int, list[tuple[bytes, bytes]], bytes] | None, send: Any) -> None:
    if answer is not None:
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class ReferenceApp(Starlette):
    """Starlette, with the requests its router's index routes answered straight on ASGI.

    Starlette hands a request through two middlewares (errors, exceptions), a route, a ``Request`` and a
    ``Response``: a trivial endpoint's whole time, and a fifth of a get by id's. A request the index routes
    (:class:`_IndexedRouter`) goes here straight to its endpoint, which reads the scope and sends its answer
    itself; an unhandled error is logged and answered 500 by the same handler as Starlette's, and not raised
    again (Starlette's middleware does, and uvicorn then drops the connection under the answer, which its client
    may never read). The rest (a 404, a redirect, a method no route takes, lifespan) goes through Starlette, unchanged.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        found = self.router.lookup(scope) if scope["type"] == "http" else None
        if found is None:
            await super().__call__(scope, receive, send)
            return
        route, child_scope = found
        scope["app"] = self
        scope.setdefault("router", self.router)
        scope["route"] = route
        scope.update(child_scope)
        try:
            answer = await route.endpoint.answer(scope, receive, child_scope.get("path_params", {}))
        except Exception as exc:
            response = await _server_error(Request(scope), exc)
            await response(scope, receive, send)
            return
        await _send(answer, send)


def create_app(settings: ServerSettings | None = None) -> Starlette:
    """The reference server for both APIs. ``app.state.server`` holds its store and faults."""
    import conformance.server.handlers  # noqa: F401  (registers the handlers and their faults)

    grouped: dict[str, dict[str, Operation]] = defaultdict(dict)
    for operation in load_operations():
        if operation.operation_id not in HANDLERS:
            raise RuntimeError(f"no handler for {operation.api} operation {operation.operation_id}")
        grouped[operation.path][operation.method] = operation
    reads = {path: (methods["GET"], HANDLERS[methods["GET"].operation_id])
             for path, methods in grouped.items() if "GET" in methods}
    server = ReferenceServer(settings or ServerSettings(), reads)
    # Every method reaches the endpoint, which answers 405 with Allow itself (methods=None would mean GET only).
    routes = [_Route(path, _Answering(_endpoint(server, grouped[path])), methods=ROUTE_METHODS)
              for path in sorted(grouped, key=route_sort_key)]
    handlers: dict[Any, Any] = {HTTPException: _http_error, Exception: _server_error}
    app = ReferenceApp(exception_handlers=handlers)
    app.router = _IndexedRouter(routes)  # read when the app builds its middleware, at its first request
    app.state.server = server
    return app


SETTINGS_VARIABLE = "MEM0_CONFORMANCE_SERVER_SETTINGS"  # how `serve --workers N` hands its settings to each worker


def from_environment() -> Starlette:
    """The app of one worker of ``serve --workers N`` (uvicorn's factory: settings from the environment)."""
    return create_app(ServerSettings.from_json(os.environ[SETTINGS_VARIABLE]))
