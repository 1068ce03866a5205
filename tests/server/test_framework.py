"""The reference server's shared behaviour: routing, auth, input rules, robustness."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conformance.server import ServerSettings, create_app
from conformance.server.app import AUTH_ANY_TOKEN
from conformance.server.operations import load_operations
from conformance.server.registry import HANDLERS

OPERATIONS = load_operations()
ADD = {"messages": [{"role": "user", "content": "I like tea"}], "user_id": "alice", "async_mode": False}


def _declared(operation) -> set[int]:
    from conformance.specs import effective

    raw = effective(operation.api)["paths"][operation.path][operation.method.lower()]
    return {int(code) for code in raw["responses"] if code.isdigit()}


@pytest.mark.parametrize("operation", OPERATIONS, ids=[f"{o.api}-{o.operation_id}" for o in OPERATIONS])
def test_every_operation_answers_a_declared_status(served, server, operation):
    """Every operation is routed to a handler and answers a status its document declares, never 5xx."""
    path = operation.path
    for parameter in operation.parameters:
        if parameter.location == "path":
            path = path.replace("{" + parameter.name + "}", "user" if parameter.name == "entity_type" else "x")
    headers = {"Authorization": f"Token {server.settings.mem0_key}" if operation.api == "mem0"
               else f"Bearer {server.settings.klavis_key}"}
    response = httpx.request(operation.method, served.url + path, headers=headers, timeout=10)
    assert response.status_code in _declared(operation), response.text
    if response.status_code != 204:
        assert response.json() is not None


def test_the_app_refuses_to_start_when_an_operation_has_no_handler(monkeypatch):
    """A missing handler stops create_app with the operation's name (no route answers 501)."""
    monkeypatch.delitem(HANDLERS, "memories_read")
    with pytest.raises(RuntimeError, match="no handler for mem0 operation memories_read"):
        create_app(ServerSettings())


