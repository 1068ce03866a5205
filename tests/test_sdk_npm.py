"""The npm SDKs in the SDK guard (conformance/sdk/npm.py, npm/runner.cjs, npm/scenarios.yaml): the real
TypeScript SDKs from npm, run by Node.js through the recording proxy against the reference server."""

from __future__ import annotations

import json

import httpx
import pytest

from conformance.client import Exchange, Recorder, RecordingTransport
from conformance.reporting.summary import SURFACE_ATTACHMENT, SURFACE_GLOBALS
from conformance.sdk import npm
from conformance.sdk.calls import SdkCall, reproducer
from conformance.sdk.traffic import DRIFT, SdkDisagreement, check, judge
from conformance.server import ServerSettings, ServerThread, create_app
from tests.test_report_runs import KEYS
from tests.test_sdk_guard import guard

BASE = "http://127.0.0.1:1"


def test_an_npm_sdk_is_written_package_at_version():
    assert npm.NpmSdk.parse("npm:mem0ai@2.4.6") == npm.NpmSdk("mem0ai", "2.4.6")
    assert npm.NpmSdk.parse("klavis") == npm.NpmSdk("klavis", npm.PINNED["klavis"])
    assert str(npm.NpmSdk("mem0ai", "3.3.1")) == "npm:mem0ai@3.3.1"
    for wrong in ("mem0ai==3.3.1", "openai@4", "mem0ai@latest"):
        with pytest.raises(npm.NpmError, match="is not an npm SDK: write mem0ai@X.Y.Z"):
            npm.NpmSdk.parse(wrong)
    assert npm.chosen([]) == npm.default_sdks() and npm.chosen(["none"]) == ()
    with pytest.raises(npm.NpmError, match="names mem0ai twice"):
        npm.chosen(["mem0ai@3.3.1", "mem0ai@2.4.6"])


def test_the_pinned_versions_are_the_lock_folders_own():
    for package, version in npm.PINNED.items():
        lock = json.loads((npm.HERE / package / "package-lock.json").read_text(encoding="utf-8"))
        assert lock["packages"][f"node_modules/{package}"]["version"] == version
        assert "legacy-peer-deps=true" in (npm.HERE / package / ".npmrc").read_text(encoding="utf-8")
    assert npm.NpmSdk("mem0ai", "3.3.1").tool.lock == npm.HERE / "mem0ai"
    assert npm.NpmSdk("mem0ai", "2.4.6").tool.lock is None  # another version: npm install of that exact version


def test_paths_into_an_answer_and_references_to_kept_answers():
    answer = {"results": [{"id": "a", "memory": "x"}, {"id": "b", "memory": "y"}], "count": 2}
    assert npm.at(answer, ["results", "*", "id"]) == ["a", "b"]
    assert npm.at(answer, ["results", "length"]) == 2 and npm.at(answer, ["results", "1", "memory"]) == "y"
    kept = {"added": answer, "user": "mct-1-u"}

    def lookup(reference):
        root, *rest = reference.split(".")
        return npm.at(kept[root], rest)

    assert npm.substitute({"ids": ["$added.results.0.id"], "name": "${user}-hook", "n": 3}, lookup) == \
        {"ids": ["a"], "name": "mct-1-u-hook", "n": 3}
    assert npm._broken({"count": 2, "results.*.id": ["a", "b"]}, answer) == []
    assert npm._broken({"count": 3, "nothing.here": 1}, answer) == [
        "count is 2 where 3 is expected", 'nothing.here is "(missing)" where 1 is expected']


def test_every_data_scenario_names_a_fact_and_steps_of_one_call_each():
    facts = (npm.HERE.parents[2] / "specs" / "FACTS.md").read_text(encoding="utf-8")
    for package, scenarios in npm.scenario_data().items():
        assert package in npm.PINNED
        for scenario in scenarios:
            assert scenario["source"].strip("`") in facts or f"### {scenario['source']}" in facts, scenario["call"]
            for step in scenario["steps"]:
                assert len([key for key in step if key not in npm._RESERVED]) == 1, (scenario["call"], step)


def test_undeclared_query_parameters_and_body_fields_are_drift():
    listing = Exchange("GET", BASE + "/v1/entities/?page=1&page_size=100", (), "", 200,
                       json.dumps({"count": 0, "next": None, "previous": None, "results": []}), 0.01)
    assert {str(f) for f in check(listing) if "query" in f.message} == {
        "drift: GET /v1/entities/: sends the query parameter page, which the document does not declare",
        "drift: GET /v1/entities/: sends the query parameter page_size, which the document does not declare"}
    search = Exchange("POST", BASE + "/v3/memories/search/", (),
                      json.dumps({"query": "q", "filters": {"user_id": "u"}, "output_format": "v1.1"}), 200,
                      json.dumps({"results": []}), 0.01)
    assert [f.message for f in check(search) if "body field" in f.message] == [
        "sends the body field output_format, which the document does not declare"]


