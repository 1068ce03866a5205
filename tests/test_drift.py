"""`specs drift` and `run --drift`, with the real diff engine (Optic, installed with npm on first use).

The newer documents here are the vendored ones with published-looking edits, written to files:
the command reads them as a user's download. (The upstream documents the README shows are not
part of the project; these stand in for them.)
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conformance.drift.classify import ADDITIVE, CLIENTS, DOCUMENTATION, SERVERS
from conformance.drift.explain import MARK, explain
from conformance.drift.report import compare
from conformance.specs import api_spec
from tests.test_cli import EXE, run

pytestmark = pytest.mark.slow


def changes_of(comparison) -> dict[tuple[str, str, str], tuple[str, str | None, str | None]]:
    return {(c.finding.operation, c.finding.kind, c.finding.subject): (c.klass, c.old, c.new) for c in comparison.changes}


def test_a_small_pair_of_documents_gets_every_class_with_pointers_through_refs():
    """The engine on two small documents: each class, and pointers into the component a $ref leads to."""
    memory = {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string"}, "immutable": {"type": "boolean"}, "text": {"type": "string", "description": "old"}}}
    older = {"openapi": "3.0.3", "info": {"title": "older", "version": "1"}, "components": {"schemas": {"Memory": memory}},
             "paths": {
                 "/memories/": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {
                     "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Memory"}}}}}}}},
                 "/memories/{id}/": {"delete": {"responses": {"204": {"description": "gone"}}}},
                 "/search": {"post": {"operationId": "search", "requestBody": {"content": {"application/json": {"schema": {
                     "type": "object", "properties": {"mode": {"type": "string", "enum": ["fast", "deep"]}}}}}},
                     "responses": {"200": {"description": "ok"}}}},
                 "/stats/": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    newer = copy.deepcopy(older)
    schemas, paths = newer["components"]["schemas"], newer["paths"]
    del schemas["Memory"]["properties"]["immutable"]  # breaking for clients (a response field removed)
    schemas["Memory"]["properties"]["score"] = {"type": "number"}  # additive
    schemas["Memory"]["properties"]["text"]["description"] = "new"  # documentation only
    paths["/memories/{id}/"]["delete"]["responses"] = {"200": {"description": "gone"}}  # a success status changed
    body = paths["/search"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body["properties"]["mode"]["enum"].append("hybrid")  # breaking for servers (a request enum widened)
    body["properties"]["tenant"] = {"type": "string"}
    body["required"] = ["tenant"]  # breaking for clients (a new required request field)
    paths["/v2/search/"] = {"post": paths.pop("/search")["post"]}  # moved: the same operationId
    del paths["/stats/"]  # removed
    paths["/memories/export/"] = {"get": {"responses": {"200": {"description": "ok"}}}}  # added
    paths["/billing/"] = {"get": {"responses": {"200": {"description": "ok"}}}}  # added beyond the API's paths

    comparison = compare("older", older, newer, quiet=True)
    found = changes_of(comparison)
    memory_pointer = "#/components/schemas/Memory/properties"
    assert found[("GET /memories/", "response field removed", "[].immutable")] == (
        CLIENTS, f"{memory_pointer}/immutable", memory_pointer)
    assert found[("GET /memories/", "response field added", "[].score")] == (ADDITIVE, memory_pointer, f"{memory_pointer}/score")
    assert found[("GET /memories/", "description changed", "[].text")][0] == DOCUMENTATION
    assert found[("DELETE /memories/{id}/", "success status changed", "")] == (
        CLIENTS, "#/paths/~1memories~1{id}~1/delete/responses/204", "#/paths/~1memories~1{id}~1/delete/responses/200")
    assert found[("POST /v2/search/", "operation moved", "")] == (
        CLIENTS, "#/paths/~1search/post", "#/paths/~1v2~1search~1/post")
    body_pointer = "/requestBody/content/application~1json/schema/properties"
    assert found[("POST /v2/search/", "request enum widened", "mode")] == (
        SERVERS, f"#/paths/~1search/post{body_pointer}/mode/enum", f"#/paths/~1v2~1search~1/post{body_pointer}/mode/enum")
    assert found[("POST /v2/search/", "new required request field", "tenant")][0] == CLIENTS
    assert found[("GET /stats/", "operation removed", "")][0] == CLIENTS
    assert found[("GET /memories/export/", "operation added", "")] == (ADDITIVE, None, "#/paths/~1memories~1export~1/get")
    assert comparison.out_of_scope == ["GET /billing/"] and ("GET /billing/", "operation added", "") not in found


@pytest.fixture(scope="module")
def newer_mem0(tmp_path_factory) -> Path:
    """The vendored Mem0 document as a provider might republish it: an operation gone, one added, a new
    required request field, and GET /v1/ping/ (one of the project's supplements) published without
    requiring project_id in its answer."""
    document = api_spec("mem0").pristine()
    del document["paths"]["/v1/stats/"]
    document["paths"]["/v1/brand-new/"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    memory_input = document["components"]["schemas"]["MemoryInput"]
    memory_input["properties"]["tenant"] = {"type": "string"}
    memory_input["required"] = ["messages", "tenant"]
    ping = copy.deepcopy(api_spec("mem0").effective()["paths"]["/v1/ping/"])
    del ping["get"]["x-conformance-supplement"], ping["x-conformance-supplement"]
    answer = ping["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    answer["required"] = [name for name in answer["required"] if name != "project_id"]
    ping["get"]["responses"] = {"200": ping["get"]["responses"]["200"]}
    ping["get"]["responses"]["200"].pop("links", None)
    document["paths"]["/v1/ping/"] = ping
    path = tmp_path_factory.mktemp("drift") / "mem0-newer.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def drift_json(newer_mem0: Path) -> tuple[subprocess.CompletedProcess[str], dict, Path]:
    output = newer_mem0.with_name("drift-mem0.json")
    result = run("specs", "drift", str(newer_mem0), "--format", "json", "--output", str(output))
    return result, json.loads(output.read_text(encoding="utf-8")), output


def test_specs_drift_gates_on_the_provider_s_breaking_changes(drift_json):
    """Exit 1 and the JSON: the published changes, classified, with pointers into both documents."""
    result, report, _ = drift_json
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout) == report
    assert report["api"] == "mem0" and report["breaking"] is True
    published = {(c["operation"], c["kind"], c["subject"]): c for c in report["published"]["changes"]}
    removed = published[("GET /v1/stats/", "operation removed", "")]
    assert (removed["class"], removed["older"], removed["newer"]) == (CLIENTS, "#/paths/~1v1~1stats~1/get", None)
    required = published[("POST /v1/memories/", "new required request field", "tenant")]
    assert required["newer"] == "#/components/schemas/MemoryInput/properties/tenant"
    assert published[("GET /v1/brand-new/", "operation added", "")]["class"] == ADDITIVE
    assert report["published"]["counts"][CLIENTS] == sum(c["class"] == CLIENTS for c in report["published"]["changes"])


def test_the_effective_document_s_own_differences_name_their_overlay_actions(drift_json):
    """Against the effective document, what the provider did not publish is the project's: the 401s the
    errors overlay declares are listed with that overlay action."""
    _, report, _ = drift_json
    ours = [c for c in report["effective"]["changes"] if "ours" in c]
    unauthorized = [c for c in ours if c["kind"] == "status code no longer documented" and c["where"] == "response 401"]
    assert len(unauthorized) > 40 and all(c["ours"] for c in unauthorized)
    seed = {c["operation"]: c["ours"] for c in unauthorized}["GET /v1/memories/"]  # a seed operation: the errors overlay
    assert [ref.partition("#")[0] for ref in seed] == ["0003-errors.overlay.yaml"]
    supplement = {c["operation"]: c["ours"] for c in unauthorized}["GET /v1/ping/"]  # a supplement declares its own
    assert supplement == ["0004-supplements.overlay.yaml#0"]
    published = [c for c in report["effective"]["changes"] if "ours" not in c]
    assert any(c["operation"] == "GET /v1/stats/" and c["kind"] == "operation removed" for c in published)


def test_supplements_are_compared_with_what_the_provider_published(drift_json):
    """GET /v1/ping/ is published and differs (project_id no longer required); the other supplements are not published."""
    _, report, _ = drift_json
    supplements = {s["operation"]: s for s in report["supplements"]}
    assert supplements["GET /v1/ping/"]["published"] is True
    (difference,) = [c for c in supplements["GET /v1/ping/"]["changes"] if c["subject"] == "project_id"]
    assert (difference["class"], difference["kind"]) == (CLIENTS, "response field became optional")
    assert difference["ours"] == ["0004-supplements.overlay.yaml#0"]
    assert not supplements["POST /v3/memories/search/"]["published"]


def test_specs_drift_text_lists_breaking_changes_by_operation(newer_mem0: Path):
    result = run("specs", "drift", str(newer_mem0), "--api", "mem0")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index("    GET /v1/stats/")
    assert lines[at + 1:at + 4] == ["      operation: operation removed", "          vendored #/paths/~1v1~1stats~1/get",
                                    "          newer -"]
    assert "  GET /v1/ping/: published; " in result.stdout
    assert "  POST /v1/summary/: not in the newer document" in result.stdout
    assert lines[-1] == "breaking: the newer document breaks clients or servers of the vendored one (exit 1)"


def test_the_vendored_document_against_itself_breaks_nothing(tmp_path: Path):
    """Klavis (OpenAPI 3.1): the pristine document as the newer one exits 0; a narrowed answer enum exits 1 for servers."""
    document = api_spec("klavis").pristine()
    same = tmp_path / "same.json"
    same.write_text(json.dumps(document), encoding="utf-8")
    result = run("specs", "drift", str(same), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["published"]["changes"] == []
    document["components"]["schemas"]["SandboxMCPServer"]["enum"].remove("mock_notion")
    narrowed = tmp_path / "narrowed.json"
    narrowed.write_text(json.dumps(document), encoding="utf-8")
    result = run("specs", "drift", str(narrowed), "--format", "json")
    assert result.returncode == 1, result.stderr
    (change,) = json.loads(result.stdout)["published"]["changes"]
    assert (change["class"], change["kind"], change["older"]) == (
        SERVERS, "response enum narrowed", "#/components/schemas/SandboxMCPServer/enum")


@pytest.mark.parametrize("content, message", [
    (None, "is not a file"),
    ("- just\n- a list\n", "is not an OpenAPI 3 document"),
    ("{not json", "is neither JSON nor YAML"),
    ('{"openapi": "3.0.0", "info": {}, "paths": {"/elsewhere": {"get": {}}}}', "shares no operation with the Mem0 or the Klavis"),
])
def test_a_document_that_cannot_be_compared_is_one_sentence_and_exit_2(tmp_path: Path, content, message):
    path = tmp_path / "newer.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run("specs", "drift", str(path))
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1 and not result.stdout


def test_explain_needs_the_field_named_by_the_failure_not_in_the_answer(drift_json):
    """A failure is explained by a difference about the field the failure names; an answer that merely
    contains a field's name explains nothing."""
    _, report, _ = drift_json
    validator = explain([report], "GET /v1/ping/", title="GET /v1/ping/: Response violates schema",
                        received='[Response violates schema] "project_id" is a required property')
    assert [e.change["subject"] for e in validator] == ["project_id"] and not validator[0].published
    missing = explain([report], "GET /v1/ping/", title="GET /v1/ping/ names no organization or no project",
                      documented="{status, org_id, project_id}", received={"status": "ok", "org_id": "o"})
    assert [e.change["subject"] for e in missing] == ["project_id"]
    present = explain([report], "GET /v1/ping/", title="GET /v1/ping/ names no organization or no project",
                      documented="{status, org_id, project_id}", received={"status": "ok", "project_id": "p"})
    assert present == []
    elsewhere = explain([report], "GET /v1/users/", title='"project_id" is a required property')
    assert elsewhere == []


def test_run_with_drift_marks_the_failures_it_explains(drift_json, tmp_path: Path):
    """`run --drift FILE` against the reference server with a planted fault (the ping answer lacks project_id):
    the failures say which difference explains them, the summary lists them, Allure files them apart."""
    reports = tmp_path / "reports"
    result = subprocess.run([EXE, "run", "--fault", "ping-missing-project-id", "--drift", str(drift_json[2]),
                             "--reports", str(reports), "--", "-k", "ping", "-p", "no:randomly"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert f"{MARK}: GET /v1/ping/: response 200 project_id: response field became optional" in result.stdout
    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    explained = sorted(ident for ident, test in summary["tests"].items() if test["explained_by_drift"])
    failed = sorted(ident for ident, test in summary["tests"].items() if test["verdict"] == "failed")
    assert explained == failed == ["test_schema.py::test_mem0_operation[GET /v1/ping/]",
                                   "test_smoke.py::test_mem0_ping_names_the_key_s_organization_and_project"]
    categories = json.loads((reports / "allure-results" / "categories.json").read_text(encoding="utf-8"))
    assert categories[0]["name"] == "Explained by a newer published document"
    results = [json.loads(p.read_text(encoding="utf-8")) for p in (reports / "allure-results").glob("*-result.json")]
    marked = [r for r in results if {"name": "drift", "value": "explained"} in r["labels"]]
    assert len(marked) == 2 and all(MARK in r["statusDetails"]["message"] for r in marked)


def test_specs_drift_reads_a_url_and_says_when_it_cannot(tmp_path: Path):
    """An http(s) URL is downloaded (here from a server on loopback); one that does not answer is one sentence, exit 2."""
    import http.server
    import threading

    (tmp_path / "klavis.json").write_text(json.dumps(api_spec("klavis").pristine()), encoding="utf-8")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/klavis.json"
        result = run("specs", "drift", url, "--format", "json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["newer"]["source"] == url
        result = run("specs", "drift", f"http://127.0.0.1:{server.server_address[1]}/missing.json")
        assert result.returncode == 2 and "cannot download" in result.stderr and result.stderr.count("\n") == 1
    finally:
        server.shutdown()


def test_the_wrong_api_is_said_not_compared(tmp_path: Path):
    path = tmp_path / "klavis.json"
    path.write_text(json.dumps(api_spec("klavis").pristine()), encoding="utf-8")
    result = run("specs", "drift", str(path), "--api", "mem0")
    assert result.returncode == 2
    assert "shares no operation with the Mem0 platform API documents: is --api mem0 the right API?" in result.stderr


def test_a_baseline_accepts_the_changes_it_lists_and_gates_on_new_ones(newer_mem0: Path, drift_json, tmp_path: Path):
    """`--baseline` (an earlier --output): the same document exits 0; one more removed operation exits 1, naming
    only that; a baseline of the other API is one sentence, exit 2."""
    baseline = drift_json[2]
    same = run("specs", "drift", str(newer_mem0), "--baseline", str(baseline))
    assert same.returncode == 0, same.stdout[-2000:] + same.stderr
    assert same.stdout.splitlines()[-1] == "nothing breaking beyond the baseline's changes (exit 0)"
    document = yaml.safe_load(newer_mem0.read_text(encoding="utf-8"))
    del document["paths"]["/v1/feedback/"]
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = run("specs", "drift", str(again), "--baseline", str(baseline), "--format", "json")
    assert result.returncode == 1, result.stderr
    new = json.loads(result.stdout)["new_since_baseline"]
    assert [(c["operation"], c["kind"]) for c in new] == [("POST /v1/feedback/", "operation removed")]
    klavis = tmp_path / "klavis.json"
    klavis.write_text(json.dumps(api_spec("klavis").pristine()), encoding="utf-8")
    wrong = run("specs", "drift", str(klavis), "--baseline", str(baseline))
    assert wrong.returncode == 2 and "is a drift report of mem0, not of klavis" in wrong.stderr
