"""``run``, ``report`` and ``diff``: a conformance run, its reports, and the gate against a baseline."""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from conformance import exits
from conformance.commands import CliError
from conformance.commands.specs import drift_files


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


def run(args: argparse.Namespace) -> int:
    from conformance import preflight, suite_runner
    from conformance.settings import SettingsError, resolve_settings

    if args.npm_sdk and not (args.sdk or args.sdk_only):
        raise CliError("--npm-sdk chooses the npm SDKs of the SDK guard: add --sdk or --sdk-only")
    try:
        settings = resolve_settings(target_file=args.target, mem0_url=args.mem0_url, klavis_url=args.klavis_url,
                                    allow_destructive=args.allow_destructive, faults=args.fault, mutant=args.mutant,
                                    reports=args.reports, npm_sdks=args.npm_sdk, html=args.html)
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    if args.sdk or args.sdk_only:
        npm_runs = settings.npm_sdks != () and bool(shutil.which("node") and shutil.which("npm"))  # None: the pinned
        if len(missing_sdks()) == 2 and not npm_runs:  # with one of them, its scenarios run and the other's are skipped
            raise CliError("the SDK guard drives mem0ai and klavis, and neither is installed in this environment "
                           "(nor an npm SDK with Node.js): pip install 'mem0-conformance[sdk]' (a guard that ran no "
                           "scenario would pass)")
    baseline = _summary(args.baseline) if args.baseline else None
    if settings.preflight:
        try:
            target, findings = preflight.survey(settings.target, settings.run_id)
        except preflight.PreflightError as exc:
            print(f"mem0-conformance: {str(exc).rstrip('.')}.", file=sys.stderr)
            return exc.exit_code
        settings = replace(settings, target=target, findings=findings, preflight=False)
    pytest_args = list(args.pytest_args)
    if pytest_args[:1] == ["--"]:
        pytest_args = pytest_args[1:]
    pytest_args += ["--sdk"] * args.sdk + ["--sdk-only"] * args.sdk_only
    if args.shard:
        group, splits = args.shard
        pytest_args += ["--splits", str(splits), "--group", str(group), "--durations-path", str(suite_runner.DURATIONS),
                        "--splitting-algorithm", "least_duration"]  # longest first, each to the shortest shard
    if args.store_durations:
        pytest_args += ["-p", "no:xdist", "--store-durations", "--clean-durations",
                        "--durations-path", str(suite_runner.DURATIONS)]
    reports = settings.reports
    if args.drift:
        settings = replace(settings, drift=drift_files(args.drift, reports))
    code = suite_runner.run_suite(settings, pytest_args)
    if args.shard and code == 5:  # pytest found no test in this shard (more shards than the selection fills): fine
        print(f"mem0-conformance: shard {args.shard[0]}/{args.shard[1]} holds no test of this selection")
        code = 0
    code = {0: exits.OK, 1: exits.FAILED, 4: exits.USAGE, 5: exits.INCOMPLETE, 6: exits.BROKEN}.get(code, exits.INCOMPLETE)
    if args.html:
        _build_html([reports / "allure-results"], reports / "html")
    if baseline is not None and code in (exits.OK, exits.FAILED, exits.BROKEN):
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
        return exits.INCOMPLETE
    diff = compare(baseline, current)
    print("\nmem0-conformance: against the baseline\n" + render_text(diff, current))
    return exits.OK if diff.passes else exits.FAILED


def _build_html(folders: list[Path], output: Path) -> Path:
    from conformance.reporting.html import ReportError, generate

    try:
        index = generate(folders, output)
    except ReportError as exc:
        raise CliError(str(exc)) from None
    print(f"mem0-conformance: HTML report {index}")
    return index


def report(args: argparse.Namespace) -> int:
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
    return exits.OK


def diff(args: argparse.Namespace) -> int:
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
        return exits.INCOMPLETE
    diff = compare(baseline, current)
    render = {"text": lambda: render_text(diff, current), "markdown": lambda: render_markdown(diff, current),
              "json": lambda: render_json(diff)}[args.format]
    print(render())
    return exits.OK if diff.passes else exits.FAILED
