"""``python -m bench``: every benchmark in one run, a table, and ``bench/results.json``.

Sections (``--only`` picks some): ``suite`` (the whole suite serial and with -n 2, the share per
module and per schemathesis phase, a live-style run beside the embedded one), ``faults`` (time and
requests until each planted fault's first failure), ``harness`` (the suite's HTTP layer against a
raw httpx loop, and the suite's schemathesis path against plain schemathesis on the same cases),
``server`` (mixed throughput and each kind of request against a trivial endpoint on the same stack;
one user's reads at 1,000, 10,000 and 100,000 stored memories of others; resident memory after
10,000 and 100,000 memories), ``mutants`` (mutants per minute over a fixed sample; the whole
catalogue's run is ``python -m bench.mutants``, into ``bench/mutants.json``). Figures are measured side by side in one run
and compared as ratios; the targets below are checked against them and printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import faults, harness, mutants, server, suite
from bench.common import machine

RESULTS = Path(__file__).with_name("results.json")
SECTIONS = {"harness": harness.main, "server": server.main, "suite": suite.main, "faults": faults.main,
            "mutants": mutants.sample}

# (section, figure, comparison, bound, what it means)
TARGETS = (
    ("harness", "suite client / raw", ">=", 0.5, "the suite's client keeps half of a raw httpx loop's rate"),
    ("harness", "schemathesis call / raw", ">=", 0.5, "schemathesis's calls, hooks included, keep half of it"),
    ("harness", "suite's schemathesis path / plain schemathesis", ">=", 0.9,
     "what the suite adds to schemathesis (hooks, recording, checks) costs at most a tenth"),
    ("server", "reference server mixed / trivial", ">=", 0.8, "validation and domain logic cost at most a fifth"),
    ("server", "one user's list: 100,000 / 1,000 others", "<=", 2.0, "a list costs what it asks for, not the store"),
    ("server", "one user's search: 100,000 / 1,000 others", "<=", 2.0, "and so does a search"),
    ("server", "per memory, 100,000 stored (KiB)", "<=", 2.0, "under 2 KiB per stored memory"),
    ("suite", "whole suite, -n 2 (s)", "<=", 35.0, "the whole suite with -n 2 on 2 cores"),
    ("faults", "median until the first failure (s)", "<=", 10.0, "a planted fault is caught within 10 s (median)"),
    ("faults", "worst until the first failure (s)", "<=", 30.0, "and within 30 s at worst"),
)


def _row(name: str, value: Any) -> str:
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    return f"  {name:<62} {shown:>12}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"sections, comma-separated ({', '.join(SECTIONS)})")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"no section {unknown[0]!r}: choose from {', '.join(SECTIONS)}")
    previous = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {}
    results: dict[str, Any] = {"machine": machine(), "sections": dict(previous.get("sections", {}))}
    for name in chosen:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        figures = SECTIONS[name]() if name != "faults" else faults.main(progress=lambda line: print(line, file=sys.stderr))
        results["sections"][name] = {"figures": figures, "seconds": round(time.perf_counter() - started, 1),
                                     "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    results["targets"] = _targets(results["sections"])
    for name, section in results["sections"].items():
        print(f"{name} ({section['measured']}, {section['seconds']} s)")
        for figure, value in section["figures"].items():
            if figure != "faults":
                print(_row(figure, value))
    print("targets")
    for target in results["targets"]:
        print(f"  {'met ' if target['met'] else 'MISSED' if target['met'] is False else 'n/a '}  {target['figure']} "
              f"{target['comparison']} {target['bound']} (measured {target['measured']}{_turns(target)}): "
              f"{target['meaning']}")
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


def _targets(sections: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its figure and verdict; a ratio taken in turns has the lowest and highest turn beside it."""
    found = []
    for section, figure, comparison, bound, meaning in TARGETS:
        figures = sections.get(section, {}).get("figures", {})
        value = figures.get(figure)
        met = None if not isinstance(value, (int, float)) else (value >= bound if comparison == ">=" else value <= bound)
        target = {"figure": figure, "comparison": comparison, "bound": bound, "measured": _shown(value, bound),
                  "met": met, "meaning": meaning}
        turns = [figures.get(f"{figure} (lowest turn)"), figures.get(f"{figure} (highest turn)")]
        if all(isinstance(turn, (int, float)) for turn in turns):
            target["turns"] = [_shown(float(turn), bound) for turn in turns]
        found.append(target)
    return found


def _shown(value: Any, bound: float) -> Any:
    """``value`` to three decimals, or to as many more as it takes not to read as the bound itself when it is not
    (0.7996 against 0.8 shows 0.7996: a printed 0.8 beside "MISSED" would contradict its verdict)."""
    if not isinstance(value, float):
        return value
    digits = 3
    while round(value, digits) == bound != value and digits < 9:
        digits += 1
    return round(value, digits)


def _turns(target: dict[str, Any]) -> str:
    """The turns' range of a ratio, and whether the bound lies within it: a verdict the run's own noise could turn."""
    if "turns" not in target:
        return ""
    low, high = target["turns"]
    return f", turns {low} to {high}{': the bound within them' if low < target['bound'] < high else ''}"


if __name__ == "__main__":
    sys.exit(main())
