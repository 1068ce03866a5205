"""The ``mem0-conformance`` command, run as a user runs it: the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.specs import effective

# The installed console script, also when this interpreter's bin folder is not on PATH.
EXE = shutil.which("mem0-conformance") or str(Path(sys.executable).with_name("mem0-conformance"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120)


def test_specs_export_writes_the_effective_documents(tmp_path: Path):
    """`specs export DIR` writes one effective OpenAPI document per API."""
    result = run("specs", "export", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    for api in ("mem0", "klavis"):
        written = json.loads((tmp_path / "out" / f"{api}.openapi.json").read_text(encoding="utf-8"))
        assert written == effective(api)


def test_specs_lint_lists_the_pristine_defects_and_exits_0_when_all_are_settled():
    """`specs lint` lists what it found in the pristine documents and how each is settled."""
    result = run("specs", "lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mem0: defects of the pristine document" in result.stdout
    assert "duplicate-operation-id" in result.stdout
    assert "0 open" in result.stdout.splitlines()[-1]


def test_specs_lint_json_for_one_api():
    """`specs lint --api klavis --format json` gives machine-readable findings for that API only."""
    result = run("specs", "lint", "--api", "klavis", "--format", "json")
    data = json.loads(result.stdout)
    assert list(data) == ["klavis"]
    assert {f["check"] for f in data["klavis"]["pristine"]} >= {"auth-without-401", "records-created-undocumented"}
    assert all(f["status"] in ("fixed", "excluded") for f in data["klavis"]["pristine"])


def test_errata_check_passes_on_the_committed_index():
    """`specs errata --check` confirms ERRATA.md matches the overlays."""
    result = run("specs", "errata", "--check")
    assert result.returncode == 0, result.stderr


def test_report_without_results_says_so_in_one_sentence(tmp_path: Path):
    """`report` with no results folder to read exits 2 with one sentence saying what to run."""
    result = subprocess.run([EXE, "report"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == ("mem0-conformance: reports/allure-results holds no Allure results: "
                                     "run `mem0-conformance run` first, or name a results folder.")


@pytest.mark.parametrize(("content", "message"), [(None, "does not exist"), ("[1, 2]", "is not a mem0-conformance summary"),
                                                  ("not json", "is not a JSON summary")])
def test_diff_of_something_that_is_not_a_summary_is_refused_in_one_sentence(tmp_path: Path, content, message):
    baseline = tmp_path / "baseline.json"
    if content is not None:
        baseline.write_text(content, encoding="utf-8")
    result = run("diff", str(baseline), str(baseline))
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1 and result.stdout == ""


def test_unknown_api_is_a_usage_error():
    """An unknown --api value is rejected before any work, with a non-zero exit."""
    result = run("specs", "lint", "--api", "openai")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_help_lists_every_command():
    """--help names every command of the contract."""
    result = run("--help")
    assert result.returncode == 0
    for command in ("specs", "serve", "run", "faults", "report", "diff", "mutants", "cache"):
        assert command in result.stdout


def test_cache_says_where_it_lives_and_what_it_holds_and_clear_empties_it(tmp_path: Path):
    """`cache` names the folder, its size and each entry's; `cache --clear` removes them (the folder stays)."""
    cache = tmp_path / "cache"
    (cache / "sdk-mem0ai-2.2.1").mkdir(parents=True)
    (cache / "sdk-mem0ai-2.2.1" / "blob").write_bytes(b"x" * 3000)
    (cache / "node-tools.json").write_text("{}", encoding="utf-8")
    environ = {**os.environ, "MEM0_CONFORMANCE_CACHE": str(cache)}
    shown = subprocess.run([EXE, "cache"], capture_output=True, text=True, timeout=60, env=environ)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [f"{cache}  2.9 KiB", "         2 B  node-tools.json", "     2.9 KiB  sdk-mem0ai-2.2.1"]
    cleared = subprocess.run([EXE, "cache", "--clear"], capture_output=True, text=True, timeout=60, env=environ)
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout.strip() == f"mem0-conformance: removed 2 entries (2.9 KiB) from {cache}"
    assert cache.is_dir() and not any(cache.iterdir())
