"""Reports of real runs: `mem0-conformance run` against stand-in targets, then `report` and `diff`.

A stand-in live target is a reference server on 127.0.0.1 with canary keys and planted faults,
optionally behind :class:`tests.chaos.ChaosProxy`, which resets connections mid-run. Every run
here selects a handful of suite tests so that each takes seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.plugin import NEEDS
from conformance.reporting.results import read_results
from conformance.server import ServerSettings, ServerThread, create_app
from tests.chaos import ChaosProxy
from tests.test_cli import EXE

KEYS = {"MEM0_API_KEY": "m0-canary-3c1d9e7f0b", "KLAVIS_API_KEY": "kl-canary-8a2f4e6d1c"}
USERS = "test_schema.py::test_mem0_operation[POST /v1/users/]"  # fails with users-create-returns-200
IMMUTABLE = "test_immutability.py::test_put_on_an_immutable_memory_is_refused_and_changes_nothing"
SELECTION = [
    "test_smoke.py",
    "test_auth.py::test_a_wrong_key_in_the_right_scheme_is_refused_with_401",
    USERS,
    IMMUTABLE,  # a known deviation in the target file
    "test_platform.py::test_the_key_s_own_project_cannot_be_deleted",  # skipped: destructive, not allowed
]
FAULTS = frozenset({"users-create-returns-200", "immutable-update-allowed"})


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    reports: Path

    def results(self) -> list[dict]:
        return read_results([self.reports / "allure-results"])

    def summary(self) -> dict:
        return json.loads((self.reports / "summary.json").read_text(encoding="utf-8"))


def mem0_conformance(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("MEM0_API", "KLAVIS_API", "MEM0_CONFORMANCE_", "GITHUB_"))}
    environ.update(env or {})
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=600, env=environ, cwd=cwd)


def run(cwd: Path, *args: str, reports: str = "reports", env: dict[str, str] | None = None) -> Run:
    result = mem0_conformance("run", "--reports", reports, *args, cwd=cwd, env=env)
    return Run(result.returncode, result.stdout, result.stderr, cwd / reports)


@pytest.fixture(scope="module")
def stand_in() -> Iterator[ServerThread]:
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"], faults=FAULTS)
    with ServerThread(create_app(settings)) as server:
        yield server


def target_file(folder: Path, url: str) -> Path:
    path = folder / "target.toml"
    path.write_text(f'name = "stand-in"\n[mem0]\nurl = "{url}"\n[klavis]\nurl = "{url}"\n'
                    f'[[deviations]]\ntest = "{IMMUTABLE}"\nreason = "updates immutable memories (ticket 12)"\n',
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def live_runs(stand_in: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """The same selection twice against the faulty stand-in: failed, deviation, skipped and passed tests."""
    folder = tmp_path_factory.mktemp("live")
    path = target_file(folder, stand_in.url)
    return tuple(run(folder, "--target", str(path), "--", "-p", "no:cacheprovider", *SELECTION,
                     reports=f"reports-{n}", env=KEYS) for n in (1, 2))


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A conforming stand-in behind a proxy that resets every connection after the preflight's two requests."""
    folder = tmp_path_factory.mktemp("broken")
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"])
    with ServerThread(create_app(settings)) as server, ChaosProxy(server.url, healthy=2) as proxy:
        outcome = run(folder, "--mem0-url", proxy.url, "--klavis-url", proxy.url, "--", "-p", "no:cacheprovider",
                      "test_schema.py::test_klavis_stateful", "test_sandbox.py::test_acquire_answers_201_occupied",
                      "test_platform.py::test_creating_a_user_answers_201", env=KEYS)
        assert proxy.resets > 0
    return outcome


def verdicts(run_: Run) -> dict[str, str]:
    return {test: data["verdict"] for test, data in run_.summary()["tests"].items()}


def test_a_run_grades_each_test_and_exits_1_on_a_contract_failure(live_runs):
    first, _ = live_runs
    assert first.code == 1, first.stdout[-4000:] + first.stderr
    found = verdicts(first)
    assert found[USERS] == "failed"
    assert found[IMMUTABLE] == "deviation"
    assert found["test_platform.py::test_the_key_s_own_project_cannot_be_deleted"] == "skipped"
    assert found["test_smoke.py::test_klavis_lists_sandboxes"] == "passed"
    assert set(first.summary()["skip_reasons"]) == {NEEDS["destructive"]}


