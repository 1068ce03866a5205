"""Per planted fault: how long, and how many HTTP requests, until the suite's first failure.

One ``mem0-conformance run --fault NAME`` per fault (the ``ci`` profile, serial, ``--maxfail=1``,
no shrinking: what a CI run needs to know is that the fault is caught). The embedded server notes
when each request came (``MEM0_CONFORMANCE_REQUEST_LOG``); the first failure is the earliest stop
of a failed test in the Allure results. Time counts from the command's start (start-up included).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.suite import run


def first_failure(reports: Path) -> float | None:
    """The wall-clock time (seconds) at which the first failing test stopped."""
    stops = [result["stop"] / 1000 for path in (reports / "allure-results").glob("*-result.json")
             if (result := json.loads(path.read_text(encoding="utf-8"))).get("status") == "failed"]
    return min(stops) if stops else None


def catch(fault: str) -> dict[str, float | None]:
    log = Path(tempfile.mkdtemp(prefix="mem0-conformance-bench-requests-"))
    started = time.time()
    wall, reports, code = run("--fault", fault, env={"MEM0_CONFORMANCE_SHRINK": "0", "MEM0_CONFORMANCE_REQUEST_LOG": str(log)},
                              pytest_args=("-p", "no:xdist", "--maxfail=1"))
    stop = first_failure(reports)
    times = [t for path in log.glob("requests-*.json") for t in json.loads(path.read_text(encoding="utf-8"))]
    return {"exit code": code, "run (s)": wall, "until the first failure (s)": None if stop is None else stop - started,
            "requests until the first failure": None if stop is None else sum(1 for t in times if t <= stop)}


def main(faults: list[str] | None = None, progress=print) -> dict[str, object]:
    from conformance.server.faults import catalog

    per_fault = {}
    for fault in faults or sorted(catalog()):
        per_fault[fault] = catch(fault)
        progress(f"  {fault}: {per_fault[fault]}")
    seconds = [f["until the first failure (s)"] for f in per_fault.values() if f["until the first failure (s)"] is not None]
    requests = [f["requests until the first failure"] for f in per_fault.values()
                if f["requests until the first failure"] is not None]
    return {"faults": per_fault, "caught": len(seconds), "of": len(per_fault),
            "median until the first failure (s)": statistics.median(seconds) if seconds else None,
            "worst until the first failure (s)": max(seconds) if seconds else None,
            "worst fault": max(per_fault, key=lambda f: per_fault[f]["until the first failure (s)"] or 1e9),
            "median requests until the first failure": statistics.median(requests) if requests else None,
            "most requests until the first failure": max(requests) if requests else None}


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