def test_a_path_no_document_has_is_the_sdk_s_finding_once_per_route():
    sent = Exchange("POST", BASE + "/sandbox/snowflake/3f1c9a4e-0d7b-4d8e-9a55-1c2b3d4e5f60/initialize", (), "{}", 404,
                    '{"detail": "Not Found"}', 0.01)
    (finding,) = check(sent)
    assert finding.kind == DRIFT and finding.operation == "POST /sandbox/snowflake/{id}/initialize"
    call = SdkCall("npm:klavis", "2.15.0", "KlavisClient.sandbox.initializeSandbox", '"3f1c", {}', [sent])
    call.error = npm.NodeRaised({"type": "KlavisError", "message": "Status code: 404", "status": 404, "at": ""})
    outcome = judge("klavis", [sent], check(sent), call.error, expectation="x", source="Add", calls=[call])
    assert isinstance(outcome, str) and outcome.startswith(
        "SDK and document disagree: npm:klavis 2.15.0 KlavisClient.sandbox.initializeSandbox(")
    assert "sent POST /sandbox/snowflake/{id}/initialize, which no effective document declares, and the target " \
           "answered 404" in outcome
    assert "Reproduce: npm install klavis@2.15.0; node -e 'const {KlavisClient} = require(\"klavis\");" in outcome
    found = judge("klavis", [sent], [], SdkDisagreement("SDK and document disagree: types"), expectation="x",
                  source="Add", calls=[call])
    assert found.startswith("SDK and document disagree: types; npm:klavis 2.15.0 KlavisClient.sandbox")


def test_a_node_reproducer_reads_the_key_from_its_variable():
    call = SdkCall("npm:mem0ai", "3.3.1", "MemoryClient.search", '"tea", {"filters": {"user_id": "u"}}')
    line = reproducer(call, "http://127.0.0.1:8000")
    assert line.startswith("npm install mem0ai@3.3.1; node -e 'const {MemoryClient} = require(\"mem0ai\");")
    assert 'new MemoryClient({apiKey: process.env.MEM0_API_KEY, host: "http://127.0.0.1:8000"}).search("tea", ' in line
    fetched = reproducer(SdkCall("npm:klavis", "2.15.0", "fetch", '"GET", "/sandbox/mem0/s1/dump"'), "http://h")
    assert 'fetch("http://h/sandbox/mem0/s1/dump", {method: "GET", headers: {"Content-Type": "application/json", ' \
        'Authorization: "Bearer " + process.env.KLAVIS_API_KEY}})' in fetched