def test_a_failure_reads_as_one_block_with_title_operation_received_documented_and_exchanges(live_runs):
    first, _ = live_runs
    out = first.stdout
    block = out[out.index("test_mem0_operation[POST /v1/users/] _"):]
    assert "POST /v1/users/: Undocumented status code" in block
    assert "received:   [Undocumented status code] Received: 200" in block
    assert "source:     POST /v1/users/ (mem0.openapi.json#/paths/~1v1~1users~1/post)" in block
    assert "exchanged requests (keys redacted)" in block
    assert "Traceback" not in out and "Exception Group" not in out


def test_labels_and_history_ids_are_the_same_in_two_runs(live_runs):
    """Allure's history needs the same historyId for the same test identity run after run."""
    def labelled(run_: Run) -> dict[str, tuple]:
        found = {}
        for result in run_.results():
            labels = {entry["name"]: entry["value"] for entry in result["labels"]}
            found[labels["testId"]] = (result["historyId"], labels["epic"], labels["feature"], labels["story"])
        return found

    first, second = (labelled(run_) for run_ in live_runs)
    assert first == second and len(first) == 8
    assert first[USERS][1:] == ("Mem0 platform", "Users", "POST /v1/users/")
    assert first["test_smoke.py::test_klavis_lists_sandboxes"][1:3] == ("Klavis sandbox", "Basics")
    assert len({history for history, *_ in first.values()}) == len(first)


def test_a_failure_carries_severity_parameters_and_attachments_for_allure(live_runs):
    first, _ = live_runs
    results = {next(e["value"] for e in r["labels"] if e["name"] == "testId"): r for r in first.results()}
    failed = results[USERS]
    assert failed["status"] == "failed"
    assert {entry["name"]: entry["value"] for entry in failed["labels"]}["severity"] == "normal"
    assert {attachment["name"] for attachment in failed["attachments"]} >= {"exchanged requests (keys redacted)", "curl reproducer"}
    curl = (first.reports / "allure-results" / next(a["source"] for a in failed["attachments"] if a["name"] == "curl reproducer"))
    reproducer = curl.read_text(encoding="utf-8")
    assert reproducer.startswith("# POST ") and "/v1/users/ -> 200" in reproducer
    assert 'Token $MEM0_API_KEY"' in reproducer and "--data-raw" in reproducer
    auth = results["test_auth.py::test_a_wrong_key_in_the_right_scheme_is_refused_with_401[mem0-ping]"]
    assert {p["name"]: p["value"] for p in auth["parameters"]} == {"api": "'mem0'", "path": "'/v1/ping/'"}
    results_dir = first.reports / "allure-results"
    assert [c["name"] for c in json.loads((results_dir / "categories.json").read_text())][:2] == [
        "Explained by a newer published document", "Server errors"]
    environment = (results_dir / "environment.properties").read_text(encoding="utf-8")
    assert f"target.mem0.url={stand_in_url(first)}" in environment.replace("\\:", ":")
    assert "spec.sha256.mem0/openapi.json=" in environment and "version.schemathesis=" in environment


def stand_in_url(run_: Run) -> str:
    return run_.summary()["runs"][0]["target.mem0.url"]


def test_a_target_that_resets_connections_gives_broken_results_and_exit_6(broken_run):
    assert broken_run.code == 6, broken_run.stdout[-4000:] + broken_run.stderr
    totals = broken_run.summary()["totals"]
    assert totals["broken"] == 5 and totals["failed"] == 0 and totals["error"] == 0
    assert "BROKEN (the target or the network misbehaved)" in broken_run.stdout
    assert "Connection reset by peer" in broken_run.stdout
    last = broken_run.stdout.splitlines()[-1]
    assert " broken in " in last and "failed" not in last and "passed" not in last


