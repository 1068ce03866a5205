"""Before any test runs: is each API of the target reachable, does it accept the key, and what
does it offer?

Mem0 is asked ``GET /v1/ping/`` (a supplement: a target without it is asked the seed's
``GET /v1/memories/`` of a run-prefixed user instead), Klavis ``GET /sandbox``; both need the key. A connection
failure, a timeout or an answer that is not the API's is :class:`Unreachable`; 401 or 403 is
:class:`KeyRejected`. Messages are one sentence and never contain the key. :func:`survey` then
discovers the target's capabilities (:mod:`conformance.capabilities`).
"""

from __future__ import annotations

import httpx

from conformance import capabilities, exits
from conformance.apis import REDACTED
from conformance.capabilities import CapabilityFinding
from conformance.cleanup import run_prefix
from conformance.client import Recorder, http_client, route_missing
from conformance.targets import ApiTarget, Target

PROBES = {"mem0": "/v1/ping/", "klavis": "/sandbox"}
# A seed operation for a target without the ping supplement, scoped to a run-prefixed user nobody has.
FALLBACKS = {"mem0": "/v1/memories/?user_id={prefix}-probe-user"}
NAMES = {"mem0": "Mem0", "klavis": "Klavis"}


class PreflightError(Exception):
    exit_code = exits.UNREACHABLE


class Unreachable(PreflightError):
    exit_code = exits.UNREACHABLE


class KeyRejected(PreflightError):
    exit_code = exits.KEY_REJECTED


def check_api(api: ApiTarget, *, timeout: float | None = None, prefix: str = "mct-preflight") -> None:
    probe = PROBES[api.api]
    response = _probe(api, probe, timeout)
    if api.api in FALLBACKS and route_missing(response):
        probe = FALLBACKS[api.api].format(prefix=prefix)
        response = _probe(api, probe, timeout)
    where = f"the {NAMES[api.api]} target {api.url}"
    if response.status_code in (401, 403):
        variable = "MEM0_API_KEY" if api.api == "mem0" else "KLAVIS_API_KEY"
        raise KeyRejected(f"{where} rejected the API key with {response.status_code}: check {variable}")
    if response.status_code != 200:
        raise Unreachable(f"{where} answered GET {probe} with {response.status_code}, so it is not a {NAMES[api.api]} API there")


def _probe(api: ApiTarget, probe: str, timeout: float | None) -> httpx.Response:
    where = f"the {NAMES[api.api]} target {api.url}"
    try:  # through the one HTTP layer: retried, rate-limited and recorded as the suite's own requests are
        with http_client(api, Recorder(limit=100), timeout=timeout or min(api.timeout, 15.0), watched=False) as http:
            return http.get(probe)
    except httpx.TimeoutException:
        raise Unreachable(f"{where} did not answer GET {probe} in time") from None
    except httpx.HTTPError as exc:
        reason = str(exc).replace(api.key, REDACTED) if api.key else str(exc)
        raise Unreachable(f"{where} cannot be reached ({reason or type(exc).__name__})") from None


def check(target: Target, prefix: str = "mct-preflight") -> None:
    """Raise a :class:`PreflightError` for the first API of ``target`` that cannot be used."""
    for api in (target.mem0, target.klavis):
        if api is not None:
            check_api(api, prefix=prefix)


def survey(target: Target, run_id: str) -> tuple[Target, tuple[CapabilityFinding, ...]]:
    """Check ``target`` (:func:`check`), then discover its capabilities; the target as tests see it
    (offered or pinned capabilities usable) and the findings to print and record."""
    prefix = run_prefix(run_id, "preflight")
    check(target, prefix)
    findings = capabilities.discover(target, prefix)
    return capabilities.apply(target, findings), findings
