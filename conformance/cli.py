"""The ``mem0-conformance`` command: parses arguments and delegates; no logic of its own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from conformance import __version__
from conformance.overlay import OverlayError
from conformance.preflight import KeyRejected, Unreachable
from conformance.server.settings import DEFAULT_KLAVIS_KEY, DEFAULT_MEM0_KEY
from conformance.specs import SpecError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = Unreachable.exit_code  # 3: a target that cannot be reached (or is not the API)
EXIT_KEY_REJECTED = KeyRejected.exit_code  # 4: a target that refuses the key
EXIT_INCOMPLETE = 5  # the run did not complete: interrupted, internal error, or no test selected

# Commands whose issues have not landed yet: the names are part of the public contract.
RESERVED = {
    "report": "build the HTML conformance report",
    "diff": "compare a run with a baseline",
}


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


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from conformance.server import ServerSettings, create_app
    from conformance.server.faults import UnknownFault

    try:
        settings = ServerSettings.from_env(
            mem0_key=args.mem0_key, klavis_key=args.klavis_key, faults=frozenset(args.fault),
            processing_delay=args.processing_delay,
        )
        app = create_app(settings)
    except UnknownFault as exc:
        raise CliError(str(exc)) from None
    switched = ", ".join(sorted(settings.faults)) or "none"
    print(f"mem0-conformance reference server: Mem0 and Klavis APIs, faults: {switched}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return EXIT_OK


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


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def _run(args: argparse.Namespace) -> int:
    from conformance import preflight, suite_runner
    from conformance.targets import TargetError, resolve

    try:
        target = resolve(target_file=args.target, mem0_url=args.mem0_url, klavis_url=args.klavis_url,
                         allow_destructive=args.allow_destructive)
    except TargetError as exc:
        raise CliError(str(exc)) from None
    if target is not None and args.fault:
        raise CliError("--fault applies only to the embedded reference server, not to a target")
    if args.fault:
        from conformance.server.faults import UnknownFault, validate

        try:
            validate(args.fault)
        except UnknownFault as exc:
            raise CliError(str(exc)) from None
    if target is not None:
        try:
            preflight.check(target)
        except preflight.PreflightError as exc:
            print(f"mem0-conformance: {str(exc).rstrip('.')}.", file=sys.stderr)
            return exc.exit_code
    pytest_args = list(args.pytest_args)
    if pytest_args[:1] == ["--"]:
        pytest_args = pytest_args[1:]
    code = suite_runner.run_suite(
        mem0_url=args.mem0_url, klavis_url=args.klavis_url, target_file=args.target,
        allow_destructive=args.allow_destructive, faults=args.fault, pytest_args=pytest_args,
    )
    return {0: EXIT_OK, 1: EXIT_FAILED, 4: EXIT_USAGE}.get(code, EXIT_INCOMPLETE)


def _reserved(args: argparse.Namespace) -> int:
    raise CliError(f"`mem0-conformance {args.command}` is not available in this version yet")


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
    serve.add_argument("--processing-delay", type=_positive_float, default=0.0, metavar="SECONDS",
                       help="how long background adds stay PENDING (default: 0, settled by the next request)")
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.set_defaults(handler=_serve)

    run = commands.add_parser(
        "run",
        help="run the conformance suite against a target (default: the embedded reference server)",
        description="Run the conformance suite: schema conformance of every operation and the stateful invariants. "
        "With no URL and no target file, the suite starts its own reference server (one per xdist worker). "
        "Keys come from MEM0_API_KEY and KLAVIS_API_KEY. Anything after -- goes to pytest "
        "(e.g. -- -k immutability -n 2 -x).",
        epilog="Exit codes: 0 every applicable expectation holds (known deviations included), 1 some fail, "
        "2 bad usage or target file, 3 a target cannot be reached, 4 a target rejects the key, "
        "5 the run did not complete (interrupted, internal error, nothing selected).",
    )
    run.add_argument("--mem0-url", metavar="URL", help="the Mem0 API to test (omit to skip Mem0 when a URL or file names Klavis only)")
    run.add_argument("--klavis-url", metavar="URL", help="the Klavis API to test (omit to skip Klavis when a URL or file names Mem0 only)")
    run.add_argument("--target", type=Path, metavar="FILE", help="target file (TOML): URLs, key variables, timeouts, "
                     "rate limit, consistency wait, capabilities, known deviations; see targets/")
    run.add_argument("--allow-destructive", action="store_true",
                     help="allow unscoped deletes and organization/project/member removal on a live target")
    run.add_argument("--fault", action="append", default=[], metavar="NAME",
                     help="plant a fault in the embedded reference server (repeatable): the run should fail")
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="-- PYTEST_ARGS", help="passed on to pytest")
    run.set_defaults(handler=_run)

    faults = commands.add_parser("faults", help="list the reference server's planted faults")
    faults.set_defaults(handler=_faults)

    for name, summary in RESERVED.items():
        reserved = commands.add_parser(name, help=f"{summary} (not available yet)")
        reserved.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        reserved.set_defaults(handler=_reserved)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (CliError, OverlayError, SpecError) as exc:
        print(f"mem0-conformance: {str(exc).rstrip('.')}.", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