def test_report_merges_results_folders_and_builds_the_html_report_with_history(live_runs, broken_run, tmp_path):
    """`report A B` makes one summary of both runs, and Allure's own tool one self-contained HTML file
    that carries the previous report's history."""
    first, _ = live_runs
    merged = mem0_conformance("report", "--reports", "merged", str(first.reports), str(broken_run.reports), cwd=tmp_path)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    summary = json.loads((tmp_path / "merged" / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["tests"]) == set(first.summary()["tests"]) | set(broken_run.summary()["tests"])
    assert summary["totals"] == {key: first.summary()["totals"][key] + broken_run.summary()["totals"][key]
                                 for key in summary["totals"]}
    index = tmp_path / "merged" / "html" / "index.html"
    assert index.stat().st_size > 100_000 and not any(p.name != "index.html" and p.suffix == ".js" for p in index.parent.iterdir())
    again = mem0_conformance("report", "--reports", "merged", str(first.reports), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    history = (tmp_path / "merged" / "history.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(history) == 2  # one entry per report: the second carries the first


def test_no_key_reaches_a_report_or_the_terminal(live_runs, broken_run, tmp_path):
    """The canary keys of the stand-in appear in no file under reports/ and in no output."""
    first, second = live_runs
    report = mem0_conformance("report", "--reports", str(first.reports), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    outputs = [first.stdout, first.stderr, second.stdout, broken_run.stdout, broken_run.stderr, report.stdout, report.stderr]
    files = [path for run_ in (first, second, broken_run) for path in run_.reports.rglob("*") if path.is_file()]
    assert len(files) > 20 and any(path.name == "index.html" for path in files)
    for key in KEYS.values():
        assert not any(key in text for text in outputs)
        leaking = [str(path) for path in files if key.encode() in path.read_bytes()]
        assert not leaking, leaking


def test_two_xdist_workers_write_one_summary(stand_in, tmp_path):
    """With -n 2 both workers write into one results folder; the summary holds every test once."""
    outcome = run(tmp_path, "--target", str(target_file(tmp_path, stand_in.url)), "--", "-p", "no:cacheprovider",
                  "-n", "2", *SELECTION, env=KEYS)
    assert outcome.code == 1, outcome.stdout[-3000:]
    assert "2 workers [8 items]" in outcome.stdout
    processes = {entry["value"] for r in outcome.results() for entry in r["labels"] if entry["name"] == "thread"}
    assert len(processes) == 2  # allure-pytest's thread label names the writing process
    assert sum(outcome.summary()["totals"].values()) == 8


def test_a_baseline_gate_passes_known_failures_and_fails_on_a_regression(tmp_path):
    """run --baseline: the known failure of the baseline passes the gate; a test that passed there and fails now does not."""
    selection = ["--fault", "users-create-returns-200", "--", "-p", "no:cacheprovider", USERS, "test_smoke.py"]
    step_summary = tmp_path / "step-summary.md"
    github = {"GITHUB_STEP_SUMMARY": str(step_summary), "GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "99",
              "GITHUB_RUN_NUMBER": "3", "GITHUB_REPOSITORY": "acme/api", "GITHUB_WORKFLOW": "conformance"}
    first = run(tmp_path, *selection, env=github)
    assert first.code == 1
    assert step_summary.read_text(encoding="utf-8").startswith("# Conformance summary")
    executor = json.loads((first.reports / "allure-results" / "executor.json").read_text(encoding="utf-8"))
    assert executor["buildUrl"] == "https://github.com/acme/api/actions/runs/99"
    same = run(tmp_path, "--baseline", str(first.reports / "summary.json"), *selection, reports="again")
    assert same.code == 0, same.stdout[-3000:]
    assert "0 regressions" in same.stdout
    optimistic = first.summary()
    optimistic["tests"][USERS]["verdict"] = "passed"
    baseline = tmp_path / "optimistic.json"
    baseline.write_text(json.dumps(optimistic), encoding="utf-8")
    regressed = run(tmp_path, "--baseline", str(baseline), *selection, reports="third")
    assert regressed.code == 1
    assert f"{USERS}: passed -> failed" in regressed.stdout
    compared = mem0_conformance("diff", str(baseline), str(regressed.reports), "--format", "markdown", cwd=tmp_path)
    assert compared.returncode == 1 and "**regressed**" in compared.stdout


def test_report_without_node_says_what_to_install(live_runs, tmp_path):
    """With no Node.js or npm on the PATH (and the tool not installed yet), `report` says so in one sentence, exit 2."""
    first, _ = live_runs
    bare = tmp_path / "bin"
    bare.mkdir()
    result = mem0_conformance("report", str(first.reports), "--reports", "out", cwd=tmp_path,
                              env={"PATH": str(bare), "MEM0_CONFORMANCE_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "mem0-conformance: the HTML report needs Node.js 20 or newer with npm on the PATH (https://nodejs.org); "
        "install them and run the command again.")
    assert (tmp_path / "out" / "summary.json").is_file()  # the summary does not need Node.js


def test_a_hypothesis_failure_shows_its_minimal_example_with_values(tmp_path):
    """The failing example of a @given test is printed with its values, in the block and as an attachment
    (schemathesis's own printer, which prints nothing, is kept out of the suite's other tests)."""
    outcome = run(tmp_path, "--fault", "immutable-update-allowed", "--", "-p", "no:cacheprovider", IMMUTABLE)
    assert outcome.code == 1, outcome.stdout[-3000:]
    assert "Failing test case: check(\n    text=" in outcome.stdout
    assert "text=,\n" not in outcome.stdout and "metadata=," not in outcome.stdout
    (result,) = outcome.results()
    (example,) = [a for a in result["attachments"] if a["name"] == "minimal Hypothesis example"]
    assert "@reproduce_failure(" in (outcome.reports / "allure-results" / example["source"]).read_text(encoding="utf-8")


def test_a_fixture_the_target_s_answer_broke_fails_the_test_that_needed_it(tmp_path):
    """Acquiring a sandbox answers 200 instead of 201: the test whose fixture acquires fails (not an error of the suite)."""
    test = "test_sandbox.py::test_acquire_answers_201_occupied"
    outcome = run(tmp_path, "--fault", "sandbox-acquire-returns-200", "--", "-p", "no:cacheprovider", test)
    assert outcome.code == 1, outcome.stdout[-3000:]
    assert verdicts(outcome) == {test: "failed"}
    assert "acquiring a mem0 sandbox: 200 instead of 201" in outcome.stdout
    assert outcome.stdout.splitlines()[-1].startswith("=") and " 1 failed in " in outcome.stdout.splitlines()[-1]


def test_benign_trouble_leaves_a_conforming_target_green(tmp_path):
    """Latency and an occasional 503 with Retry-After (every fifth request): retries absorb it, the run passes."""
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"])
    with ServerThread(create_app(settings)) as server, \
            ChaosProxy(server.url, healthy=2, trouble="status", status=503, retry_after="0", every=5, latency=0.005) as proxy:
        outcome = run(tmp_path, "--mem0-url", proxy.url, "--klavis-url", proxy.url, "--", "-p", "no:cacheprovider",
                      "test_smoke.py", "test_auth.py::test_a_wrong_key_in_the_right_scheme_is_refused_with_401",
                      "test_sandbox.py::test_acquire_answers_201_occupied", IMMUTABLE, env=KEYS)
    assert outcome.code == 0, outcome.stdout[-4000:]
    assert proxy.counts["status"] >= 5 and proxy.counts["forwarded"] > proxy.counts["status"]
    assert set(verdicts(outcome).values()) == {"passed"}


def test_a_rate_limit_now_and_then_breaks_no_schemathesis_test(tmp_path):
    """Every 20th request answered 429 with Retry-After: 1, schemathesis's authentication probes included: every
    request follows the one retry policy, so the schema tests pass and none ends broken."""
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"])
    selection = [f"test_schema.py::test_mem0_operation[{label}]" for label in (
        "GET /v1/ping/", "GET /v1/memories/", "POST /v2/memories/", "POST /v1/memories/search/", "GET /v1/entities/",
        "POST /v1/users/")] + ["test_schema.py::test_klavis_operation[GET /sandbox]"]
    with ServerThread(create_app(settings)) as server, \
            ChaosProxy(server.url, healthy=5, trouble="status", status=429, retry_after="1", every=20) as proxy:
        outcome = run(tmp_path, "--mem0-url", proxy.url, "--klavis-url", proxy.url, "--", "-p", "no:cacheprovider",
                      *selection, env=KEYS)
    assert outcome.code == 0, outcome.stdout[-6000:]
    assert proxy.counts["status"] >= 10, proxy.counts
    assert set(verdicts(outcome).values()) == {"passed"}, verdicts(outcome)


def test_every_operation_s_success_path_is_validated_on_every_run(tmp_path):
    """Every operation of both effective documents gets a 2xx that passes every check on the embedded server, by its
    recipe (success_paths.py), not by luck of generation: with the examples phase alone (almost no generated
    request reaches a 2xx) the summary still states every tested operation validated."""
    from conformance.specs import effective
    from conformance.suite.engine import operations_of

    operations = sum(len(operations_of(effective(api))) for api in ("mem0", "klavis"))
    outcome = run(tmp_path, "--", "-p", "no:cacheprovider", "-n", "2", "-k", "test_mem0_operation or test_klavis_operation",
                  env={"MEM0_CONFORMANCE_PHASES": "examples", "MEM0_CONFORMANCE_PROFILE": "ci"})
    assert outcome.code == 0, outcome.stdout[-6000:]
    apis = outcome.summary()["apis"]
    assert {name: api["unexercised"] for name, api in apis.items()} == {"Klavis sandbox": [], "Mem0 platform": []}
    assert all(count >= 1 for api in apis.values() for count in api["successes"].values())
    assert f"success path validated for {operations} of {operations} tested operations" in outcome.stdout


def test_a_target_that_goes_silent_mid_run_ends_the_run_soon_after(tmp_path):
    """The target answers 150 requests, then accepts connections and sends nothing: the run notices (no answer for
    twice the request timeout), ends with the tests already judged kept and the rest not run, and exits 6, long
    before each remaining test could wait out its own timeouts."""
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"])
    with ServerThread(create_app(settings)) as server, ChaosProxy(server.url, healthy=150, trouble="silent") as proxy:
        path = tmp_path / "silent.toml"
        path.write_text(f'name = "goes silent"\n[mem0]\nurl = "{proxy.url}"\ntimeout = 3\n'
                        f'[klavis]\nurl = "{proxy.url}"\ntimeout = 3\n', encoding="utf-8")
        started = time.monotonic()
        outcome = run(tmp_path, "--target", str(path), "--", "-p", "no:cacheprovider", "test_reads.py", "test_changes.py",
                      "test_sandbox.py", env=KEYS)
        elapsed = time.monotonic() - started
    assert outcome.code == 6, outcome.stdout[-4000:]
    found = verdicts(outcome)
    summary = outcome.summary()
    assert "passed" in found.values() and "broken" in found.values(), found
    assert summary["incomplete"].startswith("the target stopped answering (no answer for 6 s): "), summary["incomplete"]
    assert "tests not run" in summary["incomplete"] and len(found) < 120, len(found)
    assert elapsed < 120, f"the run took {elapsed:.0f}s"


def test_a_target_that_stops_answering_ends_the_run_broken_within_its_bound(tmp_path):
    """After the preflight the target accepts requests and never answers: the test in progress ends broken after
    the request timeout and its retries, and the run ends there (exit 6) instead of hanging."""
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"])
    with ServerThread(create_app(settings)) as server, ChaosProxy(server.url, healthy=1, trouble="silent") as proxy:
        path = tmp_path / "silent.toml"
        path.write_text(f'name = "silent"\n[mem0]\nurl = "{proxy.url}"\ntimeout = 1\n', encoding="utf-8")
        started = time.monotonic()
        outcome = run(tmp_path, "--target", str(path), "--", "-p", "no:cacheprovider", "test_smoke.py", env=KEYS)
        elapsed = time.monotonic() - started
    assert outcome.code == 6, outcome.stdout[-4000:]
    assert verdicts(outcome) == {"test_smoke.py::test_mem0_ping_names_the_key_s_organization_and_project": "broken"}
    assert outcome.summary()["incomplete"].startswith("the target stopped answering")  # the klavis test never ran
    assert "ReadTimeout" in outcome.stdout
    assert elapsed < 60, f"the run took {elapsed:.0f}s"
