"""The SDK guard (conformance/sdk, the suite's test_sdk.py): the real mem0ai and klavis SDKs against
the reference server, their traffic checked against the effective documents."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from conformance.client import Exchange
from conformance.reporting.summary import FORMAT
from conformance.sdk.scenarios import SCENARIOS
from conformance.sdk.traffic import DRIFT, VIOLATION, TrafficFinding, check, judge
from conformance.verdicts import ContractViolation, TargetBroken
from tests.test_cli import EXE
from tests.test_report_runs import KEYS, Run, run

BASE = "http://127.0.0.1:1"


def exchange(method: str, path: str, status: int | None, answer: object = None, sent: object = None) -> Exchange:
    return Exchange(method, BASE + path, (), json.dumps(sent) if sent is not None else "", status,
                    json.dumps(answer) if answer is not None else "", 0.01)


PING = {"status": "ok", "org_id": "o", "project_id": "p", "user_email": None}


@pytest.mark.parametrize(("sent", "kinds"), [
    (exchange("GET", "/v1/memories/3f1c9a4e-0d7b-4d8e-9a55-1c2b3d4e5f60/", 200,
              {"id": "3f1c9a4e-0d7b-4d8e-9a55-1c2b3d4e5f60", "memory": "tea",
               "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}), []),
    (exchange("GET", "/v1/ping/", 200, PING), [DRIFT]),  # a supplement: beyond the seed documents
    (exchange("GET", "/v1/ping/", 200, {"status": "ok", "org_id": "o"}), [DRIFT, VIOLATION]),  # project_id missing
    (exchange("GET", "/v1/ping/", 418, {"detail": "teapot"}), [DRIFT, VIOLATION]),  # an undeclared status
    (exchange("GET", "/v9/nothing/", 404, {"detail": "Not Found"}), [DRIFT]),  # no such operation
    (exchange("POST", "/v1/memories/", None, sent={"messages": "not a list"}), [DRIFT]),  # the SDK sends what the spec refuses
])
def test_each_exchange_is_held_to_the_documents(sent, kinds):
    assert [finding.kind for finding in check(sent)] == kinds


def test_a_violation_names_the_field():
    (_, violation) = check(exchange("GET", "/v1/ping/", 200, {"status": "ok", "org_id": "o"}))
    assert violation.operation == "GET /v1/ping/" and "'project_id' is a required property" in violation.message


def test_judge_tells_target_violations_sdk_defects_and_broken_targets_apart():
    ok = [exchange("GET", "/v1/ping/", 200, PING)]
    bad = TrafficFinding(VIOLATION, "GET /v1/ping/", "the 200 answer at (root): 'project_id' is a required property")
    args = {"expectation": "x", "source": "Add"}
    assert judge("sdk 1 call()", ok, [], None, **args) is None
    assert isinstance(judge("sdk 1 call()", ok, [bad], None, **args), ContractViolation)
    defect = judge("sdk 1 call()", ok, [], TypeError("bad unpack"), **args)
    assert isinstance(defect, str) and defect.startswith("SDK defect: sdk 1 call() raised TypeError")
    refused = judge("sdk 1 call()", [exchange("GET", "/v1/ping/", 401, {"detail": "no"})], [], ValueError("401"), **args)
    assert isinstance(refused, ContractViolation) and "surfacing the target's 401" in refused.title
    assert isinstance(judge("sdk 1 call()", [exchange("GET", "/v1/ping/", None)], [], OSError("reset"), **args),
                      TargetBroken)
    sent = exchange("POST", "/v1/exports/", 400, {"error": "schema is not of type 'object'"}, sent={"schema": "{}"})
    disagree = judge("sdk 1 export()", [sent], check(sent), ValueError("400"), **args)
    assert isinstance(disagree, str) and disagree.startswith("SDK and document disagree: sdk 1 export() sent what")


def guard(tmp_path: Path, *faults: str, npm: str = "none", select: str | None = None) -> Run:
    """``run --sdk-only`` against the embedded server, which accepts the canary keys (never to be seen in the
    results); the Python SDKs only unless ``npm`` names npm SDKs (``select``: a ``-k`` expression)."""
    return run(tmp_path, "--sdk-only", *(arg for fault in faults for arg in ("--fault", fault)),
               *(arg for sdk in npm.split(",") for arg in ("--npm-sdk", sdk)), "--",
               "-p", "no:cacheprovider", *(("-k", select) if select else ()), env=KEYS)


def test_both_sdks_run_green_against_the_reference_server_under_an_sdk_epic(tmp_path):
    outcome = guard(tmp_path)
    assert outcome.code == 0, outcome.stdout[-4000:]
    summary = outcome.summary()
    assert set(summary["apis"]) == {"SDK"}
    features = summary["apis"]["SDK"]["features"]
    assert {name.split()[0] for name in features} == {"mem0ai", "klavis"}
    assert summary["totals"]["passed"] == len(SCENARIOS) - 1 and summary["totals"]["deviation"] == 1
    # mem0ai annotates the export's schema as a string; the document says object: a finding, not a failure
    (export,) = [test for test, data in summary["tests"].items() if data["verdict"] == "deviation"]
    assert "create_memory_export" in export
    assert "SDK and document disagree" in summary["tests"][export]["message"]
    assert "the request body at schema: a string" in summary["tests"][export]["message"]
    results = [json.loads(path.read_text(encoding="utf-8")) for path in (outcome.reports / "allure-results").glob("*-result.json")]
    # one Allure step per SDK call, named as the call is written, the key never shown
    (paging,) = [result for result in results if "page_size=2" in result["name"]]
    steps = [step["name"] for step in paging["steps"]]
    assert len(steps) == 5 and steps[0].startswith("MemoryClient.add('Has a cat', user_id='mct-")
    assert steps[-1].endswith("page=2, page_size=2)") and all(step["status"] == "passed" for step in paging["steps"])
    texts = {path.name: path.read_text(encoding="utf-8") for path in (outcome.reports / "allure-results").glob("*-attachment*")}
    calls = [text for text in texts.values() if text.startswith(f"mem0ai {metadata.version('mem0ai')}: MemoryClient(")
             and "> GET http" in text]  # the records of the constructions (not the scenario's list of calls)
    assert calls and "api_key=[redacted]" in calls[0] and "/v1/ping/" in calls[0]
    assert "duration:" in calls[0] and "outcome: returned" in calls[0] and all(key not in "".join(texts.values()) for key in KEYS.values())
    async_calls = [text for text in texts.values() if text.startswith("mem0ai ") and ": AsyncMemoryClient(" in text]
    assert len(async_calls) == 3  # the three asynchronous scenarios' constructions; each ping went through requests:
    assert all("GET http" in text and "/v1/ping/" in text for text in async_calls)  # recorded too
    drift = "\n".join(text for text in texts.values() if text.startswith("drift: "))
    assert "drift: GET /v1/ping/: not in the vendored seed documents" in drift
    assert "drift: POST /v3/memories/: not in the vendored seed documents" in drift
    assert "conformance/sdk/versions.py" not in drift  # every call sent what its version's row says
    # the summary lists the drift apart from the verdicts, per SDK version
    assert "GET /v1/ping/: not in the vendored seed documents (a supplement of this project)" in \
        summary["sdk_drift"][f"mem0ai {metadata.version('mem0ai')}"]
    assert "## SDK drift" in (outcome.reports / "summary.md").read_text(encoding="utf-8")
    # every public call of both SDKs is exercised by a scenario, or not driven with its reason (chat, reset)
    for sdk in ("mem0ai", "klavis"):
        coverage = summary["sdk_surface"][f"{sdk} {metadata.version(sdk)}"]
        assert coverage["gaps"] == [] and set(coverage["not_driven"]) <= {
            f"{client}.{call}" for client in ("MemoryClient", "AsyncMemoryClient") for call in ("chat", "reset")}


def test_a_ping_without_project_fails_sdk_construction_naming_call_and_field(tmp_path):
    outcome = guard(tmp_path, "ping-missing-project-id")
    assert outcome.code == 1
    assert (f"mem0ai {metadata.version('mem0ai')} MemoryClient(api_key=[redacted], host='http://127.0.0.1:") in outcome.stdout
    assert ("client=<Client>): the target's answer breaks the documents (GET /v1/ping/: the 200 answer at (root): "
            "'project_id' is a required property)") in outcome.stdout


def test_a_search_answering_a_bare_list_fails_the_search_call_naming_the_field(tmp_path):
    """The regression users met between versions: search answering [...] where {"results": [...]} is documented."""
    outcome = guard(tmp_path, "search-answers-bare-list")
    found = {test: data for test, data in outcome.summary()["tests"].items()}
    assert outcome.code == 1
    (search,) = [data for test, data in found.items() if test.endswith("[mem0ai: search(query, filters={'user_id': u})]")]
    assert search["verdict"] == "failed"
    assert (f"mem0ai {metadata.version('mem0ai')} MemoryClient.search('hiking', filters={{'user_id': 'mct-"
            in search["message"])
    assert ("the target's answer breaks the documents (POST /v3/memories/search/: the 200 answer at (root): "
            "an array where an object (with results) is documented)") in search["message"]


def test_a_dump_without_its_timestamp_fails_the_klavis_scenarios_naming_the_field(tmp_path):
    outcome = guard(tmp_path, "dump-missing-dumped-at")
    found = {test: data for test, data in outcome.summary()["tests"].items() if "klavis:" in test}
    assert outcome.code == 1
    dumping = list(found.values())  # every klavis scenario dumps
    assert len(dumping) == 3 and {data["verdict"] for data in dumping} == {"failed"}
    assert all("dump_mem0sandbox(" in data["message"] and "'dumped_at' is a required property" in data["message"]
               for data in dumping)


# --- sdk compare -------------------------------------------------------------------------------------------

def reports_of(folder: Path, version: str, verdicts: dict[str, str], traffic: list[dict]) -> Path:
    """A reports folder as a guard run leaves it: summary.json and the scenarios' traffic."""
    results = folder / "allure-results"
    results.mkdir(parents=True)
    tests = {f"test_sdk.py::test_sdk_scenario[mem0ai: {name}]": {"verdict": verdict, "message": ""}
             for name, verdict in verdicts.items()}
    (folder / "summary.json").write_text(json.dumps({"format": FORMAT, "tests": tests}), encoding="utf-8")
    lines = [json.dumps({"sdk": "mem0ai", "version": version, "scenario": "s", **line}) for line in traffic]
    (results / "sdk-traffic-main.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_compare_lists_regressions_new_traffic_changed_fields_and_new_drift(tmp_path):
    from conformance.sdk.compare import Pin, compare, render

    old = reports_of(tmp_path / "old", "1.0.11", {"get(memory_id)": "passed", "feedback(...)": "deviation"},
                     [{"operations": {"POST /v2/memories/": ["filters", "org_id"], "GET /v1/ping/": []}, "drift": []}])
    new = reports_of(tmp_path / "new", "2.2.1", {"get(memory_id)": "failed", "feedback(...)": "passed"},
                     [{"operations": {"POST /v2/memories/": ["filters"], "POST /v3/memories/": ["filters"],
                                      "GET /v1/ping/": []}, "drift": ["drift: POST /v3/memories/: a supplement"]}])
    result = compare(Pin.parse("mem0ai==1.0.11"), Pin.parse("mem0ai==2.2.1"), old, new)
    assert result.regressed and result.only_old == ["get(memory_id)"] and result.only_new == ["feedback(...)"]
    assert result.sent_new == {"POST /v3/memories/": ["filters"]} and result.sent_old == {}
    assert result.fields == {"POST /v2/memories/": (["org_id"], [])}
    assert result.drift_new == ["drift: POST /v3/memories/: a supplement"]
    text = render(result)
    assert "operations mem0ai==2.2.1 calls that mem0ai==1.0.11 does not: 1\n  POST /v3/memories/  (fields: filters)" in text
    assert text.endswith("mem0ai==2.2.1 REGRESSES against mem0ai==1.0.11")


@pytest.mark.parametrize("spec", ["mem0ai", "mem0ai>=1", "openai==1.0.0", "mem0ai==latest"])
def test_an_sdk_version_is_written_name_equals_version(spec):
    from conformance.sdk.compare import CompareError, Pin

    with pytest.raises(CompareError, match="is not an SDK version: write mem0ai==X.Y.Z or klavis==X.Y.Z"):
        Pin.parse(spec)


def test_sdk_compare_of_mem0ai_1_0_11_and_2_2_1_against_the_reference_server(tmp_path):
    """The real thing: both versions installed (once, into the project's cache), both guards run against one
    reference server; 2.2.1 calls v3 add, list and search that 1.0.11 does not, and does not regress."""
    result = subprocess.run([EXE, "sdk", "compare", "mem0ai==1.0.11", "mem0ai==2.2.1", "--reports", str(tmp_path)],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    new_traffic = out[out.index("operations mem0ai==2.2.1 calls that mem0ai==1.0.11 does not"):]
    for path in ("POST /v3/memories/add/", "POST /v3/memories/  ", "POST /v3/memories/search/"):
        assert path in new_traffic.split("operations mem0ai==1.0.11 calls")[0]
    assert "scenarios passing with mem0ai==1.0.11 only (regressions): none" in out
    assert "calls and arguments mem0ai==1.0.11 has and mem0ai==2.2.1 does not (code using them breaks): " in out
    assert "  MemoryClient(org_id, project_id)\n" in out
    # 1.0.11 is green against the reference server: its own defects are findings, not failures
    old = json.loads((tmp_path / "mem0ai-1.0.11" / "summary.json").read_text())
    assert {test["verdict"] for test in old["tests"].values()} == {"passed", "deviation", "skipped"}
    skipped = [ident for ident, test in old["tests"].items() if test["verdict"] == "skipped"]
    # 1.0.11 has no memory profile methods (the compare's own reference server lets the settings scenarios run)
    assert len(skipped) == 2 and all("profile" in ident for ident in skipped)
    # its feedback() raises TypeError after a 200: an SDK defect, with where it raised and how to reproduce it
    (feedback,) = [test for ident, test in old["tests"].items() if "feedback(" in ident]
    assert feedback["verdict"] == "deviation" and "SDK defect: mem0ai 1.0.11 MemoryClient.feedback(" in feedback["message"]
    (whole,) = [result["statusDetails"]["message"] for result in map(json.loads, map(Path.read_text, (
        tmp_path / "mem0ai-1.0.11" / "allure-results").glob("*-result.json"))) if "feedback(" in result["name"]]
    assert "raised TypeError" in whole and "at mem0/client/main.py:" in whole
    assert "Reproduce: pip install 'mem0ai==1.0.11'; python -c \"import asyncio, os; from mem0 import MemoryClient;" in whole
    # its documented get_all(user_id=...) sends the id where the v2 document wants filters: "filters are required"
    (documented,) = [test for ident, test in old["tests"].items() if "as the version documents them" in ident]
    assert documented["verdict"] == "deviation" and "'filters' is a required property" in documented["message"]
    new = json.loads((tmp_path / "mem0ai-2.2.1" / "summary.json").read_text())
    (top_level,) = [test for ident, test in new["tests"].items() if "top-level entity ids" in ident]
    assert top_level["verdict"] == "passed"  # 2.x refuses them itself, before sending anything


def test_sdk_compare_of_klavis_2_19_and_2_20(tmp_path):
    """klavis renamed initialize_mem0sandbox's arguments: code passing memory_list= breaks, and 2.19's model of
    the acquire answer requires a server_url the document does not declare (a disagreement, reported)."""
    result = subprocess.run([EXE, "sdk", "compare", "klavis==2.19.0", "klavis==2.20.0", "--reports", str(tmp_path)],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "scenarios passing with klavis==2.19.0 only (regressions): none" in out
    assert "  Klavis.sandbox.initialize_mem0sandbox(memory_list)\n" in out.split("calls and arguments new in")[0]
    assert "  Klavis.sandbox.initialize_mem0sandbox(init_default_data, request)\n" in out.split("calls and arguments new in")[1]
    old = json.loads((tmp_path / "klavis-2.19.0" / "summary.json").read_text())
    klavis = {ident: test for ident, test in old["tests"].items() if "[klavis: " in ident}
    assert sorted(test["verdict"] for test in klavis.values()) == ["deviation", "deviation", "skipped"]
    assert all("server_url Field required" in test["message"] for test in klavis.values() if test["verdict"] == "deviation")


def test_compare_lists_calls_and_arguments_one_version_has_and_the_other_not(tmp_path):
    from conformance.sdk.compare import Pin, compare, render

    folders = []
    for name, calls in (("old", {"MemoryClient": ["api_key", "org_id"], "MemoryClient.update": ["memory_id", "text"],
                                 "MemoryClient.chat": []}),
                        ("new", {"MemoryClient": ["api_key"], "MemoryClient.update": ["memory_id", "options", "**kwargs"],
                                 "MemoryClient.get_profile": ["entity_id"]})):
        folder = reports_of(tmp_path / name, "1", {}, [])
        (folder / "allure-results" / "sdk-surface-mem0ai.json").write_text(json.dumps({"calls": calls}), encoding="utf-8")
        folders.append(folder)
    result = compare(Pin.parse("mem0ai==1.0.0"), Pin.parse("mem0ai==2.0.0"), *folders)
    assert result.removed == {"MemoryClient": ["org_id"], "MemoryClient.chat": [],
                              "MemoryClient.update": ["text (only through **kwargs now)"]}
    assert result.added == {"MemoryClient.get_profile": [], "MemoryClient.update": ["options", "**kwargs"]}
    assert not result.regressed  # breaking for callers, said, but no scenario regressed
    assert "  MemoryClient.chat  (the whole call)\n  MemoryClient.update(text (only through **kwargs now))" in render(result)
    # the new version's get_profile: no scenario of its run called it (its traffic is empty here)
    assert result.unexercised == ["MemoryClient.get_profile"]
    assert "calls new in mem0ai==2.0.0 that no scenario exercises: 1\n  MemoryClient.get_profile\n" in render(result)
