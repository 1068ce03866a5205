"""Before any test runs: is each API of the target reachable, and does it accept the key?

Mem0 is asked ``GET /v1/ping/``, Klavis ``GET /sandbox``; both need the key. A connection
failure, a timeout or an answer that is not the API's is :class:`Unreachable`; 401 or 403 is
:class:`KeyRejected`. Messages are one sentence and never contain the key.
"""

from __future__ import annotations

import httpx

from conformance.client import SCHEMES
from conformance.targets import ApiTarget, Target

PROBES = {"mem0": "/v1/ping/", "klavis": "/sandbox"}
NAMES = {"mem0": "Mem0", "klavis": "Klavis"}


class PreflightError(Exception):
    exit_code = 3


class Unreachable(PreflightError):
    exit_code = 3


class KeyRejected(PreflightError):
    exit_code = 4


def check_api(api: ApiTarget, *, timeout: float | None = None) -> None:
    probe = PROBES[api.api]
    where = f"the {NAMES[api.api]} target {api.url}"
    try:
        response = httpx.get(
            api.url + probe,
            headers={"Authorization": f"{SCHEMES[api.api]} {api.key}"},
            timeout=timeout or min(api.timeout, 15.0),
        )
    except httpx.TimeoutException:
        raise Unreachable(f"{where} did not answer GET {probe} in time") from None
    except httpx.HTTPError as exc:
        reason = str(exc).replace(api.key, "[redacted]") if api.key else str(exc)
        raise Unreachable(f"{where} cannot be reached ({reason or type(exc).__name__})") from None
    if response.status_code in (401, 403):
        variable = "MEM0_API_KEY" if api.api == "mem0" else "KLAVIS_API_KEY"
        raise KeyRejected(f"{where} rejected the API key with {response.status_code}: check {variable}")
    if response.status_code != 200:
        raise Unreachable(f"{where} answered GET {probe} with {response.status_code}, so it is not a {NAMES[api.api]} API there")


def check(target: Target) -> None:
    """Raise a :class:`PreflightError` for the first API of ``target`` that cannot be used."""
    for api in (target.mem0, target.klavis):
        if api is not None:
            check_api(api)
