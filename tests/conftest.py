from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Before anything imports mem0: no telemetry, and its state in a throwaway folder.
os.environ.setdefault("MEM0_TELEMETRY", "False")
os.environ.setdefault("MEM0_DIR", tempfile.mkdtemp(prefix="mem0-dir-"))

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


def seeds_dir() -> Path | None:
    """The seed documents the specs were vendored from, when they are available.

    ``MEM0_CONFORMANCE_SEEDS`` names the folder; otherwise ``shared/seeds`` beside the checkout.
    """
    explicit = os.environ.get("MEM0_CONFORMANCE_SEEDS")
    candidate = Path(explicit) if explicit else ROOT.parent / "shared" / "seeds"
    return candidate if candidate.is_dir() else None


@pytest.fixture
def seeds() -> Path:
    found = seeds_dir()
    if found is None:
        pytest.skip("the seed documents are not available (set MEM0_CONFORMANCE_SEEDS)")
    return found


@pytest.fixture(autouse=True)
def _hypothesis_prints_its_examples() -> Iterator[None]:
    """A failing Hypothesis test of the project shows its example with values (see ``hypothesis_printer``)."""
    from conformance.profiles import hypothesis_printer

    with hypothesis_printer():
        yield


@pytest.fixture(autouse=True)
def _a_liveness_watch_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test watches its own targets' liveness: a silence an earlier test left behind (a target it stopped on
    purpose) would otherwise make this test's requests fail at once (the watch is one per process, as a run's is)."""
    from conformance import liveness

    monkeypatch.setattr(liveness, "WATCH", liveness.Watch())


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The fault matrix's table: which suite tests catch each planted fault, and how fast."""
    from tests.test_fault_matrix import outcomes_of, summary_table

    outcomes = outcomes_of(report for reports in terminalreporter.stats.values() for report in reports)
    if outcomes:
        terminalreporter.section("planted faults caught by the suite")
        for line in summary_table(outcomes):
            terminalreporter.line(line)
