"""Verdicts, scores and diffs without a run: the grading rules, the summary's arithmetic, the categories.

The runs that produce real reports (labels across runs, broken targets, merging, the Allure
command-line tool, keys never written) are in ``test_report_runs.py``.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
import requests
from hypothesis.errors import FlakyStrategyDefinition

from conformance.reporting import diff, summary
from conformance.reporting.results import CATEGORIES, executor, public_url
from conformance.suite.support import expect, expect_error
from conformance.verdicts import (
    BROKEN,
    DEVIATION,
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    ContractViolation,
    Severity,
    TargetBroken,
    classify,
    fact,
    require,
)


def answer(status: int, body: object = None, method: str = "PUT", path: str = "/v1/batch/") -> httpx.Response:
    request = httpx.Request(method, f"http://127.0.0.1:9{path}")
    return httpx.Response(status, json=body, request=request) if body is not None else httpx.Response(status, request=request)


# --- one failure shape ----------------------------------------------------------------------------------

def test_an_unexpected_status_is_a_violation_naming_operation_pointer_received_and_documented():
    """expect() refuses another status with one ContractViolation that says where the contract is."""
    with pytest.raises(ContractViolation) as raised:
        expect(answer(200, {"message": "ok"}), 400, what="a 1001-item batch update")
    violation = raised.value
    assert violation.title == "a 1001-item batch update: 200 instead of 400"
    assert violation.source.operation == "PUT /v1/batch/"
    assert violation.source.pointer == "mem0.openapi.json#/paths/~1v1~1batch~1/put"
    text = str(violation)
    assert 'received:   200 {"message":"ok"}' in text and "documented: status 400" in text


def test_a_server_error_is_a_blocker_violation():
    """A 500 where the contract promises an answer is a failure with severity blocker, in the server-error category."""
    with pytest.raises(ContractViolation) as raised:
        expect(answer(500, {"error": "boom"}, "GET", "/v1/memories/5b3c/"), 200)
    assert raised.value.severity is Severity.BLOCKER
    assert raised.value.source.operation == "GET /v1/memories/{memory_id}/"
    assert _category("failed", f"conformance.verdicts.ContractViolation: {raised.value}") == "Server errors"


def test_an_accepted_change_where_a_refusal_is_documented_is_critical():
    """expect_error() on a 2xx (an immutable memory changed, say) is a critical violation; an empty refusal is one too."""
    with pytest.raises(ContractViolation) as accepted:
        expect_error(answer(200, {"message": "updated"}, "PUT", "/v1/memories/5b3c/"))
    assert accepted.value.severity is Severity.CRITICAL
    with pytest.raises(ContractViolation, match="refusal has an empty body"):
        expect_error(answer(400))


def test_require_raises_only_when_the_condition_fails():
    """require() is silent when the expectation holds and raises the one shape when it does not."""
    require(True, "never raised", received=1, documented=1)
    with pytest.raises(ContractViolation) as raised:
        require(False, "history misses an UPDATE", received=["ADD"], documented=["ADD", "UPDATE"],
                source=fact("History", "GET /v1/memories/{memory_id}/history/"), severity=Severity.CRITICAL)
    assert str(raised.value.source) == ('GET /v1/memories/{memory_id}/history/ '
                                        '(mem0.openapi.json#/paths/~1v1~1memories~1{memory_id}~1history~1/get); '
                                        'FACTS.md "History"')


@pytest.mark.parametrize(("raised", "verdict"), [
    (ContractViolation("x", received=1, documented=2), FAILED),
    (AssertionError("a plain assertion of a check"), FAILED),
    (TargetBroken("GET /v1/ping/ answered 503 Service Unavailable"), BROKEN),
    (httpx.ReadError("Connection reset by peer"), BROKEN),
    (requests.ConnectionError("Connection aborted."), BROKEN),
    (requests.exceptions.ChunkedEncodingError("truncated body"), BROKEN),
    (ExceptionGroup("hypothesis found two", [httpx.ConnectError("refused"), ContractViolation("x", received=1, documented=2)]), FAILED),
    (ExceptionGroup("flaky", [httpx.ReadTimeout("timed out")]), BROKEN),
    (FlakyStrategyDefinition("Inconsistent data generation!"), FAILED),
    (pytest.fail.Exception("Timeout (>1200.0s) from pytest-timeout."), BROKEN),
    (pytest.fail.Exception("the page count differs"), FAILED),
    (KeyError("results"), ERROR),
    (TypeError("'NoneType' object is not subscriptable"), ERROR),
], ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else value)
def test_exceptions_are_graded_failed_broken_or_error(raised, verdict):
    """A violation wins over trouble on the way; network trouble is broken; anything else is a bug of the suite."""
    assert classify(raised) == verdict


def test_trouble_raised_during_a_violation_s_handling_is_still_broken():
    """A transport error chained as the cause of another exception is found through the chain."""
    try:
        try:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        except httpx.HTTPError as exc:
            raise RuntimeError("while reading the answer") from exc
    except RuntimeError as exc:
        assert classify(exc) == BROKEN


# --- categories as Allure applies them ---------------------------------------------------------------------

def _category(status: str, message: str) -> str | None:
    """The first category whose statuses include ``status`` and whose regex matches all of ``message``."""
    for category in CATEGORIES:
        regex = category.get("messageRegex")
        if status in category["matchedStatuses"] and (regex is None or re.fullmatch(regex, message)):
            return category["name"]
    return None


@pytest.mark.parametrize(("status", "message", "expected"), [
    ("failed", "conformance.verdicts.ContractViolation: PUT /v1/batch/: 200 instead of 400\n  received: 200", "Contract violations"),
    ("failed", "AssertionError: [Server error] Received: 500", "Server errors"),
    ("failed", "conformance.verdicts.ContractViolation: GET /v1/ping/ names no project\n  severity:   blocker\n"
               "  explained by the newer published document: GET /v1/ping/: response 200 project_id: ...",
     "Explained by a newer published document"),
    ("broken", "conformance.verdicts.TargetBroken: the target or the network misbehaved: GET /v1/ping/: ReadError", "Broken target or network"),
    ("skipped", "XFAIL known deviation of mem0-cloud: answers 200 (ticket 7)\n\nAssertionError", "Known deviations"),
    ("broken", "KeyError: 'results'", "Errors of the suite"),
    ("skipped", "Skipped: the target has no Klavis API", None),
])
def test_categories_sort_non_passing_results_as_a_reader_expects(status, message, expected):
    assert _category(status, message) == expected


# --- the summary's arithmetic ------------------------------------------------------------------------------

def _result(test: str, verdict: str, *, epic: str = "Mem0 platform", feature: str = "Memories", story: str = "",
            message: str = "", stop: int = 2000) -> dict:
    labels = {"testId": test, "verdict": verdict, "epic": epic, "feature": feature, "story": story or test, "severity": "normal"}
    return {"labels": [{"name": k, "value": v} for k, v in labels.items()], "status": "passed", "start": 1000,
            "stop": stop, "statusDetails": {"message": message}}


def _folder(tmp_path, name: str, results: list[dict]):
    folder = tmp_path / name
    folder.mkdir()
    for number, result in enumerate(results):
        (folder / f"{name}-{number}-result.json").write_text(json.dumps(result), encoding="utf-8")
    return folder


def test_the_score_is_passed_over_applicable_with_skips_deviations_and_errors_beside_it(tmp_path):
    """score = passed / (passed + failed + broken); skipped, deviation and error never move it."""
    folder = _folder(tmp_path, "run", [
        _result("a", PASSED, story="POST /v1/memories/"), _result("b", PASSED), _result("c", PASSED),
        _result("d", FAILED, story="POST /v1/memories/", message="conformance.verdicts.ContractViolation: boom"),
        _result("e", BROKEN), _result("f", SKIPPED, message="Skipped: no v3"), _result("g", DEVIATION),
        _result("h", ERROR), _result("k", PASSED, epic="Klavis sandbox", feature="Sandbox data"),
    ])
    built = summary.build([folder])
    mem0 = built["apis"]["Mem0 platform"]
    assert mem0["counts"] == {PASSED: 3, FAILED: 1, BROKEN: 1, DEVIATION: 1, SKIPPED: 1, ERROR: 1}
    assert mem0["score"] == 0.6  # 3 / (3 + 1 + 1)
    assert mem0["operations"] == {"POST /v1/memories/": {PASSED: 1, FAILED: 1, BROKEN: 0, DEVIATION: 0, SKIPPED: 0, ERROR: 0}}
    assert built["apis"]["Klavis sandbox"]["score"] == 1.0
    assert built["totals"][PASSED] == 4 and sum(built["totals"].values()) == 9
    assert built["skip_reasons"] == {"no v3": 1}
    assert built["tests"]["d"]["message"] == "boom"
    assert "passed / (passed + failed + broken)" in built["score_formula"]
    markdown = summary.render_markdown(built)
    assert "| **Mem0 platform** | 60.0% | 3 | 1 | 1 | 1 | 1 | 1 |" in markdown
    assert "| Mem0 platform | `POST /v1/memories/` | 1 | 1 | 0 | 0 | 0 | 0 |" in markdown
    assert "- **failed** (normal) `d`: boom" in markdown and "- 1 × no v3" in markdown


def test_validated_successes_are_summed_over_folders_and_tested_operations_without_one_are_named(tmp_path):
    from conformance.reporting.results import write_successes

    first = _folder(tmp_path, "one", [_result("a", PASSED, story="POST /v1/memories/"),
                                      _result("b", FAILED, story="GET /v1/memories/{memory_id}/"),
                                      _result("c", SKIPPED, story="DELETE /v1/memories/")])
    second = _folder(tmp_path, "two", [_result("d", PASSED, story="POST /v2/memories/")])
    write_successes(first, "gw0", {"POST /v1/memories/": 2})
    write_successes(first, "gw1", {"POST /v1/memories/": 3})
    write_successes(second, "main", {})
    (first / "environment.properties").write_text("run.id=r1\ncapability.v3=not offered - POST /v3/memories/ 404\n"
                                                  "capability.ping=offered - GET /v1/ping/ 200\n", encoding="utf-8")
    built = summary.build([first, second])
    mem0 = built["apis"]["Mem0 platform"]
    assert mem0["successes"] == {"DELETE /v1/memories/": 0, "GET /v1/memories/{memory_id}/": 0,
                                 "POST /v1/memories/": 5, "POST /v2/memories/": 0}
    assert mem0["unexercised"] == ["GET /v1/memories/{memory_id}/", "POST /v2/memories/"]  # the skipped one is not
    markdown = summary.render_markdown(built)
    assert "- Mem0 platform: `POST /v2/memories/`" in markdown
    assert "| Mem0 platform | `POST /v1/memories/` | 1 | 0 | 0 | 0 | 0 | 0 | 5 |" in markdown
    assert "  - capabilities: v3 not offered, ping offered" in markdown
    assert "success path never validated (no 2xx answer to a generated request passed the checks): 2" in \
        summary.render_text(built)
    assert "success path validated for 1 of 3 tested operations (Mem0 platform 1/3)" in summary.render_text(built)
    assert "Success path validated for 1 of 3 tested operations (Mem0 platform 1/3)." in markdown


def test_without_success_counts_nothing_is_called_unexercised(tmp_path):
    built = summary.build([_folder(tmp_path, "run", [_result("a", PASSED, story="POST /v1/memories/")])])
    assert "unexercised" not in built["apis"]["Mem0 platform"]


def test_an_api_where_nothing_applied_has_no_score(tmp_path):
    built = summary.build([_folder(tmp_path, "run", [_result("a", SKIPPED), _result("b", DEVIATION)])])
    assert built["apis"]["Mem0 platform"]["score"] is None
    assert "| **Mem0 platform** | n/a |" in summary.render_markdown(built)


def test_folders_merge_into_one_summary_and_a_test_seen_twice_counts_once(tmp_path):
    """Two shards' results make one summary; a test in both (a rerun) counts once, with its latest result."""
    first = _folder(tmp_path, "shard1", [_result("a", PASSED), _result("b", FAILED, stop=2000)])
    second = _folder(tmp_path, "shard2", [_result("c", PASSED), _result("b", PASSED, stop=9000)])
    built = summary.build([first, second])
    assert {test: data["verdict"] for test, data in built["tests"].items()} == {"a": PASSED, "b": PASSED, "c": PASSED}


