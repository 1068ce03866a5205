"""The ``mem0-conformance`` command: parses arguments and delegates; no logic of its own."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from conformance import __version__
from conformance.overlay import OverlayError
from conformance.preflight import KeyRejected, Unreachable
from conformance.reporting import DEFAULT_REPORTS
from conformance.server.settings import DEFAULT_KLAVIS_KEY, DEFAULT_MEM0_KEY
from conformance.specs import SpecError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = Unreachable.exit_code  # 3: a target that cannot be reached (or is not the API)
EXIT_KEY_REJECTED = KeyRejected.exit_code  # 4: a target that refuses the key
EXIT_INCOMPLETE = 5  # the run did not complete: interrupted, an error of the suite itself, or no test selected
EXIT_BROKEN = 6  # the target or the network misbehaved (broken results) and no expectation failed
EXIT_CODES = ("Exit codes: 0 every applicable expectation holds (known deviations included), 1 some fail, "
              "2 bad usage or target file, 3 a target cannot be reached, 4 a target rejects the key, "
              "5 the run did not complete (interrupted, an error of the suite itself, nothing selected), "
              "6 the target or network misbehaved (broken results) and nothing failed. "
              "With --baseline: 0 nothing regressed, 1 something did.")


class CliError(Exception):
    """A problem the user can fix; printed as one sentence."""


def _specs_export(args: argparse.Namespace) -> int:
    from conformance.specs import export

    for path in export(Path(args.directory)):
        print(f"wrote {path}")
    return EXIT_OK


def _specs_lint(args: argparse.Namespace) -> int:
    from conformance.lint.report import lint_apis, render_json, render_text

    results = lint_apis(args.api or None)
    print(render_json(results) if args.format == "json" else render_text(results, verbose=args.verbose))
    return EXIT_FAILED if any(r.open for r in results) else EXIT_OK


def _specs_errata(args: argparse.Namespace) -> int:
    from conformance.errata import ERRATA_PATH, render

    text = render()
    if args.check:
        if not ERRATA_PATH.exists() or ERRATA_PATH.read_text(encoding="utf-8") != text:
            raise CliError(f"{ERRATA_PATH.name} is out of date: run `mem0-conformance specs errata`")
        print(f"{ERRATA_PATH.name} is up to date")
        return EXIT_OK
    ERRATA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {ERRATA_PATH}")
    return EXIT_OK


def _specs_drift(args: argparse.Namespace) -> int:
    import json

    from conformance.drift.engine import DriftError
    from conformance.drift.report import drift, render_json, render_text

    try:
        baseline = json.loads(args.baseline.read_text(encoding="utf-8")) if args.baseline else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise CliError(f"{args.baseline} is not a specs drift report: write one with --output") from None
    try:
        report = drift(args.newer, args.api)
        if baseline is not None:
            report.accept(baseline, str(args.baseline))
    except DriftError as exc:
        raise CliError(str(exc)) from None
    text = render_json(report) if args.format == "json" else render_text(report, every=args.all)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(render_json(report) + "\n", encoding="utf-8")
        print(f"mem0-conformance: wrote {args.output} (for run --drift)", file=sys.stderr)
    print(text)
    return EXIT_FAILED if report.breaking else EXIT_OK


def _drift_files(sources: Sequence[Path], reports: Path) -> tuple[str, ...]:
    """run --drift: each drift report (or newer document, compared now) written into the reports folder."""
    import json

    from conformance.drift.engine import DriftError
    from conformance.drift.explain import load

    try:
        found = load(sources)
    except DriftError as exc:
        raise CliError(str(exc)) from None
    reports.mkdir(parents=True, exist_ok=True)
    written = []
    for report in found:
        path = reports / f"drift-{report['api']}.json"
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(str(path))
    return tuple(written)


def _serve(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from conformance.server import ServerSettings, create_app
    from conformance.server.app import MutantError
    from conformance.server.faults import UnknownFault
    from conformance.server.runner import BindError, bind, serve, serve_workers
    from conformance.server.shared import SharedState, StateError

    shared = args.workers > 1 or args.state is not None
    if shared and args.mutant:
        raise CliError("--mutant needs the in-memory state of one worker, not --workers or --state")
    if shared and args.processing_delay:
        raise CliError("--processing-delay needs the in-memory state of one worker: with --workers or --state, "
                       "queued work settles when its request ends")
    scratch = tempfile.mkdtemp(prefix="mem0-conformance-state-") if shared and args.state is None else None
    state = args.state.resolve() if args.state is not None else Path(scratch) / "state.sqlite" if scratch else None
    try:
        settings = ServerSettings.from_env(
            mem0_key=args.mem0_key, klavis_key=args.klavis_key, faults=frozenset(args.fault),
            processing_delay=args.processing_delay, max_body_bytes=args.max_body, state=str(state) if state else None,
            mutant=args.mutant,
        )
        app = create_app(settings) if args.workers == 1 else None  # the workers make their own
        if app is None and state is not None:
            SharedState(state).close()  # a state file that cannot be used is said now, not by every worker
        sock = bind(args.host, args.port)
    except (UnknownFault, MutantError, BindError, StateError) as exc:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        raise CliError(str(exc)) from None
    host, port = sock.getsockname()[:2]
    switched = ", ".join(sorted(settings.faults)) or "none"
    switched += f", mutant: {settings.mutant}" if settings.mutant else ""
    sharing = f", {args.workers} worker{'s' if args.workers > 1 else ''} sharing {state}" if state else ""
    print(f"mem0-conformance reference server on http://{host}:{port}: Mem0 and Klavis APIs, faults: {switched}, "
          f"bodies up to {settings.max_body_bytes} bytes{sharing}", flush=True)
    try:
        if app is not None:
            serve(app, sock, log_level=args.log_level)
        else:
            serve_workers(settings.to_json(), sock, args.workers, log_level=args.log_level)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return EXIT_OK


def _sdk_compare(args: argparse.Namespace) -> int:
    from conformance.sdk.compare import (
        CompareError,
        Pin,
        compare,
        environment,
        render,
        run_guard,
    )

    try:
        old, new = Pin.parse(args.old), Pin.parse(args.new)
        if old.sdk != new.sdk:
            raise CompareError(f"compare two versions of one SDK, not {old.sdk} with {new.sdk}")
        folders = {pin: (args.reports / pin.folder).resolve() for pin in (old, new)}
        scripts = {pin: environment(pin) for pin in (old, new)}
    except CompareError as exc:
        raise CliError(str(exc)) from None
    urls = {api: url for api, url in (("mem0", args.mem0_url), ("klavis", args.klavis_url)) if url}
    keys = {name: os.environ[name] for name in ("MEM0_API_KEY", "KLAVIS_API_KEY") if os.environ.get(name)}
    server = None
    if not urls:  # one reference server for both runs: the same target
        from conformance.server import ServerSettings, ServerThread, create_app

        server = ServerThread(create_app(ServerSettings())).start()
        urls = {"mem0": server.url, "klavis": server.url}
        keys = {"MEM0_API_KEY": DEFAULT_MEM0_KEY, "KLAVIS_API_KEY": DEFAULT_KLAVIS_KEY}
    try:
        for pin in (old, new):
            print(f"mem0-conformance: the SDK guard with {pin} ...", flush=True)
            code = run_guard(scripts[pin], folders[pin], urls, keys, pin, own_server=server is not None)
            if code not in (EXIT_OK, EXIT_FAILED, EXIT_BROKEN):
                raise CliError(f"the SDK guard with {pin} did not complete (exit {code}); see {folders[pin]}")
    finally:
        if server is not None:
            server.stop()
    result = compare(old, new, folders[old], folders[new])
    print(render(result))
    return EXIT_FAILED if result.regressed else EXIT_OK


def _mutants_list(args: argparse.Namespace) -> int:
    from conformance.mutants.command import MutantsError, list_mutants

    try:
        return list_mutants(only=args.only, api=args.api, output=args.format)
    except MutantsError as exc:
        raise CliError(str(exc)) from None


def _mutants_index(args: argparse.Namespace) -> int:
    from conformance.mutants.command import MutantsError, build_index
    from conformance.mutants.coverage import ENGINES

    try:
        return build_index(ENGINES if args.engine == "all" else [args.engine])
    except MutantsError as exc:
        raise CliError(str(exc)) from None


def _mutants_run(args: argparse.Namespace) -> int:
    from conformance.mutants.command import MutantsError, run

    try:
        return run(engine=args.engine, only=args.only, sample=args.sample, seed=args.seed, shard_of=args.shard,
                   jobs=args.jobs, reports=args.reports.resolve(), min_score=args.min_score,
                   include_equivalent=args.include_equivalent)
    except MutantsError as exc:
        raise CliError(str(exc)) from None


def _mutants_report(args: argparse.Namespace) -> int:
    from conformance.mutants.command import MutantsError, report

    try:
        return report([Path(folder) for folder in args.folders], args.reports, rerun=args.rerun)
    except MutantsError as exc:
        raise CliError(str(exc)) from None


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


def _faults(args: argparse.Namespace) -> int:
    from conformance.server.faults import catalog

    faults = catalog()
    width = max(len(name) for name in faults)
    for fault in faults.values():
        print(f"{fault.name:<{width}}  {fault.family:<13} {fault.description}")
    return EXIT_OK


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


def missing_sdks() -> list[str]:
    """The SDK distributions the guard drives that this environment cannot import."""
    import importlib.util

    missing = []
    for distribution, module in (("mem0ai", "mem0"), ("klavis", "klavis")):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(distribution)
    return missing


def _run(args: argparse.Namespace) -> int:
    from conformance import preflight, suite_runner
    from conformance.cleanup import new_run_id
    from conformance.plugin import RunSettings
    from conformance.targets import TargetError, embedded, resolve

    def embedded_only(names_a_target: bool) -> None:
        for option in ("fault", "mutant"):
            if names_a_target and getattr(args, option):
                raise CliError(f"--{option} applies only to the embedded reference server, not to a target")

    embedded_only(bool(args.target or args.mem0_url or args.klavis_url))  # before any key is looked up
    if args.sdk or args.sdk_only:
        from conformance.sdk.npm import NpmError, chosen

        try:
            npm_sdks = chosen(args.npm_sdk) if shutil.which("node") and shutil.which("npm") else ()
        except NpmError as exc:
            raise CliError(str(exc)) from None
        if len(missing_sdks()) == 2 and not npm_sdks:  # with one of them, its scenarios run and the other's are skipped
            raise CliError("the SDK guard drives mem0ai and klavis, and neither is installed in this environment "
                           "(nor an npm SDK with Node.js): pip install 'mem0-conformance[sdk]' (a guard that ran no "
                           "scenario would pass)")
    elif args.npm_sdk:
        raise CliError("--npm-sdk chooses the npm SDKs of the SDK guard: add --sdk or --sdk-only")
    try:
        target = resolve(target_file=args.target, mem0_url=args.mem0_url, klavis_url=args.klavis_url,
                         allow_destructive=args.allow_destructive)
    except TargetError as exc:
        raise CliError(str(exc)) from None
    embedded_only(target is not None)
    if args.fault:
        from conformance.server.faults import UnknownFault, validate

        try:
            validate(args.fault)
        except UnknownFault as exc:
            raise CliError(str(exc)) from None
    baseline = _summary(args.baseline) if args.baseline else None
    run_id, findings = new_run_id(), ()
    if target is not None:
        try:
            target, findings = preflight.survey(target, run_id)
        except preflight.PreflightError as exc:
            print(f"mem0-conformance: {str(exc).rstrip('.')}.", file=sys.stderr)
            return exc.exit_code
    pytest_args = list(args.pytest_args)
    if pytest_args[:1] == ["--"]:
        pytest_args = pytest_args[1:]
    pytest_args += ["--sdk"] * args.sdk + ["--sdk-only"] * args.sdk_only
    pytest_args += [f"--npm-sdk={npm}" for npm in args.npm_sdk]
    if args.shard:
        group, splits = args.shard
        pytest_args += ["--splits", str(splits), "--group", str(group), "--durations-path", str(suite_runner.DURATIONS),
                        "--splitting-algorithm", "least_duration"]  # longest first, each to the shortest shard
    if args.store_durations:
        pytest_args += ["-p", "no:xdist", "--store-durations", "--clean-durations",
                        "--durations-path", str(suite_runner.DURATIONS)]
    reports = args.reports.resolve()
    drift = _drift_files(args.drift, reports) if args.drift else ()
    settings = RunSettings(target or embedded(""), frozenset(args.fault), reports, run_id, findings=findings, drift=drift,
                           mutant=args.mutant, html=args.html)
    code = suite_runner.run_suite(settings, pytest_args)
    if args.shard and code == 5:  # pytest found no test in this shard (more shards than the selection fills): fine
        print(f"mem0-conformance: shard {args.shard[0]}/{args.shard[1]} holds no test of this selection")
        code = 0
    code = {0: EXIT_OK, 1: EXIT_FAILED, 4: EXIT_USAGE, 5: EXIT_INCOMPLETE, 6: EXIT_BROKEN}.get(code, EXIT_INCOMPLETE)
    if args.html:
        _build_html([reports / "allure-results"], reports / "html")
    if baseline is not None and code in (EXIT_OK, EXIT_FAILED, EXIT_BROKEN):
        return _gate(baseline, _summary(reports))
    return code


def _summary(path: Path) -> dict:
    from conformance.reporting.summary import load

    try:
        return load(path)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _gate(baseline: dict, current: dict) -> int:
    from conformance.reporting.diff import compare, render_text, unfinished

    refusal = unfinished(current, "current") or unfinished(baseline, "baseline")
    if refusal:
        print(f"mem0-conformance: {refusal}.", file=sys.stderr)
        return EXIT_INCOMPLETE
    diff = compare(baseline, current)
    print("\nmem0-conformance: against the baseline\n" + render_text(diff, current))
    return EXIT_OK if diff.passes else EXIT_FAILED


def _build_html(folders: list[Path], output: Path) -> Path:
    from conformance.reporting.html import ReportError, generate

    try:
        index = generate(folders, output)
    except ReportError as exc:
        raise CliError(str(exc)) from None
    print(f"mem0-conformance: HTML report {index}")
    return index


def _report(args: argparse.Namespace) -> int:
    from conformance.reporting import RESULTS_DIR
    from conformance.reporting.summary import render_text, results_folder, write_summary

    folders = [Path(folder) for folder in args.folders] or [args.reports / RESULTS_DIR]
    folders = [results_folder(folder) for folder in folders]
    missing = [folder for folder in folders if not any(folder.glob("*-result.json"))]
    if missing:
        raise CliError(f"{missing[0]} holds no Allure results: run `mem0-conformance run` first, or name a results folder")
    summary = write_summary(args.reports, folders)
    print(render_text(summary))
    print(f"mem0-conformance: summary {args.reports / 'summary.md'} and {args.reports / 'summary.json'}")
    if not args.no_html:
        _build_html(folders, args.reports / "html")
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from conformance.reporting.diff import (
        compare,
        render_json,
        render_markdown,
        render_text,
        unfinished,
    )

    baseline, current = _summary(args.baseline), _summary(args.current)
    refusal = unfinished(current, "current") or unfinished(baseline, "baseline")
    if refusal:
        print(f"mem0-conformance: {refusal}.", file=sys.stderr)
        return EXIT_INCOMPLETE
    diff = compare(baseline, current)
    render = {"text": lambda: render_text(diff, current), "markdown": lambda: render_markdown(diff, current),
              "json": lambda: render_json(diff)}[args.format]
    print(render())
    return EXIT_OK if diff.passes else EXIT_FAILED


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
    export.set_defaults(handler=_specs_export)

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
    lint.set_defaults(handler=_specs_lint)

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
    drift.set_defaults(handler=_specs_drift)

    errata = specs_commands.add_parser("errata", help="regenerate specs/ERRATA.md from the overlays")
    errata.add_argument("--check", action="store_true", help="only check that ERRATA.md is up to date")
    errata.set_defaults(handler=_specs_errata)

    serve = commands.add_parser(
        "serve",
        help="start the reference server (both APIs)",
        description="Serve the reference Mem0 + Klavis mem0-sandbox server. Keys default to MEM0_API_KEY / "
        "KLAVIS_API_KEY when set, else to the documented reference keys.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to bind (default: 8000; 0 picks a free one)")
    serve.add_argument("--mem0-key", help=f"the Mem0 API key to accept (default: $MEM0_API_KEY or {DEFAULT_MEM0_KEY})")
    serve.add_argument("--klavis-key", help=f"the Klavis API key to accept (default: $KLAVIS_API_KEY or {DEFAULT_KLAVIS_KEY})")
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
    serve.set_defaults(handler=_serve)

    run = commands.add_parser(
        "run",
        help="run the conformance suite against a target (default: the embedded reference server)",
        description="Run the conformance suite: schema conformance of every operation and the stateful invariants. "
        "With no URL and no target file, the suite starts its own reference server (one per xdist worker). "
        "Keys come from MEM0_API_KEY and KLAVIS_API_KEY. Anything after -- goes to pytest "
        "(e.g. -- -k immutability -n 2 -x).",
        epilog=EXIT_CODES,
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
    run.set_defaults(handler=_run)

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
    sdk_compare.set_defaults(handler=_sdk_compare)

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
    mutants_list.set_defaults(handler=_mutants_list)
    mutants_index = mutant_commands.add_parser(
        "index", help="refresh the coverage index: which tests exercise which operation (a green run)",
        description="Run the suite (and plain schemathesis, the yardstick) once against the reference server and "
        "record, per test, the operations it exercised; `mutants run` runs each mutant against the tests of its "
        "operation. The index is kept in conformance/mutants/coverage.json.")
    mutants_index.add_argument("--engine", choices=("suite", "schemathesis", "all"), default="all",
                               help="which tests to index (default: all)")
    mutants_index.set_defaults(handler=_mutants_index)
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
    mutants_run.set_defaults(handler=_mutants_run)
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
    mutants_report.set_defaults(handler=_mutants_report)

    faults = commands.add_parser("faults", help="list the reference server's planted faults")
    faults.set_defaults(handler=_faults)

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
    report.set_defaults(handler=_report)

    diff = commands.add_parser(
        "diff",
        help="compare a run's summary with a baseline summary",
        description="Compare two summaries: regressions (passed before, failed or broken now), fixes, other changes, "
        "new and removed checks, and the score change per API. Exits 1 when anything regressed.",
    )
    diff.add_argument("baseline", type=Path, metavar="BASELINE", help="summary.json (or a reports folder) of the baseline run")
    diff.add_argument("current", type=Path, metavar="CURRENT", help="summary.json (or a reports folder) of the current run")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="output format (default: text)")
    diff.set_defaults(handler=_diff)

    cache = commands.add_parser(
        "cache", help="where the project's cache lives and what it holds; --clear empties it",
        description="The project's cache holds what commands install on first use: the SDK environments of "
        "`sdk compare`, the Node tools (Allure, Optic) and specs fetched by URL. It lives in $MEM0_CONFORMANCE_CACHE, "
        "else $XDG_CACHE_HOME/mem0-conformance, else ~/.cache/mem0-conformance, and is rebuilt on first use.")
    cache.add_argument("--clear", action="store_true", help="remove everything in it")
    cache.set_defaults(handler=_cache)
    return parser


def _size(path: Path) -> int:
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    return sum(item.lstat().st_size for item in path.rglob("*") if item.is_symlink() or item.is_file())


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _cache(args: argparse.Namespace) -> int:
    import shutil

    from conformance.tools import cache_dir

    folder = cache_dir()
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    sizes = {entry: _size(entry) for entry in entries}
    total = sum(sizes.values())
    if args.clear:
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        print(f"mem0-conformance: removed {len(entries)} entries ({_human(total)}) from {folder}")
        return EXIT_OK
    print(f"{folder}  {_human(total)}")
    for entry, size in sizes.items():
        print(f"  {_human(size):>10}  {entry.name}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (CliError, OverlayError, SpecError) as exc:
        print(f"mem0-conformance: {str(exc).rstrip('.')}.", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the output went to a pager or `head` that stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
