"""The ``mutants`` commands and ``run --mutant``, as a user runs them (the installed command, the embedded server)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conformance.catalogue.mutants import catalogue
from conformance.mutants.runner import timed_out_by
from conformance.verdicts import TargetBroken
from tests.test_cli import EXE

KILLED = "update_webhook:request.name:ignored"  # test_a_webhook_update_without_event_types_keeps_them sends a name
SURVIVES = "get_mem0_sandbox:response.200.server_url:dropped"  # a survivor of bench/mutants.json: no test compares it


def mutants(*args: str, cwd: Path | None = None, timeout: int = 1200) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_API", "KLAVIS_API", "MEM0_CONFORMANCE_"))}
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout, env=environ, cwd=cwd)


def test_list_prints_the_catalogue_of_both_apis():
    """`mutants list` prints one line per mutant (id, operation, operator, sentence) and counts them on stderr."""
    result = mutants("mutants", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(catalogue())
    assert any(line.startswith("memories_search_v2:request.filters.user_id:ignored ") for line in lines)
    assert f"{len(catalogue())} mutants of 68 operations (klavis, mem0)" in result.stderr
    listed = json.loads(mutants("mutants", "list", "--only", "initialize_sandbox:*", "--format", "json").stdout)
    assert listed and all(item["api"] == "klavis" and item["sentence"] for item in listed)


def test_run_with_a_mutant_fails_the_tests_that_catch_it(tmp_path: Path):
    """`run --mutant ID` plants it in the embedded server: a test that checks what it changes fails (exit 1)."""
    test = "test_memories.py::test_a_list_or_search_without_an_entity_filter_is_refused[v1-list]"
    assert mutants("run", "--reports", str(tmp_path / "green"), "--", test).returncode == 0
    planted = mutants("run", "--mutant", "memories_list:response.4xx:emptied", "--reports", str(tmp_path / "red"), "--", test)
    assert planted.returncode == 1, planted.stdout[-2000:]
    assert "planted mutant memories_list:response.4xx:emptied" in planted.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--mutant", "memories_read:nothing:dropped"], "unknown mutant 'memories_read:nothing:dropped'"),
    (["run", "--mutant", KILLED, "--mem0-url", "http://127.0.0.1:9"],
     "--mutant applies only to the embedded reference server, not to a target"),
    (["mutants", "run", "--only", "nosuch*"], "no mutant matches nosuch*"),
    (["mutants", "run", "--sample", "0"], "'0' is not a positive whole number"),
    (["mutants", "run", "--min-score", "2"], "'2' is not a score between 0 and 1"),
    (["mutants", "report", "nowhere"], "nowhere/mutants.json does not exist"),
])
def test_bad_input_is_one_sentence(args, message, tmp_path: Path):
    """Bad input to the mutant commands gets one sentence and exit 2, and runs nothing."""
    result = mutants(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_run_records_kills_and_survivors_and_merges(tmp_path: Path):
    """`mutants run` judges each mutant against its operation's tests after a green baseline; the results
    say who killed what, after how many requests; `mutants report` merges runs."""
    first = mutants("mutants", "run", "--only", KILLED, "--reports", str(tmp_path / "a"), "--min-score", "0")
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"[1/1] killed    {KILLED} by test_" in first.stderr
    data = json.loads((tmp_path / "a" / "mutants.json").read_text(encoding="utf-8"))
    (outcome,) = data["engines"]["suite"]["outcomes"].values()
    assert outcome["status"] == "killed" and outcome["requests"] > 0 and outcome["activations"] > 0
    assert data["engines"]["suite"]["runs"][0]["complete"] is True
    second = mutants("mutants", "run", "--only", SURVIVES, "--include-equivalent", "--reports", str(tmp_path / "b"))
    assert second.returncode == 1, second.stderr[-3000:]  # a score of 0 is below the default 0.9
    assert "score 0.000 is below 0.9" in second.stderr
    merged = mutants("mutants", "report", str(tmp_path / "a"), str(tmp_path / "b"), "--reports", str(tmp_path / "c"))
    assert merged.returncode == 0, merged.stderr
    assert "mem0-conformance: score 0.500 (1/2)" in merged.stdout
    markdown = (tmp_path / "c" / "mutants.md").read_text(encoding="utf-8")
    assert SURVIVES in markdown and "what a test would have to check" in markdown
    assert (tmp_path / "c" / "mutants.html").read_text(encoding="utf-8").startswith("<!doctype html>")
@pytest.mark.slow
def test_a_fixed_sample_reaches_the_score(tmp_path: Path):
    """`mutants run --sample 40 --seed 7` against the embedded server: green baseline, score at least 0.9, exit 0."""
    result = mutants("mutants", "run", "--sample", "40", "--seed", "7", "--reports", str(tmp_path))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    data = json.loads((tmp_path / "mutants.json").read_text(encoding="utf-8"))
    outcomes = data["engines"]["suite"]["outcomes"]
    assert len(outcomes) == 40
    detected = sum(1 for outcome in outcomes.values() if outcome["status"] in ("killed", "timed out"))
    assert detected / len(outcomes) >= 0.9, result.stdout


@pytest.mark.parametrize(("raised", "timed_out"), [
    (pytest.fail.Exception("Timeout (>15.0s) from pytest-timeout."), True),
    (TargetBroken("the test ran over its time bound: Timeout (>15.0s) from pytest-timeout."), True),  # as the suite says it
    (TargetBroken("ConnectError: [Errno 111] Connection refused"), False),
    (pytest.fail.Exception("an expectation failed"), False),
])
def test_a_test_over_its_bound_under_a_mutant_timed_out(raised, timed_out):
    """A mutant that makes a test run past its bound is detected by timing out, also where the suite reports the
    test as the target broken (a schemathesis test over its bound); other trouble is no timeout."""
    assert timed_out_by(raised) is timed_out