def test_a_summary_file_that_is_not_one_is_refused_in_one_sentence(tmp_path):
    bad = tmp_path / "summary.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="is not a mem0-conformance summary"):
        summary.load(bad)
    with pytest.raises(ValueError, match="does not exist"):
        summary.load(tmp_path / "missing.json")


# --- the diff -------------------------------------------------------------------------------------------

def _summary(tmp_path, name: str, verdicts: dict[str, str]) -> dict:
    return summary.build([_folder(tmp_path, name, [_result(test, verdict) for test, verdict in verdicts.items()])])


def test_the_diff_names_regressions_fixes_changes_new_and_removed_checks_and_the_score_change(tmp_path):
    before = _summary(tmp_path, "before", {"a": PASSED, "b": FAILED, "c": PASSED, "d": SKIPPED, "gone": PASSED, "e": PASSED})
    now = _summary(tmp_path, "now", {"a": FAILED, "b": PASSED, "c": PASSED, "d": PASSED, "new": BROKEN, "e": BROKEN})
    found = diff.compare(before, now)
    assert found.regressions == [("a", PASSED, FAILED), ("e", PASSED, BROKEN)]
    assert found.fixes == [("b", FAILED, PASSED)]
    assert found.changed == [("d", SKIPPED, PASSED)]
    assert found.new == [("new", BROKEN)] and found.removed == [("gone", PASSED)]
    assert found.scores == {"Mem0 platform": (0.8, 0.5)}  # 4 of 5 applicable before; 3 of 6 now
    assert found.regressed
    text = diff.render_text(found, now)
    assert "Mem0 platform: score 80.0% -> 50.0% -30.0 points" in text
    assert "2 regressions, 1 fixes, 1 other changes, 1 new, 1 removed" in text
    assert diff.render_markdown(found, now).startswith("# Conformance against the baseline: **regressed**")
    assert json.loads(diff.render_json(found))["regressed"] is True


