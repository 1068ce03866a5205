"""The whole suite against the embedded reference server: serial and with ``-n 2``, where the time goes,
and a live-style run (``--mem0-url``/``--klavis-url`` against a reference server on loopback) beside it.

Every run is ``mem0-conformance run`` in a child process with the ``ci`` profile (derandomized, as
in CI). The share per test module comes from the serial run's JUnit times; the share per
schemathesis phase from running the schema tests once per phase alone (``MEM0_CONFORMANCE_PHASES``).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from bench.common import EXE, KEY, KLAVIS_KEY, serving

PHASES = ("examples", "coverage", "fuzzing", "stateful")


def run(*args: str, env: dict[str, str] | None = None, pytest_args: tuple[str, ...] = ()) -> tuple[float, Path, int]:
    """One run: its wall time, its reports folder and its exit code."""
    reports = Path(tempfile.mkdtemp(prefix="mem0-conformance-bench-"))
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_API", "KLAVIS_API", "MEM0_CONFORMANCE_"))}
    environ.update({"MEM0_CONFORMANCE_PROFILE": "ci", **(env or {})})
    started = time.perf_counter()
    result = subprocess.run([EXE, "run", "--reports", str(reports), *args, "--", "-q", "-p", "no:cacheprovider",
                             *pytest_args], env=environ, capture_output=True, text=True)
    return time.perf_counter() - started, reports, result.returncode


def module_times(junit: Path) -> Counter[str]:
    times: Counter[str] = Counter()
    for case in ET.parse(junit).getroot().iter("testcase"):
        times[case.get("classname", "").split(".")[0] + ".py"] += float(case.get("time", 0))
    return times


def main() -> dict[str, float]:
    figures: dict[str, float] = {}
    serial, reports, code = run(pytest_args=("-p", "no:xdist"))
    figures["whole suite, serial (s)"] = serial
    figures["whole suite, serial: exit code"] = code
    modules = module_times(reports / "junit.xml")
    total = sum(modules.values())
    for module, seconds in modules.most_common():
        figures[f"share of {module}"] = seconds / total
    parallel, _, code = run(pytest_args=("-n", "2"))
    figures["whole suite, -n 2 (s)"] = parallel
    figures["whole suite, -n 2: exit code"] = code
    figures["serial / -n 2"] = serial / parallel
    phases = {}
    for phase in PHASES:  # the tests' own time (JUnit), without the run's start-up
        _, reports, _ = run(env={"MEM0_CONFORMANCE_PHASES": phase}, pytest_args=("-p", "no:xdist", "test_schema.py"))
        phases[phase] = sum(module_times(reports / "junit.xml").values())
    for phase, seconds in phases.items():
        figures[f"schema tests with the {phase} phase alone (s)"] = seconds
    for phase, seconds in phases.items():
        figures[f"share of the {phase} phase"] = seconds / sum(phases.values())
    with serving() as (_, url):
        live, _, code = run("--mem0-url", url, "--klavis-url", url, env={"MEM0_API_KEY": KEY, "KLAVIS_API_KEY": KLAVIS_KEY},
                            pytest_args=("-n", "2"))
    figures["live-style, -n 2 (s)"] = live
    figures["live-style, -n 2: exit code"] = code
    figures["live-style / embedded (-n 2)"] = live / parallel
    return figures


if __name__ == "__main__":
    for name, value in main().items():
        print(f"{name:<50} {value:>10.2f}")