@pytest.mark.parametrize(
    "header",
    [None, "Token wrong-key", "Bearer m0-reference-key", "m0-reference-key", "Token"],
    ids=["missing", "wrong-key", "wrong-scheme", "no-scheme", "empty-token"],
)
def test_mem0_rejects_anything_but_its_key(served, server, header):
    """The Mem0 API answers 401 with a detail unless the header is 'Token <configured key>'."""
    headers = {"Authorization": header} if header else {}
    response = httpx.get(served.url + "/v1/ping/", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"]


def test_klavis_rejects_the_mem0_key(served, server):
    """Each API accepts only its own key: the Mem0 key is refused by Klavis, and the reverse."""
    assert httpx.get(served.url + "/sandbox", headers={"Authorization": "Bearer m0-reference-key"}).status_code == 401
    assert httpx.get(served.url + "/v1/ping/", headers={"Authorization": "Token kl-reference-key"}).status_code == 401


def test_fault_auth_any_token(served, server):
    """Fault auth-any-token: any token with the right scheme is accepted."""
    wrong = {"Authorization": "Token not-the-key"}
    assert httpx.get(served.url + "/v1/ping/", headers=wrong).status_code == 401
    server.set_faults({AUTH_ANY_TOKEN})
    assert httpx.get(served.url + "/v1/ping/", headers=wrong).status_code == 200


def _count(mem0) -> int:
    return len(mem0.post("/v3/memories/", json={"filters": {"user_id": "alice"}}).json()["results"])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"messages": [', 400),
        (b'{"messages": "not a list", "user_id": "alice"}', 400),
        ('{"messages": [{"role": "user", "content": "\\ud800"}], "user_id": "alice"}'.encode(), 400),
        (b"\xff\xfe not utf-8", 400),
        (b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),
        (b'{"user_id": "alice", "messages": [{"role": "user", "content": "x"}], "async_mode": false, "metadata": '
         + b'{"a": ' * 900 + b"1" + b"}" * 900 + b"}", 400),
        (b'{"user_id": "alice", "messages": [{"role": "user", "content": "x"}], "async_mode": false, "metadata": '
         + b'{"a": ' * 50 + b"1" + b"}" * 50 + b"}", 200),
        (b'{"user_id": "alice", "messages": [{"role": "user", "content": "x"}], "async_mode": false, '
         b'"metadata": {"a": NaN}}', 400),
        (b'{"user_id": "alice", "messages": [{"role": "user", "content": "x"}], "async_mode": false, '
         b'"metadata": {"a": [-Infinity]}}', 400),
    ],
    ids=["malformed-json", "wrong-type", "lone-surrogate", "not-utf8", "nested-beyond-any-stack",
         "metadata-900-deep", "metadata-50-deep", "nan-in-metadata", "infinity-in-metadata"],
)
def test_mem0_bad_input_gets_400_and_changes_nothing(mem0, content, expected):
    """Malformed JSON (NaN and Infinity included: Python's parser reads them, no answer could show them), wrong
    types, invalid Unicode and absurd nesting get 400 with an error body and store nothing; deep but sane
    nesting is accepted (never a 500)."""
    response = mem0.post("/v1/memories/", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == expected, response.text
    if expected == 400:
        assert response.json()["error"]
        assert _count(mem0) == 0


def test_klavis_bad_input_gets_422_in_fastapi_shape(klavis):
    """Invalid Klavis input gets 422 {detail: [{loc, msg, type}]}."""
    response = klavis.post("/sandbox/mem0", json={"ttl_seconds": "soon"})
    assert response.status_code == 422
    (problem, *_) = response.json()["detail"]
    assert problem["loc"][0] == "body" and problem["msg"] and problem["type"]


@pytest.mark.parametrize("content", [b" ", b"\n\t ", b"\x0b", b"\x0c\r\n"])
def test_a_body_of_white_space_is_no_json_and_is_refused_even_where_a_body_may_be_left_out(klavis, server, content):
    """A body that holds only white space is not an absent body: it is JSON without a value, refused as the
    platforms' parsers refuse it (FastAPI reads any body it gets), here where the body is optional, and nothing
    is acquired. An empty body is the absent one."""
    response = klavis.post("/sandbox/mem0", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body"] and problem["type"] == "json_invalid"
    assert not server.store.sandboxes
    assert klavis.post("/sandbox/mem0", content=b"", headers={"Content-Type": "application/json"}).status_code == 201


def test_oversized_body_gets_413_in_the_api_s_error_shape_and_changes_nothing(mem0, klavis, server):
    """A body over the limit (1 MiB by default) is refused with 413 before it is parsed, in each API's error shape."""
    assert server.settings.max_body_bytes == 1024 * 1024
    messages = [{"role": "user", "content": "x"}] * 200_000  # 6.8 MB: once drove the server out of memory
    body = {"messages": messages, "user_id": "alice", "infer": False, "async_mode": False}
    response = mem0.post("/v1/memories/", json=body)
    assert response.status_code == 413
    assert response.json() == {"error": "Request body larger than 1048576 bytes"}
    assert _count(mem0) == 0
    big = b"x" * (server.settings.max_body_bytes + 1)
    refused = klavis.post("/sandbox/mem0/any/initialize", content=big, headers={"Content-Type": "application/json"})
    assert refused.status_code == 413
    assert refused.json() == {"detail": "Request body larger than 1048576 bytes"}


def test_unknown_route_gets_json_404(mem0):
    """An unknown path answers 404 with a JSON body."""
    response = mem0.get("/v9/nothing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_wrong_method_gets_405_with_allow(mem0):
    """A method an operation path does not have answers 405 and lists the allowed ones."""
    response = mem0.patch("/v1/ping/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


def test_an_unhandled_error_answers_500_and_is_counted(mem0, server, monkeypatch):
    """A handler's bug answers 500 with a JSON body (the connection is not dropped) and counts in
    ``server.errors``, which a run reports; the next request is answered as usual."""

    def broken(call):
        raise RuntimeError("a bug in a handler")

    before = server.errors
    monkeypatch.setitem(HANDLERS, "ping_read", broken)
    response = mem0.get("/v1/ping/")
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error (a bug in the reference server)"}
    assert server.errors == before + 1
    monkeypatch.undo()
    assert mem0.get("/v1/ping/").status_code == 200
    assert server.errors == before + 1


def test_a_client_gone_before_its_body_is_answered_nothing_and_changes_nothing(server, served):
    """A request whose client disconnects before its body is read whole gets no answer (nobody is there), counts as
    no error and stores nothing: what the endpoint reads straight from ASGI, driven here without HTTP."""
    import asyncio

    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Token {server.settings.mem0_key}".encode()),
               (b"content-type", b"application/json")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/memories/", "raw_path": b"/v1/memories/", "query_string": b"", "root_path": "",
             "headers": headers, "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1)}
    messages = [{"type": "http.request", "body": json.dumps(ADD).encode()[:20], "more_body": True},
                {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    before = server.errors
    asyncio.run(served.app(scope, receive, send))
    assert sent == []
    assert server.errors == before
    assert len(server.store.memories) == 0


def test_non_ascii_text_round_trips(mem0):
    """Text in any script, emoji and combining marks is stored and returned unchanged."""
    text = "Ich mag Käse — 我喜欢茶 🍵 e\u0301"
    body = {"messages": [{"role": "user", "content": text}], "user_id": "alice", "infer": False, "async_mode": False}
    response = mem0.post("/v3/memories/add/", json=body)
    assert response.status_code == 200, response.text
    listed = mem0.post("/v3/memories/", json={"filters": {"user_id": "alice"}}).json()["results"]
    assert [m["memory"] for m in listed] == [text]


def test_concurrent_adds_are_all_stored(served, server):
    """Fifty adds sent at once from eight threads all succeed and are all stored, none twice."""
    headers = {"Authorization": f"Token {server.settings.mem0_key}"}

    def add(index: int) -> int:
        body = {"messages": [{"role": "user", "content": f"fact {index}"}], "user_id": "alice",
                "infer": False, "async_mode": False}
        return httpx.post(served.url + "/v3/memories/add/", json=body, headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(add, range(50)))
    assert statuses == [200] * 50
    listed = httpx.post(served.url + "/v3/memories/", json={"filters": {"user_id": "alice"}, "page_size": 100},
                        headers=headers).json()
    assert sorted(m["memory"] for m in listed["results"]) == sorted(f"fact {i}" for i in range(50))


def test_error_bodies_are_json_never_tracebacks(mem0):
    """Error answers are small JSON documents, with no Python traceback in them."""
    response = mem0.get("/v1/memories/not-a-uuid/")
    assert response.status_code == 400
    assert "Traceback" not in response.text
    assert json.loads(response.text) == {"error": "memory_id should be a valid UUID"}


def _scope(method: str, path: str, root_path: str = "") -> dict:
    return {"type": "http", "method": method, "path": root_path + path, "root_path": root_path, "headers": [],
            "query_string": b""}


def test_routes_are_looked_up_as_starlettes_loop_would_choose_them():
    """The router's index (a dict of literal paths, the routes with parameters by depth) picks, for every
    operation's path and for paths that only nearly match one, the route Starlette's loop over every route in
    order would: the first full match (a literal segment before a parameter), or none, which the loop then
    answers (405, a redirect to the path with or without its slash, 404)."""
    from starlette.routing import Match

    router = create_app(ServerSettings()).router
    paths = set()
    for operation in OPERATIONS:
        for filler in ("x", "search", "batch", "events", "history", "user", "0"):
            path = operation.path
            for parameter in operation.parameters:
                if parameter.location == "path":
                    path = path.replace("{" + parameter.name + "}", filler)
            paths |= {path, path.rstrip("/"), path + "/", path + "x/", "/" + path, path.replace("/", "//", 1)}
    paths |= {"/", "", "/v9/nothing/", "/sandbox/", "/v1/memories/x/history/y/"}
    chosen = 0
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "CONNECT"):
        for path in sorted(paths):
            for root_path in ("", "/prefix"):
                scope = _scope(method, path, root_path)
                expected = next(((route, child) for route in router.routes
                                 for match, child in [route.matches(scope)] if match is Match.FULL), None)
                found = router.lookup(scope)
                assert (found and found[0].path) == (expected and expected[0].path), (method, root_path + path)
                assert found == expected or found[1] == expected[1], (method, root_path + path)
                chosen += found is not None
    assert chosen > len(OPERATIONS) * 5  # most paths above are routed: the comparison is not vacuous


def test_a_base_url_is_the_one_starlette_gives_the_request():
    """The base URL a handler gets (page links), made once per scheme, server, root path and Host header from those
    alone, is what Starlette's ``request.base_url`` gives the whole request, without its last ``/``."""
    from starlette.requests import Request

    from conformance.server.app import _BASE_URLS, _base_url

    scopes = []
    for scheme in (None, "http", "https"):
        for server in (None, ("127.0.0.1", 8000), ("::1", 443), ("example.org", 80)):
            for roots in ({}, {"root_path": "/prefix"}, {"root_path": "/a/", "app_root_path": "/b"}):
                for hosts in ([], [(b"host", b"api.example.org")], [(b"host", b"[::1]:8080"), (b"host", b"second")]):
                    scope = {"type": "http", "method": "GET", "path": "/v1/memories/", "query_string": b"page=2",
                             "headers": [(b"accept", b"*/*"), *hosts], "server": server, **roots}
                    if scheme is not None:
                        scope["scheme"] = scheme
                    scopes.append(scope)
    _BASE_URLS.clear()
    for _ in range(2):  # made, then remembered
        for scope in scopes:
            host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
            assert _base_url(scope, host) == str(Request(scope).base_url).rstrip("/"), scope
    assert 0 < len(_BASE_URLS) <= 64


def test_starlettes_own_loop_answers_a_routed_request_as_the_app_does(served, server):
    """The routes stay ASGI apps of their own: the router called by itself (Starlette's loop over its routes, which
    the app bypasses for what its index finds) answers a get by id with the same status, headers and body."""
    import asyncio

    memory = server.store.add_memory("I like tea", [], user_id="alice")
    path = f"/v1/memories/{memory.id}/"
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Token {server.settings.mem0_key}".encode())]

    def answer(app) -> list[dict]:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
                 "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "app": served.app}
        sent: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        asyncio.run(app(scope, receive, send))
        return sent

    through_the_loop, through_the_app = answer(served.app.router), answer(served.app)
    assert through_the_loop == through_the_app
    assert through_the_app[0]["status"] == 200 and json.loads(through_the_app[1]["body"])["id"] == memory.id


def test_a_path_without_its_trailing_slash_is_redirected(mem0):
    """Starlette's loop still answers what the index does not route: here, a redirect to the path with its slash."""
    response = mem0.get("/v1/ping", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].endswith("/v1/ping/")


def test_answers_render_keys_that_are_not_strings_and_integers_beyond_64_bits():
    """An answer is JSON whatever its body holds: keys that are not strings as strings (orjson's option for them,
    tried only when orjson refuses the body as it is), an integer beyond 64 bits by the standard library."""
    from conformance.server.app import _rendered
    from conformance.server.registry import Reply

    for body, text in (({"a": [1, "b", None]}, b'{"a":[1,"b",null]}'), ({1: "one", "two": 2}, b'{"1":"one","two":2}'),
                       ({"big": 2**70}, b'{"big":1180591620717411303424}'), ([], b"[]")):
        status, headers, content = _rendered(Reply(200, body))
        assert (status, content) == (200, text)
        assert dict(headers) == {b"content-length": str(len(text)).encode(), b"content-type": b"application/json"}


def test_a_handler_reads_the_request_s_headers_but_never_its_key(served, server, monkeypatch):
    """``Call.headers`` as Starlette's ``headers.get`` reads them (a name in any case, of a repeated header the
    first): every header but Authorization, whose key no handler sees."""
    seen = {}

    def ping(call):
        seen.update(call.headers)
        seen["asked"] = (call.headers.get("x-twice"), call.headers.get("X-Twice"), call.headers.get("authorization"),
                         call.headers.get("naïve-ünicode"), call.headers.get("\u2603"))
        return 200, {"status": "ok"}

    operation = next(o for o in OPERATIONS if o.path == "/v1/ping/")
    monkeypatch.setitem(HANDLERS, operation.operation_id, ping)
    headers = [("Authorization", f"Token {server.settings.mem0_key}"), ("X-Twice", "first"), ("X-Twice", "second")]
    response = httpx.get(served.url + "/v1/ping/", headers=headers)
    assert response.status_code == 200, response.text
    assert seen["asked"] == ("first", "first", None, None, None)
    assert seen["x-twice"] == "first" and "authorization" not in seen and seen["host"]


def test_a_server_thread_that_cannot_start_says_why(monkeypatch):
    """A server whose thread ends before it serves (here its HTTP implementation cannot be imported, as in a
    checkout whose environment lacks a new dependency) names the cause, not only that it did not start."""
    from conformance.server import runner

    monkeypatch.setattr(runner, "HTTP", "no_such_http_module:Protocol")
    thread = runner.ServerThread(create_app(ServerSettings()))
    with pytest.raises(RuntimeError, match=r"^the reference server did not start: .*no_such_http_module"):
        thread.start()
