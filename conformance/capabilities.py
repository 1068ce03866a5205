"""What a target offers beyond the seed documents, found out before any test runs.

The seeds (2025-07) are the contract every Mem0 or Klavis target is held to; the supplements
(``x-conformance-supplement``) describe what real clients call on top. A capability is a group
of supplemented operations a test may need (:data:`CATALOGUE`). The preflight *discovers* each
one with probes that read, or that are refused before anything is written; the one exception,
the shared store of both APIs, writes a single memory into a fresh run-prefixed sandbox and
deletes both again.

A capability counts as offered when its operations **exist**, even when they answer wrongly: a
planted fault or a server defect must fail tests, never skip them. A probe that gets no answer,
or cannot be asked, leaves the capability assumed offered for the same reason. An operation is missing only
when the target answers as a server without that route does (405, 501, or a 404 that is not the
API's own answer: an HTML page or the frameworks' ``{"detail": "Not Found"}``).

A target file may *pin* capabilities (``capabilities = [...]`` per API, ``shared_data = true``):
a pinned capability is never skipped, and a pinned one the probes do not find fails
(``test_capabilities.py``). The embedded reference server pins everything it implements.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import httpx

from conformance import retries
from conformance.apis import CAPABILITIES, PINNABLE
from conformance.client import Recorder, http_client, route_missing
from conformance.targets import ApiTarget, Target
from conformance.verdicts import TargetBroken


_UUIDS = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
CATALOGUE = CAPABILITIES
BY_NAME = {capability.name: capability for capability in CATALOGUE}
# The supplemented operations whose schema tests need the capability (the seeds' own, such as the
# webhook operations, are tested on every target).
GATED = {operation: c.name for c in CATALOGUE if c.name in ("ping", "v3", "events", "profiles")
         for operation in c.operations}


@dataclass(frozen=True)
class CapabilityFinding:
    """What the preflight found out about one capability of a target."""

    name: str
    offered: bool
    pinned: bool
    evidence: str  # the answers it rests on, e.g. "POST /v3/memories/ 200"

    def line(self) -> str:
        state = "offered" if self.offered else "MISSING (pinned)" if self.pinned else "not offered"
        return f"{self.name}: {state}{' (pinned)' if self.pinned and self.offered else ''} - {self.evidence}"

    def to_wire(self) -> list[Any]:
        return [self.name, self.offered, self.pinned, self.evidence]


class Prober:
    """Sends the probes of one API through ``http`` (base URL and key set); every answer is evidence."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def send(self, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response | None, str]:
        label = f"{method} {_UUIDS.sub('{id}', path.partition('?')[0])}"
        try:
            response = self.http.request(method, path, **kwargs)
        except (httpx.HTTPError, TargetBroken) as exc:
            return None, f"{label}: no answer ({type(exc).__name__})"
        return response, f"{label} {response.status_code}"

    def exist(self, probes: Iterable[tuple[str, str, dict[str, Any]]]) -> tuple[bool, str]:
        """Whether every probed operation exists; the evidence of each."""
        evidence, found = [], True
        for method, path, kwargs in probes:
            exists, said = _exists(*self.send(method, path, **kwargs))
            found, evidence = found and exists, [*evidence, said]
        return found, ", ".join(evidence)


def _exists(response: httpx.Response | None, said: str) -> tuple[bool, str]:
    """An operation exists unless no route answered. A probe without an answer counts as existing:
    the tests that need it then say what the network did, instead of a skip."""
    if response is None:
        return True, f"{said}, assumed there"
    return not route_missing(response), said


def probe_mem0(mem0: Prober, prefix: str) -> dict[str, tuple[bool, str]]:
    """Each Mem0 capability: (offered, evidence). Nothing is written: the add probe lacks its messages."""
    user = f"{prefix}-probe-user"
    ping, said = mem0.send("GET", "/v1/ping/")
    found = {"ping": _exists(ping, said)}
    found["v3"] = mem0.exist([
        ("POST", "/v3/memories/add/", {"json": {}}),  # refused before anything is stored (messages required)
        ("POST", "/v3/memories/", {"json": {"filters": {"user_id": user}}, "params": {"page_size": 1}}),
        ("POST", "/v3/memories/search/", {"json": {"query": "probe", "filters": {"user_id": user}}}),
    ])
    found["events"] = mem0.exist([("GET", f"/v1/event/{uuid.uuid4()}/", {})])
    found["profiles"] = mem0.exist([("GET", f"/v2/profiles/jobs/{uuid.uuid4()}/", {})])
    project = _project_of(ping)
    if project is None:
        found["webhooks"] = (True, "GET /v1/ping/ names no project_id to ask for webhooks: assumed there, "
                                   "so their tests say what is wrong")
    else:
        found["webhooks"] = mem0.exist([("GET", f"/api/v1/webhooks/projects/{project}/", {})])
    return found


