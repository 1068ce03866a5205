"""The suite catches every planted fault: one `mem0-conformance run --fault NAME` per fault.

Each run tests the embedded reference server with one fault switched on and must fail (exit 1);
the tests that failed are the ones that catch the fault. A fault no test catches is a bug of the
suite: strengthen the suite, never weaken the fault. The summary table (fault, catching tests,
time until the first catch, run time) is printed at the end of the session.

The runs use the lean, derandomized ``ci`` profile and stop at the first catching test
(``--maxfail=1``), without Hypothesis's shrink phase (a caught fault is all the matrix needs to
know), so that CI stays fast and repeatable; with the ``thorough`` profile
(``tox -e thorough``) every run is complete and names every test that catches its fault.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from conformance.profiles import PROFILE_VARIABLE, SHRINK_VARIABLE, chosen_profile
from conformance.server.faults import catalog
from tests.test_cli import EXE

PROPERTY = "fault_matrix_outcome"
LEAN_MAXFAIL = 1


@dataclass(frozen=True)
class Outcome:
    fault: str
    exit_code: int
    caught_by: tuple[str, ...]
    first_catch: float | None  # seconds of test time until the first catching test finished
    run_time: float


def failed_tests(junit: Path) -> tuple[list[str], float | None]:
    """The suite tests that failed or errored, in run order, and the test time until the first."""
    failed, elapsed, first = [], 0.0, None
    for case in ET.parse(junit).getroot().iter("testcase"):
        elapsed += float(case.get("time", 0))
        if case.find("failure") is not None or case.find("error") is not None:
            module, _, cls = case.get("classname", "").partition(".")
            failed.append(f"{module}.py::" + (f"{cls}::" if cls else "") + case.get("name", ""))
            first = elapsed if first is None else first
    return failed, first


def run_with_fault(fault: str, workdir: Path, record) -> Outcome:
    junit = workdir / "junit.xml"
    thorough = chosen_profile(os.environ) == "thorough"
    profile = "thorough" if thorough else "ci"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_API", "KLAVIS_API", "MEM0_CONFORMANCE_"))}
    environ[PROFILE_VARIABLE] = profile
    environ[SHRINK_VARIABLE] = "0"  # the matrix needs to know that a fault is caught, not its minimal example
    started = time.monotonic()
    result = subprocess.run(
        [EXE, "run", "--fault", fault, "--", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
         *([] if thorough else [f"--maxfail={LEAN_MAXFAIL}"])],
        capture_output=True, text=True, timeout=1800, env=environ, cwd=workdir,
    )
    run_time = time.monotonic() - started
    caught, first = failed_tests(junit) if junit.exists() else ([], None)
    outcome = Outcome(fault, result.returncode, tuple(caught), first, run_time)
    record(PROPERTY, json.dumps(asdict(outcome)))  # travels with the report, also from xdist workers
    assert result.returncode == 1 and caught, (
        f"no test of the suite catches {fault!r} (exit {result.returncode}):\n" + result.stdout[-5000:] + result.stderr[-3000:]
    )
    return outcome


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(catalog()))
def test_the_suite_catches_the_planted_fault(fault: str, tmp_path: Path, record_property):
    """Run against the reference server with this fault switched on, the suite fails."""
    run_with_fault(fault, tmp_path, record_property)


def outcomes_of(reports) -> list[Outcome]:
    """The outcomes recorded by this module's tests, from the session's test reports."""
    found = {}
    for report in reports:
        for name, value in getattr(report, "user_properties", ()):
            if name == PROPERTY:
                data = json.loads(value)
                data["caught_by"] = tuple(data["caught_by"])
                found[data["fault"]] = Outcome(**data)
    return [found[name] for name in sorted(found)]


def summary_table(outcomes: list[Outcome]) -> list[str]:
    """Fault, catching tests and times, one row per fault (long test lists shortened)."""
    width = max(len(o.fault) for o in outcomes)
    lines = [f"{'fault':<{width}}  {'first catch':>11}  {'run':>6}  caught by"]
    for o in outcomes:
        first = f"{o.first_catch:.1f}s" if o.first_catch is not None else "-"
        names = ", ".join(o.caught_by[:3]) + (f" (+{len(o.caught_by) - 3} more)" if len(o.caught_by) > 3 else "")
        lines.append(f"{o.fault:<{width}}  {first:>11}  {o.run_time:>5.1f}s  {names or 'NOT CAUGHT'}")
    return lines
