"""Authentication: only the configured key, in the API's own scheme, opens either API.

Mem0 wants ``Authorization: Token <key>`` and answers a bad key with 401 ``{"detail": ...}``
(FACTS.md "GET /v1/ping/"); Klavis wants ``Authorization: Bearer <key>`` (401 is undocumented
there; FACTS.md names the FastAPI-style ``{"detail": ...}`` body). Only read-only calls are
made, so a server that wrongly lets a request through changes nothing; the one exception, every operation
sent once without a key, names ids that cannot exist and sends no body (and leaves the operations that
cannot be scoped to the run to the reference server).
"""

from __future__ import annotations

import re

import httpx
import pytest

from conformance.apis import APIS
from conformance.client import ApiClient
from conformance.suite.sources import KLAVIS, refused
from conformance.verdicts import Severity, fact, require

pytestmark = [pytest.mark.contract("Authentication")]

FACTS = {"mem0": "GET /v1/ping/", "klavis": KLAVIS}  # where each API's 401 is documented
OTHER_SCHEME = {"mem0": "Bearer", "klavis": "Token"}
CALLS = [
    pytest.param("mem0", "/v1/ping/", marks=pytest.mark.requires("mem0", "ping"), id="mem0-ping"),
    pytest.param("mem0", "/v1/entities/", marks=pytest.mark.requires("mem0"), id="mem0-entities"),
    pytest.param("klavis", "/sandbox", marks=pytest.mark.requires("klavis"), id="klavis-sandboxes"),
]


def configured_key(client: ApiClient) -> str:
    return client.http.headers["Authorization"].partition(" ")[2]


def send(client: ApiClient, path: str, authorization: str | None) -> httpx.Response:
    """GET ``path`` with this Authorization header instead of the client's (None: no header)."""
    if authorization is not None:
        return client.get(path, headers={"Authorization": authorization})
    request = client.http.build_request("GET", path)
    del request.headers["Authorization"]
    return client.http.send(request)


def refused_401(response: httpx.Response, api: str, how: str) -> None:
    """401 with an error body; an answer that lets the request through bypasses authentication (a blocker)."""
    source = fact(FACTS[api], f"{response.request.method} {response.request.url.path}")
    require(not response.is_success, f"{how} is let through with {response.status_code}",
            received=f"{response.status_code} {response.text[:300]}",
            documented="401 with an error body: only the configured key, in the API's scheme, opens the API",
            source=source, severity=Severity.BLOCKER)
    refused(response, 401, what=how, source=source)


def near_misses(key: str, run_prefix: str) -> dict[str, str]:
    """Tokens that are not the key: unrelated, or differing from it in one place."""
    flipped = key[:-1] + ("0" if key[-1:] != "0" else "1")
    tokens = {
        "unrelated": f"wrong-{run_prefix}",
        "last character changed": flipped,
        "truncated": key[:-1],
        "extended": key + "x",
        "case changed": key.swapcase(),
    }
    return {how: token for how, token in tokens.items() if token and token != key}


@pytest.mark.parametrize(("api", "path"), CALLS)
def test_a_wrong_key_in_the_right_scheme_is_refused_with_401(request, run_prefix, api, path):
    """A key other than the configured one (unrelated or a near miss), in the API's own scheme, gets 401 with a body."""
    client = request.getfixturevalue(api)
    for how, token in near_misses(configured_key(client), run_prefix).items():
        refused_401(send(client, path, APIS[api].authorization(token)), api,
                    f"GET {path} with a wrong {APIS[api].scheme} key ({how})")


@pytest.mark.parametrize(("api", "path"), CALLS)
@pytest.mark.parametrize("variant", ["missing header", "other API's scheme", "bare key", "scheme alone"])
def test_a_request_without_the_key_in_the_api_s_scheme_is_refused_with_401(request, api, path, variant):
    """No Authorization header, the right key in the other API's scheme, a bare key or the scheme alone gets 401 with a body."""
    client = request.getfixturevalue(api)
    key = configured_key(client)
    header = {
        "missing header": None,
        "other API's scheme": f"{OTHER_SCHEME[api]} {key}",
        "bare key": key,
        "scheme alone": APIS[api].scheme,
    }[variant]
    refused_401(send(client, path, header), api, f"GET {path} with {variant}")


def _every_operation() -> list:
    from conformance.specs import APIS, effective, operations
    from conformance.suite.live_scope import UNSCOPED

    params = []
    for api in APIS:
        document = effective(api)
        for method, path in operations(document):
            operation = document["paths"][path][method.lower()]
            needs = [api, *(["destructive"] if operation.get("operationId") in UNSCOPED else [])]
            params.append(pytest.param(api, method, path, marks=pytest.mark.requires(*needs), id=f"{method} {path}"))
    return params


@pytest.mark.parametrize(("api", "method", "path"), _every_operation())
def test_every_operation_refuses_a_request_without_a_key(request, api, method, path):
    """Every operation of both documents answers a request without an Authorization header with 401 and a body
    saying why, before it reads anything else (path ids that cannot exist, no body)."""
    client = request.getfixturevalue(api)
    concrete = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)
    built = client.http.build_request(method, concrete)
    del built.headers["Authorization"]
    refused_401(client.http.send(built), api, f"{method} {path} without an Authorization header")
