"""`run --shard K/N` (pytest-split): the shards of a run together are exactly the run, and their
results merge (`report DIR...`) into the summary a single run gives."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conformance.suite_runner import DURATIONS
from tests.test_cli import EXE
from tests.test_report_runs import mem0_conformance, run

SELECTION = ("test_auth.py", "test_batch.py", "test_smoke.py", "test_capabilities.py")
CI = {"MEM0_CONFORMANCE_PROFILE": "ci"}


def test_the_durations_file_names_tests_of_the_suite():
    """The file the shards are balanced by is kept with the suite, and names its tests as pytest does."""
    durations = json.loads(DURATIONS.read_text(encoding="utf-8"))
    assert len(durations) > 100 and all(isinstance(seconds, float) for seconds in durations.values())
    files = {test.partition("::")[0] for test in durations}
    assert {"test_memories.py", "test_schema.py", "test_sandbox.py"} <= files
    assert all((DURATIONS.parent / file).is_file() for file in files)


def test_two_shards_are_the_whole_selection_and_merge_into_its_counts(tmp_path):
    whole = run(tmp_path, "--", "-p", "no:cacheprovider", *SELECTION, reports="whole", env=CI)
    shards = [run(tmp_path, "--shard", f"{k}/2", "--", "-p", "no:cacheprovider", *SELECTION, reports=f"shard{k}", env=CI)
              for k in (1, 2)]
    assert [outcome.code for outcome in (whole, *shards)] == [0, 0, 0], whole.stdout[-2000:]
    tests = [set(outcome.summary()["tests"]) for outcome in shards]
    assert tests[0] and tests[1] and not tests[0] & tests[1]
    assert tests[0] | tests[1] == set(whole.summary()["tests"])
    merged = mem0_conformance("report", "--no-html", "--reports", "merged", "shard1", "shard2", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    together = json.loads((tmp_path / "merged" / "summary.json").read_text(encoding="utf-8"))
    alone = whole.summary()
    assert together["totals"] == alone["totals"]
    assert {api: data["counts"] for api, data in together["apis"].items()} == \
        {api: data["counts"] for api, data in alone["apis"].items()}
    assert len(together["runs"]) == 2  # each shard's run, named in the merged summary


@pytest.mark.parametrize("shard", ["0/2", "3/2", "1-2", "a/b"])
def test_a_shard_is_written_k_of_n(tmp_path: Path, shard):
    result = subprocess.run([EXE, "run", "--shard", shard], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert "is not a shard: write K/N with 1 <= K <= N, e.g. 2/3" in result.stderr
    assert not (tmp_path / "reports").exists()


def test_a_shard_the_selection_leaves_empty_passes_and_says_so(tmp_path):
    outcome = run(tmp_path, "--shard", "3/3", "--", "-p", "no:cacheprovider", "test_smoke.py::test_klavis_lists_sandboxes",
                  env=CI)
    assert outcome.code == 0, outcome.stdout[-2000:]
    assert "mem0-conformance: shard 3/3 holds no test of this selection" in outcome.stdout