def _project_of(ping: httpx.Response | None) -> str | None:
    project = _json(ping).get("project_id") if ping is not None and ping.is_success else None
    return project if isinstance(project, str) and project else None


def probe_shared(mem0: Prober, klavis: Prober, prefix: str, wait: float,
                 sleep: Callable[[float], None] = time.sleep) -> tuple[bool, str]:
    """Initialize one verbatim memory of a run-prefixed user in a fresh run-tagged sandbox: does Mem0
    list it within ``wait`` seconds? The user (with its memories) and the sandbox are deleted again."""
    user, text = f"{prefix}-probe-shared", f"shared-store probe {prefix}"
    acquired, said = klavis.send("POST", "/sandbox/mem0", json={"tag": f"{prefix}-probe"})
    sandbox = _json(acquired).get("sandbox_id") if acquired is not None and acquired.is_success else None
    if acquired is None:  # no answer: as for every capability, assumed, so that the tests say what is wrong
        return True, f"{said}: assumed shared"
    if not isinstance(sandbox, str) or not sandbox:
        return False, f"{said}: no sandbox to probe with"
    try:
        item = {"message_list": [{"role": "user", "content": text}], "user_id": user,
                "auto_infer": False, "background_processing": False}
        initialized, said_init = klavis.send("POST", f"/sandbox/mem0/{sandbox}/initialize", json={"memory_list": [item]})
        if initialized is None or not initialized.is_success:
            return False, f"{said}, {said_init}: the probe memory was not stored"
        deadline = time.monotonic() + wait
        while True:
            listed, said_list = mem0.send("GET", "/v1/memories/", params={"user_id": user})
            if listed is not None and text in listed.text:
                return True, f"{said_init}, then {said_list} lists the sandbox's memory"
            if time.monotonic() >= deadline:
                return False, f"{said_init}, then {said_list} does not list it within {wait:g}s"
            sleep(0.2)
    finally:
        mem0.send("DELETE", f"/v2/entities/user/{user}/")
        klavis.send("DELETE", f"/sandbox/mem0/{sandbox}")


def _json(response: httpx.Response | None) -> dict[str, Any]:
    try:
        body = response.json() if response is not None else None
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _client(api: ApiTarget, timeout: float) -> httpx.Client:
    """The probes' client: the one HTTP layer with the probes' policy (one quick retry)."""
    return http_client(api, Recorder(limit=1000), timeout=timeout, policies=retries.PROBING, watched=False)


def discover(target: Target, prefix: str) -> tuple[CapabilityFinding, ...]:
    """Probe ``target`` (not the embedded server) for every capability of :data:`CATALOGUE`."""
    found: dict[str, tuple[bool, str]] = {}
    timeout = min(max(api.timeout for api in (target.mem0, target.klavis) if api is not None), 15.0)
    if target.mem0 is not None:
        with _client(target.mem0, timeout) as mem0:
            found.update(probe_mem0(Prober(mem0), prefix))
            if target.klavis is not None:
                with _client(target.klavis, timeout) as klavis:
                    found["shared_data"] = probe_shared(Prober(mem0), Prober(klavis), prefix, target.mem0.consistency_wait)
    findings = []
    for capability in CATALOGUE:
        api = target.api(capability.api)
        if api is None:
            continue
        pinned = target.shared_data if capability.name == "shared_data" else capability.name in api.capabilities
        offered, evidence = found.get(capability.name, (False, "needs both a Mem0 and a Klavis URL"))
        findings.append(CapabilityFinding(capability.name, offered, pinned, evidence))
    return tuple(findings)


def pinned_all(target: Target) -> tuple[CapabilityFinding, ...]:
    """The embedded reference server: it implements every capability, all pinned, nothing probed."""
    return tuple(CapabilityFinding(c.name, True, True, "implemented by the reference server") for c in CATALOGUE)


def apply(target: Target, findings: Iterable[CapabilityFinding]) -> Target:
    """``target`` with what a test may rely on: each capability offered or pinned (a pinned missing
    one still runs its tests, which then fail on the missing operations)."""
    usable = {f.name for f in findings if f.offered or f.pinned}
    apis = {name: replace(api, capabilities=frozenset(usable & PINNABLE[name]) | api.capabilities)
            for name, api in (("mem0", target.mem0), ("klavis", target.klavis)) if api is not None}
    return replace(target, **apis, shared_data=target.shared_data or "shared_data" in usable)
