"""The ``mutants`` commands: list the catalogue, refresh the coverage index, run mutants, merge reports.

Runs use the ``ci`` Hypothesis profile (derandomized: a mutant meets the same examples in every run)
without the shrink phase (a kill is all a run needs to know), unless ``MEM0_CONFORMANCE_PROFILE``
names another profile.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from conformance import exits
from conformance.mutants import coverage as index
from conformance.catalogue.mutants import Mutant, UnknownMutant, catalogue, matching
from conformance.mutants.equivalent import EquivalentError, load as load_equivalent
from conformance.mutants.results import ResultsError, document, merge, read, render_text, write
from conformance.mutants.runner import BaselineFailed, MutationRun, Outcome
from conformance.profiles import PROFILE_VARIABLE, SHRINK_VARIABLE
from conformance.suite_runner import plugin_arguments, pytest_arguments, pytest_main

PLAIN = Path(__file__).with_name("plain")
EXIT_OK, EXIT_BELOW, EXIT_USAGE, EXIT_INCOMPLETE = exits.OK, exits.FAILED, exits.USAGE, exits.INCOMPLETE


class MutantsError(Exception):
    """A problem the user can fix; one sentence."""


# --- choosing ----------------------------------------------------------------------------------------

def chosen(*, only: Sequence[str] = (), sample: int | None = None, seed: int = 0, include_equivalent: bool = False,
           equivalent: dict[str, str] | None = None) -> list[Mutant]:
    """The mutants a run is about, in catalogue order: ``--only``, then without the declared equivalents, then ``--sample``."""
    mutants = matching(list(only)) if only else list(catalogue().values())
    if only and not mutants:
        raise MutantsError(f"no mutant matches {', '.join(only)}: `mem0-conformance mutants list` shows the ids")
    if not include_equivalent:
        mutants = [mutant for mutant in mutants if mutant.id not in (equivalent or {})]
    if sample is not None and sample < len(mutants):
        picked = set(random.Random(seed).sample([mutant.id for mutant in mutants], sample))
        mutants = [mutant for mutant in mutants if mutant.id in picked]
    return mutants


def shard(mutants: list[Mutant], coverage: index.Coverage, group: int, groups: int) -> list[Mutant]:
    """Shard ``group`` of ``groups``: each mutant, costliest first, to the shard with the least cost so far
    (pytest-split's least-duration rule; a mutant's cost is the time of all its tests, what a survivor takes)."""
    cost = {m.id: sum(coverage.seconds(test) for test in coverage.covering(m.reaches)) for m in mutants}
    loads = [0.0] * groups
    mine = set()
    for mutant in sorted(mutants, key=lambda m: (-cost[m.id], m.id)):
        lightest = loads.index(min(loads))
        loads[lightest] += cost[mutant.id]
        if lightest == group - 1:
            mine.add(mutant.id)
    return [mutant for mutant in mutants if mutant.id in mine]


# --- list ----------------------------------------------------------------------------------------------

def list_mutants(*, only: Sequence[str], api: str | None, output: str) -> int:
    mutants = matching(list(only)) if only else list(catalogue().values())
    mutants = [m for m in mutants if api is None or m.api == api]
    try:
        equivalent = load_equivalent()
    except EquivalentError as exc:
        raise MutantsError(str(exc)) from None
    if output == "json":
        print(json.dumps([{**m.to_wire(), "equivalent": equivalent.get(m.id)} for m in mutants], indent=1))
        return EXIT_OK
    width = max((len(m.id) for m in mutants), default=10)
    for mutant in mutants:
        mark = "  [equivalent]" if mutant.id in equivalent else ""
        print(f"{mutant.id:<{width}}  {mutant.label:<52} {mutant.operator:<20} {mutant.sentence}{mark}")
    apis = sorted({m.api for m in mutants})
    print(f"{len(mutants)} mutants of {len({m.operation for m in mutants})} operations ({', '.join(apis)}), "
          f"{sum(1 for m in mutants if m.id in equivalent)} declared equivalent", file=sys.stderr)
    return EXIT_OK


# --- pytest sessions -------------------------------------------------------------------------------------

def _environment() -> None:
    os.environ.setdefault(PROFILE_VARIABLE, "ci")
    os.environ[SHRINK_VARIABLE] = "0"


def _arguments(engine: str) -> list[str]:
    quiet = ["-q", "--no-header", "--no-summary", "-p", "no:cacheprovider", "-p", "no:xdist"]
    if engine == "suite":
        return pytest_arguments(quiet)
    return ["-c", str(PLAIN / "pytest.ini"), "--rootdir", str(PLAIN), *quiet, *plugin_arguments(quiet), str(PLAIN)]


def _settings():
    from conformance.plugin import Conformance
    from conformance.settings import RunSettings
    from conformance.targets import embedded

    return Conformance(RunSettings(embedded("")))


def build_index(engines: Sequence[str]) -> int:
    """Run each engine once, green, recording which operations each test exercised."""
    _environment()
    for engine in engines:
        print(f"mem0-conformance: indexing the {engine} tests (a green run against the reference server) ...",
              file=sys.stderr, flush=True)
        recorder = index.Recorder()
        code = pytest_main(_arguments(engine), [_settings(), recorder])
        if code != 0:
            raise MutantsError(f"the {engine} tests are not green on the reference server (pytest exit {code}): "
                               "the index is left as it was")
        found = recorder.coverage()
        index.write(engine, found)
        print(f"mem0-conformance: {len(found.tests)} {engine} tests exercise {len(found.operations())} operations; "
              f"wrote {index.INDEX}", file=sys.stderr)
    return EXIT_OK


class Progress:
    """One line per mutant on stderr: done/total, its outcome, the running counts, elapsed time."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.started = time.monotonic()
        self.counts: dict[str, int] = {}

    def __call__(self, mutant: Mutant, outcome: Outcome, number: int, total: int) -> None:
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        how = (f"by {outcome.killed_by} ({outcome.seconds:.1f} s, {outcome.requests} requests)"
               if outcome.killed_by else f"({outcome.tests} tests, {outcome.seconds:.1f} s: {outcome.detail})")
        elapsed = time.monotonic() - self.started
        tally = ", ".join(f"{count} {status}" for status, count in sorted(self.counts.items()))
        print(f"{self.prefix}[{number:>{len(str(total))}}/{total}] {outcome.status:<9} {mutant.id} {how}"
              f" | {tally}, {elapsed // 60:.0f}m{elapsed % 60:02.0f}s", file=sys.stderr, flush=True)


