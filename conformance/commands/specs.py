"""``specs export``, ``specs lint``, ``specs errata`` and ``specs drift``: the vendored documents and their errata."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from conformance import exits
from conformance.commands import CliError


def specs_export(args: argparse.Namespace) -> int:
    from conformance.specs import export

    for path in export(Path(args.directory)):
        print(f"wrote {path}")
    return exits.OK


def specs_lint(args: argparse.Namespace) -> int:
    from conformance.lint.report import lint_apis, render_json, render_text

    results = lint_apis(args.api or None)
    print(render_json(results) if args.format == "json" else render_text(results, verbose=args.verbose))
    return exits.FAILED if any(r.open for r in results) else exits.OK


def specs_errata(args: argparse.Namespace) -> int:
    from conformance.errata import ERRATA_PATH, render

    text = render()
    if args.check:
        if not ERRATA_PATH.exists() or ERRATA_PATH.read_text(encoding="utf-8") != text:
            raise CliError(f"{ERRATA_PATH.name} is out of date: run `mem0-conformance specs errata`")
        print(f"{ERRATA_PATH.name} is up to date")
        return exits.OK
    ERRATA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {ERRATA_PATH}")
    return exits.OK


def specs_drift(args: argparse.Namespace) -> int:
    import json

    from conformance.drift.engine import DriftError
    from conformance.drift.render import render_json, render_text
    from conformance.drift.report import drift

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
    return exits.FAILED if report.breaking else exits.OK


def drift_files(sources: Sequence[Path], reports: Path) -> tuple[str, ...]:
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
