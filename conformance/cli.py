"""The ``mem0-conformance`` command: parses the arguments and dispatches to :mod:`conformance.commands`."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from conformance import __version__, exits
from conformance.apis import KLAVIS, MEM0
from conformance.commands import CliError
from conformance.commands import cache as cache_cmd
from conformance.commands import mutants as mutants_cmd
from conformance.commands import run as run_cmd
from conformance.commands import sdk as sdk_cmd
from conformance.commands import serve as serve_cmd
from conformance.commands import specs as specs_cmd
from conformance.overlay import OverlayError
from conformance.reporting import DEFAULT_REPORTS
from conformance.specs import SpecError


def _mutant_id(text: str) -> str:
    from conformance.mutants.command import MutantsError, check_mutant

    try:
        return check_mutant(text)
    except MutantsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _score(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a score between 0 and 1")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _positive_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _byte_count(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KkMm]?)", text)
    if match is None or int(match[1]) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a byte count (e.g. 1048576, 512K or 8M)")
    return int(match[1]) * {"": 1, "k": 1024, "m": 1024 ** 2}[match[2].lower()]


def _worker_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (1 to 64)")
    return int(text)


def _shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shard: write K/N with 1 <= K <= N, e.g. 2/3")
    return int(match[1]), int(match[2])


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mem0-conformance",
        description="Conformance suite for the Mem0 platform API and the Klavis mem0 sandbox API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    specs = commands.add_parser("specs", help="the vendored specs, their overlays and their defects")
    specs_commands = specs.add_subparsers(dest="specs_command", metavar="SUBCOMMAND", required=True)

    export = specs_commands.add_parser("export", help="write the effective OpenAPI documents to DIR")
    export.add_argument("directory", metavar="DIR", help="folder to write <api>.openapi.json into")
    export.set_defaults(handler=specs_cmd.specs_export)

    lint = specs_commands.add_parser(
        "lint",
        help="list the defects of the pristine specs and how the overlays settle each",
        description="List every defect found in the pristine (vendored) documents, each marked fixed "
        "(an overlay corrects it), excluded (left on purpose, with the reason) or open. Exits 1 "
        "if any defect is open in an effective document.",
    )
    lint.add_argument("--api", action="append", choices=("mem0", "klavis"), help="only this API (repeatable)")
    lint.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    lint.add_argument("-v", "--verbose", action="store_true", help="print every finding, not only the summary per check")
    lint.set_defaults(handler=specs_cmd.specs_lint)

    drift = specs_commands.add_parser(
        "drift", help="what a newer published document changes, for clients and for servers",
        description="Compare a newer published OpenAPI document with the vendored one (the provider's changes) and "
        "with the effective one (what the suite tests), and each operation the overlays supplement with the newer "
        "document's. Each change is breaking for clients, breaking for servers, additive or documentation only, with "
        "JSON pointers into both documents. The diff engine is Optic (installed with npm on first use). Exit 1 when "
        "the provider's changes break clients or servers (with --baseline: changes the baseline does not list), 0 "
        "when they do not, 2 when a document cannot be read.",
    )
    drift.add_argument("newer", metavar="NEWER", help="the newer document: a file (JSON or YAML) or an http(s) URL")
    drift.add_argument("--api", choices=("mem0", "klavis"), help="which API it describes (default: the one it shares "
                       "most operations with)")
    drift.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    drift.add_argument("--all", action="store_true", help="list additive and documentation changes too (text)")
    drift.add_argument("--output", type=Path, metavar="FILE", help="also write the JSON to FILE (for run --drift "
                       "and --baseline)")
    drift.add_argument("--baseline", type=Path, metavar="FILE", help="an earlier --output of the same API: exit 1 "
                       "only for breaking changes it does not list (the provider changed its document again)")
    drift.set_defaults(handler=specs_cmd.specs_drift)

    errata = specs_commands.add_parser("errata", help="regenerate specs/ERRATA.md from the overlays")
    errata.add_argument("--check", action="store_true", help="only check that ERRATA.md is up to date")
    errata.set_defaults(handler=specs_cmd.specs_errata)

    serve = commands.add_parser(
        "serve",
        help="start the reference server (both APIs)",
        description="Serve the reference Mem0 + Klavis mem0-sandbox server. Keys default to MEM0_API_KEY / "
        "KLAVIS_API_KEY when set, else to the documented reference keys.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to bind (default: 8000; 0 picks a free one)")
    serve.add_argument("--mem0-key", help=f"the Mem0 API key to accept (default: ${MEM0.key_variable} or {MEM0.reference_key})")
    serve.add_argument("--klavis-key", help=f"the Klavis API key to accept (default: ${KLAVIS.key_variable} or {KLAVIS.reference_key})")
    serve.add_argument("--fault", action="append", default=[], metavar="NAME",
                       help="switch on a planted fault (repeatable; `mem0-conformance faults` lists them)")
    serve.add_argument("--mutant", type=_mutant_id, metavar="ID",
                       help="plant this mutant (`mem0-conformance mutants list`); needs the in-memory state of one worker")
    serve.add_argument("--processing-delay", type=_positive_float, default=0.0, metavar="SECONDS",
                       help="how long background adds stay PENDING (default: 0, settled by the next request)")
    serve.add_argument("--max-body", type=_byte_count, default=None, metavar="BYTES",
                       help="refuse request bodies larger than this with 413 (default: 1048576; K, M suffixes: 1024-based)")
    serve.add_argument("--workers", type=_worker_count, default=1, metavar="N",
                       help="uvicorn worker processes sharing one state through SQLite (default: 1, in memory)")
    serve.add_argument("--state", type=Path, metavar="FILE",
                       help="the SQLite file the state is kept in (WAL mode), also between restarts "
                            "(default with --workers: a file in a temporary folder, removed at exit)")
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.set_defaults(handler=serve_cmd.serve)

    run = commands.add_parser(
        "run",
        help="run the conformance suite against a target (default: the embedded reference server)",
        description="Run the conformance suite: schema conformance of every operation and the stateful invariants. "
        "With no URL and no target file, the suite starts its own reference server (one per xdist worker). "
        "Keys come from MEM0_API_KEY and KLAVIS_API_KEY. Anything after -- goes to pytest "
        "(e.g. -- -k immutability -n 2 -x).",
        epilog=exits.HELP,
    )
    run.add_argument("--mem0-url", metavar="URL", help="the Mem0 API to test (omit to skip Mem0 when a URL or file names Klavis only)")
    run.add_argument("--klavis-url", metavar="URL", help="the Klavis API to test (omit to skip Klavis when a URL or file names Mem0 only)")
    run.add_argument("--target", type=Path, metavar="FILE", help="target file (TOML): URLs, key variables, timeouts, "
                     "rate limit, consistency wait, capabilities, known deviations; see targets/")
    run.add_argument("--allow-destructive", action="store_true",
                     help="allow unscoped deletes and organization/project/member removal on a live target")
    run.add_argument("--fault", action="append", default=[], metavar="NAME",
                     help="plant a fault in the embedded reference server (repeatable): the run should fail")
    run.add_argument("--mutant", type=_mutant_id, metavar="ID",
                     help="plant this mutant in the embedded reference server (`mem0-conformance mutants list`)")
    run.add_argument("--reports", type=Path, default=DEFAULT_REPORTS, metavar="DIR",
                     help="where the Allure results, junit.xml and the summary go (default: reports/)")
    run.add_argument("--baseline", type=Path, metavar="FILE",
                     help="a summary.json of an earlier run: pass when nothing regressed against it, and show what changed")
    run.add_argument("--drift", action="append", default=[], type=Path, metavar="FILE",
                     help="a `specs drift --output` file, or a newer published document: failures that its "
                     "differences explain are marked in the failure, the summary and the report (repeatable)")
    run.add_argument("--html", action="store_true",
                     help="build the HTML report at the end (needs Node.js; see `mem0-conformance report`)")
    guard = run.add_mutually_exclusive_group()
    guard.add_argument("--sdk", action="store_true",
                       help="also run the SDK guard: the real mem0ai and klavis SDKs against the target, their traffic "
                            "checked against the documents (needs the sdk extra: pip install 'mem0-conformance[sdk]')")
    guard.add_argument("--sdk-only", action="store_true", help="run only the SDK guard")
    run.add_argument("--npm-sdk", action="append", default=[], metavar="PACKAGE@VERSION",
                       help="an npm SDK and version the guard drives (repeatable; default: mem0ai@3.3.1 and "
                            "klavis@2.15.0, installed with npm on first use; none: no npm SDK)")
    shards = run.add_mutually_exclusive_group()
    shards.add_argument("--shard", type=_shard, metavar="K/N",
                        help="run only shard K of N (pytest-split, balanced by the durations file kept with the suite); "
                             "each shard writes its own results, `mem0-conformance report DIR...` merges them")
    shards.add_argument("--store-durations", action="store_true",
                        help="run serially and record each test's duration in the durations file the shards are "
                             "balanced by (a checkout's conformance/suite/durations.json)")
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="-- PYTEST_ARGS", help="passed on to pytest")
    run.set_defaults(handler=run_cmd.run)

    sdk = commands.add_parser("sdk", help="the SDK guard across SDK versions")
    sdk_commands = sdk.add_subparsers(dest="sdk_command", metavar="SUBCOMMAND", required=True)
    sdk_compare = sdk_commands.add_parser(
        "compare",
        help="run the SDK guard with two versions of an SDK against one target and show what changed",
        description="Install each version into its own environment under the project's cache (once), run "
        "`run --sdk-only` with each against the same target (a reference server started for both, unless URLs "
        "are given; keys from MEM0_API_KEY / KLAVIS_API_KEY), then list scenarios that pass with one only, "
        "operations and body fields sent by one only, and new drift. Exit 1 when NEW regresses.",
    )
    sdk_compare.add_argument("old", metavar="OLD", help="the version in use, e.g. mem0ai==1.0.11 (PyPI) or npm:mem0ai@2.4.6 (npm)")
    sdk_compare.add_argument("new", metavar="NEW", help="the version to upgrade to, e.g. mem0ai==2.2.1 or npm:mem0ai@3.3.1")
    sdk_compare.add_argument("--mem0-url", metavar="URL", help="the Mem0 API to run against")
    sdk_compare.add_argument("--klavis-url", metavar="URL", help="the Klavis API to run against")
    sdk_compare.add_argument("--reports", type=Path, default=DEFAULT_REPORTS / "sdk-compare", metavar="DIR",
                             help="where each version's reports go (default: reports/sdk-compare/)")
    sdk_compare.set_defaults(handler=sdk_cmd.sdk_compare)

    mutants = commands.add_parser(
        "mutants", help="contract mutants of the reference server: how much of the contract a green run proves",
        description="Mutants are generated from the effective documents: one named change of the reference server's "
        "behaviour each (a request parameter ignored, a bound off by one, a change not made or made once too often, an "
        "answer field dropped or taken from another record). The mutation score says how many of them the suite "
        "tells apart from the contract.")
    mutant_commands = mutants.add_subparsers(dest="mutants_command", metavar="SUBCOMMAND", required=True)
    mutants_list = mutant_commands.add_parser("list", help="print the catalogue: id, operation, operator, one sentence")
    mutants_list.add_argument("--only", action="append", default=[], metavar="PATTERN",
                              help="only mutants whose id matches (shell pattern, or a part of the id; repeatable)")
    mutants_list.add_argument("--api", choices=("mem0", "klavis"), help="only this API's")
    mutants_list.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    mutants_list.set_defaults(handler=mutants_cmd.mutants_list)
    mutants_index = mutant_commands.add_parser(
        "index", help="refresh the coverage index: which tests exercise which operation (a green run)",
        description="Run the suite (and plain schemathesis, the yardstick) once against the reference server and "
        "record, per test, the operations it exercised; `mutants run` runs each mutant against the tests of its "
        "operation. The index is kept in conformance/mutants/coverage.json.")
    mutants_index.add_argument("--engine", choices=("suite", "schemathesis", "all"), default="all",
                               help="which tests to index (default: all)")
    mutants_index.set_defaults(handler=mutants_cmd.mutants_index)
    mutants_run = mutant_commands.add_parser(
        "run", help="run mutants against the tests that exercise their operation, and score the suite",
        description="A green baseline first (the unmutated server passes every test the mutants need), then each "
        "mutant against the tests of its operation, quickest first, until one fails: killed, timed out, survived or "
        "error. Writes mutants.json, mutants.md and mutants.html. Exit 0 when the score reaches --min-score, 1 when "
        "it does not, 5 when the run did not complete (the baseline failed, or it was interrupted).",
        epilog="Declared equivalents (conformance/mutants/equivalent.toml) are listed apart and not run.")
    mutants_run.add_argument("--engine", choices=("suite", "schemathesis"), default="suite",
                             help="whose tests judge the mutants: the suite's, or plain schemathesis's (default: suite)")
    mutants_run.add_argument("--only", action="append", default=[], metavar="PATTERN",
                             help="only mutants whose id matches (shell pattern, or a part of the id; repeatable)")
    mutants_run.add_argument("--sample", type=_count, metavar="N", help="a random sample of N of the chosen mutants")
    mutants_run.add_argument("--seed", type=int, default=0, metavar="S", help="the sample's seed (default: 0)")
    mutant_split = mutants_run.add_mutually_exclusive_group()
    mutant_split.add_argument("--shard", type=_shard, metavar="K/N", help="only shard K of N (balanced by the "
                              "tests' time in the coverage index); `mutants report DIR...` merges the shards")
    mutant_split.add_argument("--jobs", type=_count, default=1, metavar="N",
                              help="N shards side by side in child processes, merged at the end (default: 1)")
    mutants_run.add_argument("--include-equivalent", action="store_true",
                             help="also run the mutants declared equivalent (to check that they still survive)")
    mutants_run.add_argument("--min-score", type=_score, default=0.9, metavar="X",
                             help="exit 1 when the score is below X (default: 0.9)")
    mutants_run.add_argument("--reports", type=Path, default=DEFAULT_REPORTS / "mutants", metavar="DIR",
                             help="where the results go (default: reports/mutants/)")
    mutants_run.set_defaults(handler=mutants_cmd.mutants_run)
    mutants_report = mutant_commands.add_parser(
        "report", help="merge the results of several runs (shards, engines) into one report",
        description="Merge mutants.json files (or folders holding one): outcomes by mutant and engine, so the "
        "suite's score and plain schemathesis's stand side by side.")
    mutants_report.add_argument("folders", nargs="+", metavar="DIR", help="folders (or mutants.json files) of runs")
    mutants_report.add_argument("--reports", type=Path, default=DEFAULT_REPORTS / "mutants", metavar="DIR",
                                help="where the merged report goes (default: reports/mutants/)")
    mutants_report.add_argument("--rerun", action="store_true",
                                help="the runs are in time order and a later run's outcome of a mutant replaces an "
                                     "earlier one's (the survivors run again after the suite changed)")
    mutants_report.set_defaults(handler=mutants_cmd.mutants_report)

    faults = commands.add_parser("faults", help="list the reference server's planted faults")
    faults.set_defaults(handler=mutants_cmd.faults)

    report = commands.add_parser(
        "report",
        help="merge results folders into one summary and build the HTML report",
        description="Merge Allure results folders (one run, or several CI jobs' runs) into one summary "
        "(summary.json, summary.md) and build the HTML report with Allure 3 (installed with npm on first use, "
        "offline afterwards) as one self-contained index.html that carries the history of earlier reports.",
    )
    report.add_argument("folders", nargs="*", metavar="DIR",
                        help="Allure results folders, or reports folders holding one (default: reports/allure-results)")
    report.add_argument("--reports", type=Path, default=DEFAULT_REPORTS, metavar="DIR",
                        help="where the summary and html/ go (default: reports/)")
    report.add_argument("--no-html", action="store_true", help="only the merged summary, no HTML report")
    report.set_defaults(handler=run_cmd.report)

    diff = commands.add_parser(
        "diff",
        help="compare a run's summary with a baseline summary",
        description="Compare two summaries: regressions (passed before, failed or broken now), fixes, other changes, "
        "new and removed checks, and the score change per API. Exits 1 when anything regressed.",
    )
    diff.add_argument("baseline", type=Path, metavar="BASELINE", help="summary.json (or a reports folder) of the baseline run")
    diff.add_argument("current", type=Path, metavar="CURRENT", help="summary.json (or a reports folder) of the current run")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="output format (default: text)")
    diff.set_defaults(handler=run_cmd.diff)

    cache = commands.add_parser(
        "cache", help="where the project's cache lives and what it holds; --clear empties it",
        description="The project's cache holds what commands install on first use: the SDK environments of "
        "`sdk compare`, the Node tools (Allure, Optic) and specs fetched by URL. It lives in $MEM0_CONFORMANCE_CACHE, "
        "else $XDG_CACHE_HOME/mem0-conformance, else ~/.cache/mem0-conformance, and is rebuilt on first use.")
    cache.add_argument("--clear", action="store_true", help="remove everything in it")
    cache.set_defaults(handler=cache_cmd.cache)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (CliError, OverlayError, SpecError) as exc:
        print(f"mem0-conformance: {str(exc).rstrip('.')}.", file=sys.stderr)
        return exits.USAGE
    except BrokenPipeError:  # the output went to a pager or `head` that stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exits.OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