def test_the_same_verdicts_are_no_regression(tmp_path):
    same = {"a": PASSED, "b": FAILED}
    assert not diff.compare(_summary(tmp_path, "x", same), _summary(tmp_path, "y", same)).regressed


# --- environment and executor --------------------------------------------------------------------------

def test_target_urls_lose_their_credentials_in_reports():
    assert public_url("https://user:s3cret@api.example.com:8443/v1?token=abc") == "https://api.example.com:8443/v1"


def test_the_executor_is_written_only_when_ci_variables_say_where_the_run_ran():
    assert executor({}) is None
    github = executor({"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "42", "GITHUB_RUN_NUMBER": "7",
                       "GITHUB_REPOSITORY": "acme/api", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_WORKFLOW": "conformance"})
    assert github == {"name": "GitHub Actions", "type": "github", "buildName": "conformance #7", "buildOrder": 7,
                      "buildUrl": "https://github.com/acme/api/actions/runs/42", "url": "https://github.com/acme/api"}


def test_the_report_template_s_analytics_are_taken_out_and_nothing_else():
    """The tag manager's loader and its inline configuration go; the report's own scripts stay."""
    from conformance.reporting.html import external_resources, without_analytics

    html = ('<head><script src="data:text/javascript;base64,AAAA"></script>\n'
            '    <script async src="https://www.googletagmanager.com/gtag/js?id=G-X"></script>\n'
            "    <script>\n        window.dataLayer = window.dataLayer || [];\n        function gtag(){}\n"
            "        gtag('config', 'G-X');\n    </script>\n    <script async>window.allureReportData = {};</script></head>")
    assert external_resources(html) == ["https://www.googletagmanager.com/gtag/js?id=G-X"]
    cleaned = without_analytics(html)
    assert external_resources(cleaned) == [] and "gtag" not in cleaned and "dataLayer" not in cleaned
    assert cleaned == ('<head><script src="data:text/javascript;base64,AAAA"></script>\n'
                       "    <script async>window.allureReportData = {};</script></head>")


def test_pytest_s_own_finalizers_leave_the_report_and_the_fixtures_teardowns_stay(tmp_path):
    """A container's ``<fixture>::<lambda>`` steps without a status (pytest's bookkeeping) go; the rest stays."""
    import json

    from conformance.reporting.results import drop_bookkeeping_teardowns

    container = {"uuid": "c", "children": ["t"], "befores": [{"name": "mem0", "status": "passed"}],
                 "afters": [{"name": "_exchanges_of_this_test::<lambda>", "start": 1},
                            {"name": "cleanup::0", "status": "passed", "start": 1, "stop": 2},
                            {"name": "version::<lambda>", "start": 1},
                            {"name": "pool::<lambda>", "status": "broken", "start": 1, "stop": 2}]}
    (tmp_path / "c-container.json").write_text(json.dumps(container), encoding="utf-8")
    assert drop_bookkeeping_teardowns(tmp_path) == 2
    kept = json.loads((tmp_path / "c-container.json").read_text(encoding="utf-8"))
    assert [step["name"] for step in kept["afters"]] == ["cleanup::0", "pool::<lambda>"]
    assert kept["befores"] == container["befores"] and drop_bookkeeping_teardowns(tmp_path) == 0


def test_a_schemathesis_failure_block_says_a_repeated_message_once_with_its_count():
    """Fifty identical failures of one test read as one line and how many times it came, not fifty lines."""
    from schemathesis.core.failures import Failure, FailureGroup

    from conformance.suite.engine import violation_of
    from conformance.verdicts import operation_source

    same = [Failure(operation="DELETE /v1/batch/", title="Undocumented HTTP status code",
                    message="Received: 418\nDocumented: 200, 400") for _ in range(50)]
    other = Failure(operation="DELETE /v1/batch/", title="Server error", message="Received: 500")
    violation = violation_of(FailureGroup([*same, other]), operation_source("DELETE /v1/batch/"))
    assert violation.received == ("[Undocumented HTTP status code] Received: 418\nDocumented: 200, 400\n  (50 times)\n"
                                  "[Server error] Received: 500")


def test_a_failure_block_names_the_difference_of_two_objects_before_their_values():
    """Two objects that differ in one key of many: the block says which key and both of its values first, so that
    shortening a long ``received`` never hides the value that changed."""
    from conformance.verdicts import ContractViolation

    documented = {f"k{i}": "x" * 40 for i in range(30)}
    received = {**documented, "k29": "changed"}
    text = ContractViolation("a view differs", received=received, documented=documented).render()
    assert text.splitlines()[1] == "  difference: k29: changed instead of " + "x" * 40
    assert "more characters" in text  # the whole objects are still shown, shortened
    plain = ContractViolation("a count", received=3, documented=4).render()
    assert "difference" not in plain and "  received:   3" in plain


def test_the_summary_lists_each_sdk_call_with_its_scenarios_or_why_none_drives_it(tmp_path):
    """SDK surface coverage: every public call of a guarded SDK (its surface file) with the scenarios whose recorded
    calls include it, the reason for those the guard does not drive on purpose (the file's not_driven), and the
    rest named as gaps; constructors are not calls."""
    folder = _folder(tmp_path, "run", [_result("a", PASSED)])
    surface = {"MemoryClient": ["api_key"], "MemoryClient.add": ["messages"], "MemoryClient.search": ["query"],
               "MemoryClient.chat": [], "MemoryClient.update_project": ["custom_instructions"]}
    (folder / "sdk-surface-mem0ai.json").write_text(json.dumps({"version": "2.2.1", "calls": surface, "not_driven": {
        "MemoryClient.chat": "raises NotImplementedError before any request: it reaches no API"}}), encoding="utf-8")
    (folder / "sdk-surface-klavis.json").write_text(json.dumps({"version": "2.20.0", "calls": {
        "Klavis.sandbox.create_sandbox": [], "AsyncKlavis.sandbox.create_sandbox": []}}), encoding="utf-8")
    lines = [{"sdk": "mem0ai", "version": "2.2.1", "scenario": "mem0ai: add", "calls": [{"method": "MemoryClient.add"}]},
             {"sdk": "mem0ai", "version": "2.2.1", "scenario": "mem0ai: both", "calls": [
                 {"method": "MemoryClient.add"}, {"method": "MemoryClient.search"}]},
             {"sdk": "mem0ai", "version": "1.0.11", "scenario": "mem0ai: old", "calls": [{"method": "MemoryClient.chat"}]},
             {"sdk": "klavis", "version": "2.20.0", "scenario": "klavis: lifecycle",
              "calls": [{"method": "Klavis.sandbox.create_sandbox"}]}]
    (folder / "sdk-traffic-main.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n", encoding="utf-8")
    built = summary.build([folder])
    mem0 = built["sdk_surface"]["mem0ai 2.2.1"]
    assert mem0["calls"] == 4
    assert mem0["exercised"] == {"MemoryClient.add": ["mem0ai: add", "mem0ai: both"], "MemoryClient.search": ["mem0ai: both"]}
    assert list(mem0["not_driven"]) == ["MemoryClient.chat"] and "NotImplementedError" in mem0["not_driven"]["MemoryClient.chat"]
    assert mem0["gaps"] == ["MemoryClient.update_project"]  # another version's call does not count
    klavis = built["sdk_surface"]["klavis 2.20.0"]
    assert list(klavis["exercised"]) == ["Klavis.sandbox.create_sandbox"]
    assert klavis["gaps"] == ["AsyncKlavis.sandbox.create_sandbox"]
    text = summary.render_text(built)
    assert ("SDK surface of mem0ai 2.2.1: 2 of 4 public calls exercised by a scenario, 1 not driven (with the reason), "
            "1 not exercised") in text
    assert "  not exercised: MemoryClient.update_project" in text
    markdown = summary.render_markdown(built)
    assert "  - `MemoryClient.search`: mem0ai: both" in markdown
    assert "  - `MemoryClient.update_project`: **not exercised**" in markdown


def test_a_failing_program_keeps_its_repeated_steps_and_is_said_once():
    """Hypothesis's minimal program is one note per step: two alike steps are both shown (the second add is the one
    that fails), and the program on an exception and on what wraps it is shown once."""
    from hypothesis import settings
    from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

    from conformance.verdicts import hypothesis_notes

    class TwoAdds(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.added = 0

        @rule()
        def add(self) -> None:
            self.added += 1
            require(self.added < 2, "a second add is refused", received=self.added, documented="any number of adds")

    with pytest.raises(ContractViolation) as failed:
        run_state_machine_as_test(TwoAdds, settings=settings(max_examples=50, derandomize=True, database=None))
    program = [note for note in hypothesis_notes(failed.value) if note.startswith("state.")]
    assert program == ["state.add()", "state.add()", "state.teardown()"]
    wrapper = RuntimeError("while running the machine")
    wrapper.__notes__ = list(failed.value.__notes__)
    wrapper.__cause__ = failed.value
    assert hypothesis_notes(wrapper) == hypothesis_notes(failed.value)