@pytest.fixture(scope="module")
def server():
    with ServerThread(create_app(ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"]))) as s:
        yield s


def test_the_recording_proxy_forwards_and_records_each_exchange_keys_redacted(server):
    recorder = Recorder()
    client = httpx.Client(transport=RecordingTransport(recorder, secrets=(KEYS["MEM0_API_KEY"],)))
    with npm.RecordingProxy(server.url, client) as proxy:
        answer = httpx.get(proxy.url + "/v1/ping/", headers={"Authorization": f"Token {KEYS['MEM0_API_KEY']}"})
    (exchange,) = list(recorder)
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert exchange.url == server.url + "/v1/ping/" and exchange.status == 200
    assert KEYS["MEM0_API_KEY"] not in repr(exchange)
    with npm.RecordingProxy("http://127.0.0.1:9", client) as proxy:  # nothing listens there
        assert httpx.get(proxy.url + "/v1/ping/").status_code == 502
    assert list(recorder)[-1].error is not None


def test_the_npm_sdks_run_against_the_reference_server_their_defects_reported_as_findings(tmp_path):
    outcome = guard(tmp_path, npm="mem0ai@3.3.1,klavis@2.15.0", select="npm")
    assert outcome.code == 0, outcome.stdout[-4000:]
    summary = outcome.summary()
    features = summary["apis"]["SDK"]["features"]
    assert set(features) == {"mem0ai 3.3.1 (npm)", "klavis 2.15.0 (npm)"}
    mem0ai = [data for test, data in summary["tests"].items() if "[npm:mem0ai: " in test]
    assert len(mem0ai) == len(npm.scenario_data()["mem0ai"]) and {d["verdict"] for d in mem0ai} == {"passed"}
    klavis = {test.partition("[npm:klavis: ")[2].rstrip("]"): data for test, data in summary["tests"].items()
              if "[npm:klavis: " in test}
    assert klavis["createSandbox, getSandbox, resetSandbox, deleteSandbox (mem0)"]["verdict"] == "passed"
    for name in ("initializeSandbox of a mem0 sandbox", "dumpSandbox of a mem0 sandbox"):
        assert klavis[name]["verdict"] == "deviation"  # a finding about the SDK: reported, the run stays green
        assert "/sandbox/snowflake/{id}/" in klavis[name]["message"]
        assert "which no effective document declares, and the target answered 404" in klavis[name]["message"]
    types = klavis["a mem0 sandbox initialized with a body of the SDK's types"]
    assert types["verdict"] == "deviation" and "body.data.memory_list.length is 0 where 1 is expected" in types["message"]
    surfaces = summary["sdk_surface"]
    assert (len(surfaces["mem0ai 3.3.1 (npm)"]["exercised"]), surfaces["mem0ai 3.3.1 (npm)"]["gaps"]) == (29, [])
    assert (len(surfaces["klavis 2.15.0 (npm)"]["exercised"]), surfaces["klavis 2.15.0 (npm)"]["gaps"]) == (6, [])
    # the same coverage is a global attachment of the Allure report
    results = outcome.reports / "allure-results"
    (attachment,) = json.loads((results / SURFACE_GLOBALS).read_text(encoding="utf-8"))["attachments"]
    assert attachment["name"] == "SDK surface coverage" and attachment["source"] == SURFACE_ATTACHMENT
    shown = (results / SURFACE_ATTACHMENT).read_text(encoding="utf-8")
    assert "- **mem0ai 3.3.1 (npm): 29 of 29 public calls exercised by a scenario" in shown
    assert "  - `KlavisClient.sandbox.dumpSandbox`: npm:klavis: dumpSandbox of a mem0 sandbox" in shown
    drift = summary["sdk_drift"]["mem0ai 3.3.1 (npm)"]
    assert "POST /v3/memories/search/: sends the body field output_format, which the document does not declare" in drift
    assert "GET /v1/entities/: sends the query parameter page_size, which the document does not declare" in drift
    texts = "".join(path.read_text(encoding="utf-8", errors="replace")
                    for path in (outcome.reports / "allure-results").iterdir())
    assert all(key not in texts for key in KEYS.values())
    assert "MemoryClient.add([{\"role\": \"user\", \"content\": \"I keep bees on the roof\"}]" in texts


def test_a_planted_fault_fails_the_npm_scenario_that_meets_it(tmp_path):
    outcome = guard(tmp_path, "search-answers-bare-list", npm="mem0ai@3.3.1", select="npm and search")
    assert outcome.code == 1
    (search,) = [data for test, data in outcome.summary()["tests"].items()
                 if test.endswith("[npm:mem0ai: add, then getAll and search with the user's filter]")]
    assert search["verdict"] == "failed"
    assert "npm:mem0ai 3.3.1 MemoryClient.search(\"bees\", {\"filters\": {\"user_id\": \"mct-" in search["message"]
    assert ("the target's answer breaks the documents (POST /v3/memories/search/: the 200 answer at (root): "
            "an array where an object (with results) is documented)") in search["message"]


def test_sdk_compare_of_two_npm_mem0ai_versions_lists_the_move_to_the_v3_paths(tmp_path):
    from tests.test_report_runs import mem0_conformance

    result = mem0_conformance("sdk", "compare", "npm:mem0ai@2.4.6", "npm:mem0ai@3.3.1", "--reports", "cmp", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    out = result.stdout
    assert "npm:mem0ai@2.4.6 -> npm:mem0ai@3.3.1" in out
    assert "calls that moved to other operations: 3\n" in out
    assert "  MemoryClient.getAll: GET /v1/memories/ -> POST /v3/memories/\n" in out
    assert "  MemoryClient.search: POST /v1/memories/search/ -> POST /v3/memories/search/\n" in out
    assert "MemoryClient.add: " in out and "POST /v1/memories/ -> POST /v3/memories/add/\n" in out
    assert "scenarios passing with npm:mem0ai@2.4.6 only (regressions): none" in out
    assert "  POST /v3/memories/search/  (fields: filters, output_format, query)\n" in out
    assert "  MemoryClient.getProfile  (the whole call)\n" in out  # a method the newer version added
    assert "calls new in npm:mem0ai@3.3.1 that no scenario exercises: none" in out  # each of them exercised
    assert "POST /v3/memories/search/: sends the body field output_format, which the document does not declare" in out
    assert (tmp_path / "cmp" / "npm-mem0ai-2.4.6" / "summary.json").is_file()


def test_an_npm_version_is_written_npm_package_at_version():
    from conformance.sdk.compare import CompareError, Pin

    pin = Pin.parse("npm:klavis@2.15.0")
    assert (pin.sdk, pin.version, str(pin), pin.folder) == ("npm:klavis", "2.15.0", "npm:klavis@2.15.0",
                                                             "npm-klavis-2.15.0")
    with pytest.raises(CompareError, match="npm:mem0ai@X.Y.Z or npm:klavis@X.Y.Z"):
        Pin.parse("mem0ai@3.3.1")
