"""The full mutation run: every mutant of the catalogue against the suite and against plain schemathesis.

``mem0-conformance mutants run --jobs 2 --include-equivalent`` once per engine (the declared
equivalents are run too, to show that they survive), merged into ``bench/mutants.json`` with the
machine, the versions, each engine's wall time and time per mutant, and the planted faults' figures
from ``bench/results.json`` beside them (the hand-written faults are the worked examples, the mutants
the measure). Scores count the mutants not declared equivalent.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import EXE

MUTANTS = Path(__file__).with_name("mutants.json")
RESULTS = Path(__file__).with_name("results.json")
ENGINES = ("suite", "schemathesis")


def run_engine(engine: str, folder: Path, jobs: int = 2) -> float:
    """One engine over the whole catalogue; its wall time (s)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_API", "KLAVIS_API", "MEM0_CONFORMANCE_"))}
    started = time.perf_counter()
    subprocess.run([EXE, "mutants", "run", "--engine", engine, "--jobs", str(jobs), "--include-equivalent",
                    "--min-score", "0", "--reports", str(folder)], env=environ, check=False)
    return time.perf_counter() - started


def recorded_wall(folder: Path) -> float:
    """The wall time of a finished run of one engine: its shards ran side by side, so the longest of them."""
    from conformance.mutants.results import read

    runs = [run for engine in read(folder)["engines"].values() for run in engine.get("runs", [])]
    return max(run["wall seconds"] for run in runs)


def main(progress=print, reuse: dict[str, Path] | None = None) -> dict[str, Any]:
    """Both engines over the whole catalogue; ``reuse`` takes an engine's results from a finished
    ``mutants run --engine E --include-equivalent`` (its recorded wall time) instead of running it again."""
    from conformance.mutants.results import counts, merge, overall, read, scores_by, write

    base = Path(tempfile.mkdtemp(prefix="mem0-conformance-bench-mutants-"))
    walls, folders = {}, dict(reuse or {})
    for engine in ENGINES:
        if engine in folders:
            walls[engine] = recorded_wall(folders[engine])
            progress(f"  mutants against {engine}: the results of {folders[engine]}")
            continue
        progress(f"  mutants against {engine} ...")
        folders[engine] = base / engine
        walls[engine] = run_engine(engine, folders[engine])
    data = merge([read(folders[engine]) for engine in ENGINES])
    figures: dict[str, Any] = {}
    for engine in ENGINES:
        outcomes = data["engines"][engine]["outcomes"]
        seconds = [outcome["seconds"] for outcome in outcomes.values()]
        detected, total, score = overall(data, engine)
        figures[f"{engine}: score"] = score
        figures[f"{engine}: mutants scored"] = total
        figures[f"{engine}: wall time (min)"] = walls[engine] / 60
        figures[f"{engine}: mutants per minute"] = len(outcomes) / (walls[engine] / 60)
        figures[f"{engine}: median seconds per mutant (one job)"] = statistics.median(seconds) if seconds else None
        for status, count in counts(data, engine).items():
            figures[f"{engine}: {status}"] = count
        for name, key in (("family", lambda m: m.family), ("api", lambda m: m.api)):
            for group, (_, _, value) in scores_by(data, engine, key).items():
                figures[f"{engine}: score of {name} {group}"] = value
        equivalent = [outcomes[m]["status"] for m in data["equivalent"] if m in outcomes]
        figures[f"{engine}: declared equivalent, run"] = len(equivalent)
        figures[f"{engine}: declared equivalent, yet detected"] = sum(1 for s in equivalent if s in ("killed", "timed out"))
    figures["declared equivalent / catalogue"] = len(data["equivalent"]) / data["catalogue"]
    worst = min((value for (engine, operator), value in _operators(data).items() if engine == "suite"), default=None)
    figures["suite: lowest score of an operator"] = worst
    write(data, base / "merged")
    faults = json.loads(RESULTS.read_text(encoding="utf-8")).get("sections", {}).get("faults", {}).get("figures", {}) \
        if RESULTS.is_file() else {}
    from bench.common import machine

    MUTANTS.write_text(json.dumps({
        "machine": machine(), "figures": figures,
        "planted faults (bench/results.json)": {key: faults.get(key) for key in (
            "caught", "of", "median until the first failure (s)", "worst until the first failure (s)")},
        "scores by operator": {f"{engine} {operator}": value for (engine, operator), value in _operators(data).items()},
        "results": data,
    }, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    progress(f"  wrote {MUTANTS} (report: {base / 'merged'})")
    return figures


SAMPLE, SEED = 60, 7


def sample(size: int = SAMPLE) -> dict[str, Any]:
    """Mutants per minute: a fixed sample of the catalogue against the suite, one job (the green baseline apart)."""
    from conformance.mutants.results import counts, read

    folder = Path(tempfile.mkdtemp(prefix="mem0-conformance-bench-mutants-"))
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_API", "KLAVIS_API", "MEM0_CONFORMANCE_"))}
    subprocess.run([EXE, "mutants", "run", "--sample", str(size), "--seed", str(SEED), "--jobs", "1", "--min-score", "0",
                    "--reports", str(folder)], env=environ, check=False, capture_output=True)
    data = read(folder)
    (run,) = data["engines"]["suite"]["runs"]
    judged = run["wall seconds"] - run["baseline seconds"]
    figures: dict[str, Any] = {"mutants in the sample": run["mutants"], "green baseline (s)": run["baseline seconds"],
                               "mutants per minute (one job)": run["mutants"] / (judged / 60)}
    figures.update({f"sample: {status}": count for status, count in counts(data, "suite").items()})
    whole = json.loads(MUTANTS.read_text(encoding="utf-8"))["figures"] if MUTANTS.is_file() else {}
    for key in ("suite: score", "suite: mutants scored", "suite: wall time (min)", "suite: mutants per minute"):
        if key in whole:
            figures[f"whole catalogue ({MUTANTS.name}), {key}"] = whole[key]
    return figures


def _operators(data: dict[str, Any]) -> dict[tuple[str, str], float | None]:
    from conformance.mutants.results import scores_by

    return {(engine, operator): value for engine in data["engines"]
            for operator, (_, _, value) in scores_by(data, engine, lambda m: m.operator).items()}


def _arguments(argv: list[str]) -> dict[str, Path]:
    parser = argparse.ArgumentParser(prog="python -m bench.mutants", description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="append", default=[], metavar="ENGINE=DIR",
                        help="take this engine's results from a finished run instead of running it (repeatable)")
    reuse = {}
    for given in parser.parse_args(argv).reuse:
        engine, _, folder = given.partition("=")
        if engine not in ENGINES or not (Path(folder) / "mutants.json").is_file():
            parser.error(f"--reuse {given}: expected ENGINE=DIR with ENGINE one of {', '.join(ENGINES)} and "
                         "DIR holding a mutants.json")
        reuse[engine] = Path(folder)
    return reuse


if __name__ == "__main__":
    reused = _arguments(sys.argv[1:])
    for name, value in main(progress=lambda line: print(line, file=sys.stderr), reuse=reused).items():
        print(f"{name:<55} {value}")
