"""The ``mem0-conformance`` command: parses arguments and delegates; no logic of its own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from conformance import __version__
from conformance.overlay import OverlayError
from conformance.specs import SpecError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# Commands whose issues have not landed yet: the names are part of the public contract.
RESERVED = {
    "serve": "start the reference server",
    "run": "run the conformance suite against a target",
    "faults": "list the reference server's planted faults",
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
