"""Capability discovery (conformance/capabilities.py) against the reference server over loopback,
as it is and behind a proxy that hides the supplemented operations (a seed-only Mem0)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from conformance import capabilities, preflight
from conformance.capabilities import CATALOGUE, CapabilityFinding
from conformance.client import route_missing
from conformance.server import ServerSettings, ServerThread, create_app
from conformance.targets import ApiTarget, Target, TargetError, embedded, from_mapping
from tests.chaos import ChaosProxy
from tests.test_report_runs import KEYS, run, verdicts

SEED_ONLY = ("/v3/", "/v1/ping/", "/v1/event/", "/v2/profiles/")  # what a Mem0 of the seed documents lacks
LIFECYCLE = "test_memories.py::test_memory_lifecycle_matches_a_plain_model"


def answer(status: int, body: bytes, kind: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": kind})


@pytest.mark.parametrize(("response", "missing"), [
    (answer(404, b'{"detail": "Not Found"}'), True),  # Starlette's and FastAPI's own: no such route
    (answer(404, b"<html><h1>Not Found</h1></html>", "text/html"), True),  # a web server's page
    (answer(405, b'{"detail": "Method Not Allowed"}'), True),
    (answer(501, b""), True),
    (answer(404, b'{"error": "Event not found"}'), False),  # the API's own answer about an unknown id
    (answer(404, b'{"detail": "Not found."}'), False),  # Django REST framework's object lookup
    (answer(400, b'{"error": "messages is required"}'), False),
    (answer(500, b"Internal Server Error", "text/plain"), False),  # there, but broken: its tests must say so
])
def test_an_operation_is_missing_only_when_no_route_answers(response, missing):
    assert route_missing(response) is missing


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"])
    with ServerThread(create_app(settings)) as running:
        yield running


def target_of(url: str, *, klavis: bool = True, pinned: frozenset[str] = frozenset()) -> Target:
    return Target("probe", mem0=ApiTarget("mem0", url, KEYS["MEM0_API_KEY"], capabilities=pinned, consistency_wait=2),
                  klavis=ApiTarget("klavis", url, KEYS["KLAVIS_API_KEY"]) if klavis else None)


def offered(findings: tuple[CapabilityFinding, ...]) -> dict[str, bool]:
    return {finding.name: finding.offered for finding in findings}


def test_the_reference_server_offers_every_capability_and_the_probes_leave_nothing(server):
    target, findings = preflight.survey(target_of(server.url, pinned=frozenset({"v3"})), "probe1")
    assert offered(findings) == {c.name: True for c in CATALOGUE}
    assert [f.pinned for f in findings] == [c.name == "v3" for c in CATALOGUE]
    assert target.mem0.capabilities == capabilities.PINNABLE["mem0"] and target.shared_data
    assert "POST /v3/memories/ 200" in findings[1].evidence
    store = server.app.state.server.store
    assert not [m for m in store.memories.values() if "probe" in str(m.user_id)]  # the shared-store probe's memory
    probed = [s for s in store.sandboxes.values() if str(s["tag"]).startswith("mct-probe1")]
    assert [s["status"] for s in probed] == ["idle"]  # and its sandbox released


def test_a_seed_only_target_lacks_the_supplements_and_passes_the_preflight_without_ping(server):
    with ChaosProxy(server.url, trouble=None, missing=SEED_ONLY) as proxy:
        target, findings = preflight.survey(target_of(proxy.url, klavis=False), "probe2")
    assert offered(findings) == {"ping": False, "v3": False, "events": False, "webhooks": True, "profiles": False}
    assert "POST /v3/memories/ 404" in dict((f.name, f.evidence) for f in findings)["v3"]
    assert target.mem0.capabilities == {"webhooks"} and not target.shared_data
    assert proxy.counts["missing"] >= 5


def test_an_operation_that_answers_wrongly_still_counts_as_offered(server):
    """A defect must fail tests, never skip them: a ping without its project leaves webhooks assumed there."""
    def broken(body: bytes) -> bytes:
        return body.replace(b'"project_id"', b'"project"')

    with ChaosProxy(server.url, trouble=None, rewrite=broken) as proxy:
        _, findings = preflight.survey(target_of(proxy.url, klavis=False), "probe3")
    assert offered(findings) == {"ping": True, "v3": True, "events": True, "webhooks": True, "profiles": True}
    assert "assumed there" in dict((f.name, f.evidence) for f in findings)["webhooks"]


def test_a_probe_without_an_answer_leaves_the_capability_assumed(server):
    with ChaosProxy(server.url, healthy=1, trouble="reset") as proxy:  # the preflight's ping, then resets
        _, findings = preflight.survey(target_of(proxy.url, klavis=False), "probe4")
    assert all(f.offered for f in findings if f.name != "webhooks"), findings
    assert "no answer" in findings[1].evidence


def test_a_reset_now_and_then_does_not_stop_the_preflight(server):
    """A flaky network: every other request is reset. The preflight's probes are retried like the suite's
    requests, so the target is found reachable and every capability found (the GET probes with their
    answers; a POST that may change something is not sent again, and no answer leaves it assumed)."""
    with ChaosProxy(server.url, trouble="reset", every=2) as proxy:
        target, findings = preflight.survey(target_of(proxy.url), "probe5")
        resets = proxy.resets
    assert resets > 3 and offered(findings) == {c.name: True for c in CATALOGUE}
    evidence = {finding.name: finding.evidence for finding in findings}
    assert evidence["ping"] == "GET /v1/ping/ 200" and evidence["webhooks"].endswith(" 200"), evidence


def test_the_embedded_server_pins_every_capability():
    target = embedded("http://127.0.0.1:1")
    assert target.mem0.capabilities == capabilities.PINNABLE["mem0"] and target.shared_data
    assert all(f.pinned and f.offered for f in capabilities.pinned_all(target))


def test_a_target_file_pins_only_known_capabilities():
    raw = {"mem0": {"url": "http://x.example", "key": "${K}", "capabilities": ["v3", "vector"]}}
    with pytest.raises(TargetError, match="'vector', which is not a capability of mem0 .known: events, ping, profiles, v3, webhooks"):
        from_mapping(raw, source="t.toml", environ={"K": "k"})
    with pytest.raises(TargetError, match="not a capability of klavis"):
        from_mapping({"klavis": {"url": "http://x.example", "key": "${K}", "capabilities": ["v3"]}},
                     source="t.toml", environ={"K": "k"})


def test_pinned_missing_and_discovered_capabilities_are_applied():
    base = target_of("http://127.0.0.1:1", pinned=frozenset({"v3"}))
    findings = (CapabilityFinding("v3", False, True, "POST /v3/memories/ 404"), CapabilityFinding("events", True, False, "..."),
                CapabilityFinding("webhooks", False, False, "..."), CapabilityFinding("shared_data", False, False, "..."))
    applied = capabilities.apply(base, findings)
    assert applied.mem0.capabilities == {"v3", "events"} and not applied.shared_data
    assert findings[0].line() == "v3: MISSING (pinned) - POST /v3/memories/ 404"
    assert capabilities.apply(replace(base, shared_data=True), findings).shared_data


# --- whole runs through `mem0-conformance run`, the seed-only target as a live one -------------------------

SELECTION = (LIFECYCLE, "test_capabilities.py", "test_schema.py::test_mem0_operation[POST /v3/memories/]",
             "test_memories.py::test_pages_partition_the_listing")


def seed_only_run(tmp_path, faults: frozenset[str], *pinned: str, tests: tuple[str, ...] = SELECTION):
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], faults=faults)
    with ServerThread(create_app(settings)) as upstream, \
            ChaosProxy(upstream.url, trouble=None, missing=SEED_ONLY) as proxy:
        tmp_path.mkdir(parents=True, exist_ok=True)
        path = tmp_path / "seed-only.toml"
        path.write_text(f'name = "seed-only"\n[mem0]\nurl = "{proxy.url}"\ncapabilities = {list(pinned)!r}\n'
                        "consistency_wait = 2\n".replace("'", '"'), encoding="utf-8")
        return run(tmp_path, "--target", str(path), "--", "-p", "no:cacheprovider", *tests,
                   env={**KEYS, "MEM0_CONFORMANCE_PROFILE": "ci"})


def test_the_lifecycle_machine_runs_through_the_seed_operations_where_v3_is_missing(tmp_path):
    """No v3, no events, no ping: the machine still runs (v1 adds, v2 lists and searches) and catches a
    history defect; the v3 tests are skipped with the preflight's finding, recorded in the summary."""
    conforming = seed_only_run(tmp_path / "ok", frozenset())
    found = verdicts(conforming)
    assert conforming.code == 0, conforming.stdout[-4000:]
    assert found[LIFECYCLE] == "passed"
    assert found["test_memories.py::test_pages_partition_the_listing[v2-1]"] == "passed"
    assert found["test_memories.py::test_pages_partition_the_listing[v3-2]"] == "skipped"
    assert found["test_schema.py::test_mem0_operation[POST /v3/memories/]"] == "skipped"
    assert found["test_capabilities.py::test_a_pinned_or_discovered_capability_is_offered[webhooks]"] == "passed"
    run_info = conforming.summary()["runs"][0]
    assert run_info["capability.v3"].startswith("not offered - POST /v3/memories/add/ 404")
    assert "mem0-conformance: capability v3: not offered" in conforming.stdout

    faulty = seed_only_run(tmp_path / "faulty", frozenset({"history-missing-update"}), tests=(LIFECYCLE,))
    assert faulty.code == 1, faulty.stdout[-4000:]
    assert verdicts(faulty)[LIFECYCLE] == "failed"
    assert "/history/ holds" in faulty.stdout


def test_a_pinned_capability_that_is_missing_fails_instead_of_skipping(tmp_path):
    pinned = seed_only_run(tmp_path, frozenset(), "v3")
    found = verdicts(pinned)
    assert pinned.code == 1
    assert found["test_capabilities.py::test_a_pinned_or_discovered_capability_is_offered[v3]"] == "failed"
    assert found["test_memories.py::test_pages_partition_the_listing[v3-2]"] == "failed"
    # the schema test runs too: its generated requests get documented 404s, but its success path needs the 2xx
    assert found["test_schema.py::test_mem0_operation[POST /v3/memories/]"] == "failed"
    assert "POST /v3/memories/: the success path answered 404" in pinned.stdout
    assert "POST /v3/memories/" in pinned.summary()["apis"]["Mem0 platform"]["unexercised"]
    assert "the target lacks 'v3' (v3 add, list and search), pinned by the target file" in pinned.stdout