def run(*, engine: str, only: Sequence[str], sample: int | None, seed: int, shard_of: tuple[int, int] | None,
        jobs: int, reports: Path, min_score: float, include_equivalent: bool) -> int:
    try:
        equivalent = load_equivalent()
        coverage = index.load(engine)
    except (EquivalentError, index.CoverageError) as exc:
        raise MutantsError(str(exc)) from None
    mutants = chosen(only=only, sample=sample, seed=seed, include_equivalent=include_equivalent, equivalent=equivalent)
    if shard_of is not None:
        mutants = shard(mutants, coverage, *shard_of)
    selection = {"only": list(only), "sample": sample, "seed": seed if sample is not None else None,
                 "shard": f"{shard_of[0]}/{shard_of[1]}" if shard_of else None}
    if jobs > 1 and shard_of is None:
        return _in_parallel(jobs, engine=engine, only=only, sample=sample, seed=seed, reports=reports,
                            min_score=min_score, include_equivalent=include_equivalent)
    print(f"mem0-conformance: {len(mutants)} mutants against the {engine} (a green baseline first) ...",
          file=sys.stderr, flush=True)
    _environment()
    prefix = f"shard {shard_of[0]}/{shard_of[1]} " if shard_of else ""
    runner = MutationRun(mutants, coverage, progress=Progress(prefix))
    started = time.monotonic()
    code = EXIT_OK
    try:
        pytest_main(_arguments(engine), [_settings(), runner])
    except BaselineFailed as exc:
        print(f"mem0-conformance: {exc}; no mutant was judged.", file=sys.stderr)
        code = EXIT_INCOMPLETE
    finally:
        wall = time.monotonic() - started
        done = {outcome.id for outcome in runner.outcomes}
        run_info = {"engine": engine, "mutants": len(runner.outcomes), "of chosen": len(mutants),
                    "wall seconds": round(wall, 1), "baseline seconds": round(runner.baseline_seconds, 1),
                    "profile": os.environ.get(PROFILE_VARIABLE), "selection": selection, "commit": _commit(),
                    "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "complete": len(done) == len(mutants) and code == EXIT_OK}
        data = document(engine, runner.outcomes, run_info, equivalent)
        paths = write(data, reports)
    print(render_text(data))
    print(f"mem0-conformance: wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    if code != EXIT_OK:
        return code
    if len(done) < len(mutants):
        print(f"mem0-conformance: the run stopped after {len(done)} of {len(mutants)} mutants.", file=sys.stderr)
        return EXIT_INCOMPLETE
    from conformance.mutants.results import overall

    _, total, found = overall(data, engine)
    if total and found is not None and found < min_score:
        print(f"mem0-conformance: score {found:.3f} is below {min_score}.", file=sys.stderr)
        return EXIT_BELOW
    return EXIT_OK


def _in_parallel(jobs: int, *, engine: str, only: Sequence[str], sample: int | None, seed: int, reports: Path,
                 min_score: float, include_equivalent: bool) -> int:
    """``jobs`` shards in child processes, side by side, then their results merged into ``reports``."""
    folders = [reports / f"shard-{k}" for k in range(1, jobs + 1)]
    common = ["--engine", engine, "--seed", str(seed), "--min-score", "0"]
    common += [arg for pattern in only for arg in ("--only", pattern)]
    common += ["--sample", str(sample)] * (sample is not None) + ["--include-equivalent"] * include_equivalent
    children = [subprocess.Popen([sys.executable, "-m", "conformance.cli", "mutants", "run", *common,
                                  "--shard", f"{k}/{jobs}", "--reports", str(folder)], stdout=subprocess.DEVNULL)
                for k, folder in enumerate(folders, start=1)]
    codes = [child.wait() for child in children]
    if any(code not in (EXIT_OK, EXIT_BELOW) for code in codes):
        raise MutantsError(f"a shard did not complete (exit codes {codes}); its results are in {folders}")
    return report(folders, reports, min_score=min_score)


def _commit() -> str | None:
    """The checkout's commit (the suite and the server a run judged), when the project runs from one."""
    try:
        found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                               cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None if found.returncode == 0 else None


def report(folders: Sequence[Path], output: Path, *, min_score: float | None = None, rerun: bool = False) -> int:
    try:
        data = merge([read(folder) for folder in folders], rerun=rerun)
    except ResultsError as exc:
        raise MutantsError(str(exc)) from None
    paths = write(data, output)
    print(render_text(data))
    print(f"mem0-conformance: wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    if min_score is not None and "suite" in data["engines"]:
        from conformance.mutants.results import overall

        _, total, found = overall(data, "suite")
        if total and found is not None and found < min_score:
            return EXIT_BELOW
    return EXIT_OK


def check_mutant(mutant_id: str) -> str:
    """``mutant_id`` when the catalogue has it, else a one-sentence error."""
    from conformance.catalogue.mutants import get

    try:
        return get(mutant_id).id
    except UnknownMutant as exc:
        raise MutantsError(str(exc)) from None
