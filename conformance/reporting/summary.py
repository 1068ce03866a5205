"""One summary of one or more results folders: counts per API, per operation and per invariant
family, a conformance score per API, skip reasons, and every test's verdict.

The score of an API is ``passed / (passed + failed + broken)``: the share of the applicable
expectations that hold. Skipped tests (the target lacks what they need), known deviations and
errors of the suite are counted beside it, never in it. A test whose story is an operation
(``POST /v1/memories/``) counts for that operation; every test counts for its feature.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance.reporting import RESULTS_DIR, SUMMARY_JSON, SUMMARY_MD
from conformance.reporting.results import (
    SUCCESSES_GLOB,
    label,
    read_environment,
    read_results,
    read_sdk_traffic,
    read_sdk_surfaces,
    surface_coverage,
    read_successes,
)
from conformance.verdicts import (
    BROKEN,
    DEVIATION,
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    VERDICTS,
)

FORMAT = 1
SCORE_FORMULA = ("score = passed / (passed + failed + broken); skipped tests, known deviations and "
                 "errors of the suite are shown beside it, never in it")
_OPERATION_METHODS = ("GET ", "POST ", "PUT ", "PATCH ", "DELETE ")


def counts(verdicts: Iterable[str]) -> dict[str, int]:
    found = Counter(verdicts)
    return {verdict: found.get(verdict, 0) for verdict in VERDICTS}


def score(count: Mapping[str, int]) -> float | None:
    """passed / applicable, where applicable = passed + failed + broken; None when nothing applied."""
    applicable = count[PASSED] + count[FAILED] + count[BROKEN]
    return round(count[PASSED] / applicable, 4) if applicable else None


def _verdict(result: Mapping[str, Any]) -> str:
    """The verdict label, or one derived from Allure's status for results written without it."""
    found = label(result, "verdict")
    if found:
        return found
    status = result.get("status")
    message = (result.get("statusDetails") or {}).get("message") or ""
    if status == "skipped":
        return DEVIATION if message.startswith("XFAIL") else SKIPPED
    if status == "broken":
        return BROKEN if "TargetBroken" in message else ERROR
    return {"passed": PASSED, "failed": FAILED}.get(status, ERROR)


def _message(result: Mapping[str, Any]) -> str:
    message = ((result.get("statusDetails") or {}).get("message") or "").strip()
    first = message.splitlines()[0] if message else ""
    for prefix in ("conformance.verdicts.ContractViolation: ", "conformance.verdicts.TargetBroken: ", "Skipped: "):
        first = first.removeprefix(prefix)
    return first[:300]


def tests_of(results: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each test by identity: API, feature, story, verdict, severity and the first line of its message."""
    tests = {}
    for result in results:
        ident = label(result, "testId") or result.get("fullName") or result.get("name", "?")
        verdict = _verdict(result)
        tests[ident] = {
            "api": label(result, "epic") or "Other", "feature": label(result, "feature") or "Other",
            "story": label(result, "story") or result.get("name", ""), "verdict": verdict,
            "severity": label(result, "severity") or "normal",
            "message": "" if verdict == PASSED else _message(result),
            "explained_by_drift": label(result, "drift") == "explained",
            "duration": round(max(0, result.get("stop", 0) - result.get("start", 0)) / 1000, 3),
        }
    return dict(sorted(tests.items()))


def build(folders: Iterable[Path]) -> dict[str, Any]:
    """The summary of every test result in ``folders`` (a results folder, or a reports folder holding one)."""
    folders = [results_folder(Path(folder)) for folder in folders]
    tests = tests_of(read_results(folders))
    apis: dict[str, Any] = {}
    for test in tests.values():
        api = apis.setdefault(test["api"], {"tests": [], "features": {}, "operations": {}})
        api["tests"].append(test["verdict"])
        api["features"].setdefault(test["feature"], []).append(test["verdict"])
        if test["story"].startswith(_OPERATION_METHODS):
            api["operations"].setdefault(test["story"], []).append(test["verdict"])
    counted = any(any(folder.glob(SUCCESSES_GLOB)) for folder in folders)
    successes = read_successes(folders)
    summary_apis = {}
    for name, api in sorted(apis.items()):
        count = counts(api["tests"])
        operations = {operation: counts(v) for operation, v in sorted(api["operations"].items())}
        summary_apis[name] = {
            "score": score(count), "counts": count,
            "features": {feature: counts(v) for feature, v in sorted(api["features"].items())},
            "operations": operations,
        }
        if counted:
            summary_apis[name]["successes"] = {operation: successes.get(operation, 0) for operation in operations}
            # Tested (not skipped) and never answered with a 2xx that passed every check: the success path is unseen.
            summary_apis[name]["unexercised"] = [
                operation for operation, verdicts in operations.items()
                if verdicts[PASSED] + verdicts[FAILED] + verdicts[BROKEN] and not successes.get(operation)]
    reasons = Counter(t["message"] for t in tests.values() if t["verdict"] == SKIPPED)
    drift: dict[str, set[str]] = {}
    traffic = read_sdk_traffic(folders)
    for line in traffic:
        drift.setdefault(sdk_label(line["sdk"], line["version"]), set()).update(
            item.removeprefix("drift: ") for item in line.get("drift", ()))
    extra = {"sdk_drift": {sdk: sorted(items) for sdk, items in sorted(drift.items())}} if drift else {}
    surfaces = read_sdk_surfaces(folders)
    if surfaces:
        extra["sdk_surface"] = {
            sdk_label(sdk, surface.get("version", "?")): surface_coverage(
                surface, [line for line in traffic if line.get("sdk") == sdk and line.get("version") == surface.get("version")])
            for sdk, surface in sorted(surfaces.items())}
    return {
        "format": FORMAT,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": [read_environment(folder) for folder in folders],
        "score_formula": SCORE_FORMULA,
        "totals": counts(t["verdict"] for t in tests.values()),
        "apis": summary_apis,
        "skip_reasons": dict(reasons.most_common()),
        **extra,
        "tests": tests,
    }


def results_folder(folder: Path) -> Path:
    """The Allure results folder of ``folder``: its ``allure-results/`` when it is a reports folder."""
    return folder / RESULTS_DIR if (folder / RESULTS_DIR).is_dir() else folder


def load(path: Path) -> dict[str, Any]:
    """A summary from ``summary.json`` or from a reports folder holding one; ValueError when it is not one."""
    path = path / SUMMARY_JSON if path.is_dir() else path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"{path} is not a JSON summary") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("tests"), dict):
        raise ValueError(f"{path} is not a mem0-conformance summary (format {FORMAT})")
    return data


def write_summary(reports: Path, folders: Iterable[Path] | None = None, *, incomplete: str | None = None) -> dict[str, Any]:
    """Build the summary of ``folders`` (default: this reports folder's results) and write it as
    ``summary.json`` and ``summary.md`` into ``reports``; the Markdown also goes to GitHub's step summary.
    ``incomplete`` says why the run did not finish (an interrupted run proves nothing of what it did not run):
    the summary carries it, shows it first, and ``diff`` and ``--baseline`` refuse to pass it."""
    folders = list(folders) if folders else [reports / RESULTS_DIR]
    summary = build(folders)
    if incomplete:
        summary["incomplete"] = incomplete
    reports.mkdir(parents=True, exist_ok=True)
    _attach_sdk_surface(summary, folders[0])
    (reports / SUMMARY_JSON).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    markdown = render_markdown(summary)
    (reports / SUMMARY_MD).write_text(markdown, encoding="utf-8")
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")
    return summary


SURFACE_GLOBALS = "mem0-conformance-sdk-surface-globals.json"  # Allure 3 reads *-globals.json: the report's own
SURFACE_ATTACHMENT = "mem0-conformance-sdk-surface-attachment.txt"  # attachments, beside every test's


def _attach_sdk_surface(summary: Mapping[str, Any], results: Path) -> None:
    """The SDK surface coverage as a global attachment of the Allure report (its "Global attachments"):
    the same section summary.md holds. Written again with each summary; removed when no SDK ran."""
    lines = _surface_section(summary)
    if not lines or not results.is_dir():
        for name in (SURFACE_GLOBALS, SURFACE_ATTACHMENT):
            (results / name).unlink(missing_ok=True)
        return
    (results / SURFACE_ATTACHMENT).write_text("\n".join(lines) + "\n", encoding="utf-8")
    stamp = int(datetime.now(UTC).timestamp() * 1000)
    (results / SURFACE_GLOBALS).write_text(json.dumps({"attachments": [
        {"name": "SDK surface coverage", "source": SURFACE_ATTACHMENT, "type": "text/plain", "timestamp": stamp}],
        "errors": []}), encoding="utf-8")


def _surface_section(summary: Mapping[str, Any]) -> list[str]:
    """Each guarded SDK's public calls: the scenarios that exercised each, or why none did (Markdown)."""
    if not summary.get("sdk_surface"):
        return []
    lines = ["## SDK surface coverage", "",
             "Each guarded SDK's public calls: the scenarios that exercise each, or why none does.", ""]
    for sdk, coverage in summary["sdk_surface"].items():
        lines += [f"- **{_surface_line(sdk, coverage).removeprefix('SDK surface of ')}**"]
        lines += [f"  - `{name}`: {', '.join(found)}" for name, found in coverage["exercised"].items()]
        lines += [f"  - `{name}`: not driven ({reason})" for name, reason in coverage["not_driven"].items()]
        lines += [f"  - `{name}`: **not exercised**" for name in coverage["gaps"]]
    return lines + [""]


# --- rendering -----------------------------------------------------------------------------------------

_COLUMNS = (PASSED, FAILED, BROKEN, DEVIATION, SKIPPED, ERROR)


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _rows(summary: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, int]]]:
    rows = []
    for name, api in summary["apis"].items():
        rows.append((name, _score(api["score"]), api["counts"]))
        rows += [(f"  {feature}", "", count) for feature, count in api["features"].items()]
    return rows


def success_figure(summary: Mapping[str, Any]) -> str | None:
    """"success path validated for N of M tested operations (per API)", or None when successes were not counted."""
    parts, validated, tested = [], 0, 0
    for name, api in summary["apis"].items():
        if "successes" not in api:
            continue
        ran = [op for op, count in api["operations"].items() if count[PASSED] + count[FAILED] + count[BROKEN]]
        if not ran:
            continue
        seen = len(ran) - len(api.get("unexercised", ()))
        parts.append(f"{name} {seen}/{len(ran)}")
        validated, tested = validated + seen, tested + len(ran)
    if not tested:
        return None
    return f"success path validated for {validated} of {tested} tested operations ({', '.join(parts)})"


def sdk_label(sdk: str, version: str) -> str:
    """An SDK and version as a reader names them: ``mem0ai 2.2.1``, ``mem0ai 3.3.1 (npm)`` (``npm:mem0ai``)."""
    return f"{sdk.removeprefix('npm:')} {version}" + (" (npm)" if sdk.startswith("npm:") else "")


def _surface_line(sdk: str, coverage: Mapping[str, Any]) -> str:
    return (f"SDK surface of {sdk}: {len(coverage['exercised'])} of {coverage['calls']} public calls exercised by a "
            f"scenario, {len(coverage['not_driven'])} not driven (with the reason), {len(coverage['gaps'])} not exercised")


def render_text(summary: Mapping[str, Any]) -> str:
    """A fixed-width table per API and feature, the failing tests and the skip reasons."""
    rows = _rows(summary)
    width = max([len(name) for name, _, _ in rows] + [12])
    head = f"{'API / feature':<{width}}  {'score':>6}  " + "  ".join(f"{c:>9}" for c in _COLUMNS)
    lines = [f"INCOMPLETE RUN: {summary['incomplete']}; the tests it did not run are in no count", ""] \
        if summary.get("incomplete") else []
    lines += [head, "-" * len(head)]
    lines += [f"{name:<{width}}  {value:>6}  " + "  ".join(f"{count[c]:>9}" for c in _COLUMNS)
              for name, value, count in rows]
    lines += ["", SCORE_FORMULA]
    figure = success_figure(summary)
    if figure:
        lines.append(figure)
    bad = [(ident, t) for ident, t in summary["tests"].items() if t["verdict"] in (FAILED, BROKEN, ERROR)]
    if bad:
        lines += ["", "not passing:"]
        lines += [f"  {t['verdict'].upper():<7} {ident}: {t['message'][:160]}" for ident, t in bad[:40]]
        if len(bad) > 40:
            lines.append(f"  ... and {len(bad) - 40} more (summary.json)")
    explained = [ident for ident, t in summary["tests"].items() if t.get("explained_by_drift")]
    if explained:
        lines += ["", f"failures a newer published document explains (run --drift; the Allure report says which "
                      f"difference): {len(explained)}"]
        lines += [f"  {ident}" for ident in explained]
    unexercised = [f"{name}: {operation}" for name, api in summary["apis"].items() for operation in api.get("unexercised", ())]
    if unexercised:
        lines += ["", f"success path never validated (no 2xx answer to a generated request passed the checks): "
                      f"{len(unexercised)} operations"]
        lines += [f"  {entry}" for entry in unexercised]
    for sdk, coverage in summary.get("sdk_surface", {}).items():
        lines += ["", _surface_line(sdk, coverage)]
        lines += [f"  not driven: {name} ({reason})" for name, reason in coverage["not_driven"].items()]
        lines += [f"  not exercised: {name}" for name in coverage["gaps"]]
    for sdk, items in summary.get("sdk_drift", {}).items():
        lines += ["", f"SDK drift of {sdk} (beyond the seed documents; reported, not failed): {len(items)}"]
        lines += [f"  {item}" for item in items]
    if summary["skip_reasons"]:
        lines += ["", "skipped, by reason:"]
        lines += [f"  {n:>4} x {reason}" for reason, n in summary["skip_reasons"].items()]
    return "\n".join(lines)


def render_markdown(summary: Mapping[str, Any]) -> str:
    """The summary for people: scores per API, features, operations with non-passing tests, failures, skips."""
    lines = ["# Conformance summary", ""]
    if summary.get("incomplete"):
        lines += [f"**Incomplete run: {summary['incomplete']}**; the tests it did not run are in no count.", ""]
    runs = [run for run in summary["runs"] if run]
    for run in runs:
        targets = ", ".join(f"{key.split('.')[1]} {value}" for key, value in run.items()
                            if key.startswith("target.") and key.endswith(".url"))
        lines.append(f"- run `{run.get('run.id', '?')}` against {run.get('target.name', '?')} ({targets}), "
                     f"profile `{run.get('hypothesis.profile', '?')}`"
                     + (f", planted faults: {run['target.planted_faults']}" if run.get("target.planted_faults") else ""))
        found = {key.removeprefix("capability."): value.partition(" - ")[0] for key, value in run.items()
                 if key.startswith("capability.")}
        if found:
            lines.append("  - capabilities: " + ", ".join(f"{name} {state}" for name, state in found.items()))
    lines += ["", "| API / feature | score | " + " | ".join(_COLUMNS) + " |",
              "|---|---:|" + "---:|" * len(_COLUMNS)]
    for name, value, count in _rows(summary):
        shown = f"**{name}**" if not name.startswith(" ") else name.strip()
        lines.append(f"| {shown} | {value} | " + " | ".join(str(count[c]) for c in _COLUMNS) + " |")
    lines += ["", f"_{SCORE_FORMULA}._", ""]
    figure = success_figure(summary)
    if figure:
        lines += [f"{figure[0].upper()}{figure[1:]}.", ""]
    operations = [(api, op, count) for api, data in summary["apis"].items() for op, count in data["operations"].items()
                  if count[PASSED] != sum(count.values())]
    if operations:
        lines += ["## Operations with tests that did not pass", "", "| API | operation | " + " | ".join(_COLUMNS) + " |",
                  "|---|---|" + "---:|" * len(_COLUMNS)]
        lines += [f"| {api} | `{op}` | " + " | ".join(str(count[c]) for c in _COLUMNS) + " |" for api, op, count in operations]
        lines.append("")
    unexercised = [(api, op) for api, data in summary["apis"].items() for op in data.get("unexercised", ())]
    if unexercised:
        lines += ["## Operations whose success path was never validated", "",
                  "Tested, but no generated request got a 2xx answer that passed every check:", ""]
        lines += [f"- {api}: `{op}`" for api, op in unexercised]
        lines.append("")
    every = [(api, op, count, data.get("successes", {}).get(op, "")) for api, data in summary["apis"].items()
             for op, count in data["operations"].items()]
    if every:
        lines += ["<details><summary>Every operation</summary>", "",
                  "| API | operation | " + " | ".join(_COLUMNS) + " | 2xx validated |",
                  "|---|---|" + "---:|" * (len(_COLUMNS) + 1)]
        lines += [f"| {api} | `{op}` | " + " | ".join(str(count[c]) for c in _COLUMNS) + f" | {ok} |"
                  for api, op, count, ok in every]
        lines += ["", "</details>", ""]
    bad = [(ident, t) for ident, t in summary["tests"].items() if t["verdict"] in (FAILED, BROKEN, ERROR)]
    if bad:
        lines += ["## Not passing", ""]
        lines += [f"- **{t['verdict']}** ({t['severity']}) `{ident}`: {t['message']}"
                  + (" _(explained by a newer published document)_" if t.get("explained_by_drift") else "")
                  for ident, t in bad]
        lines.append("")
    lines += _surface_section(summary)
    if summary.get("sdk_drift"):
        lines += ["## SDK drift", "", "What the SDKs call and send beyond the vendored seed documents (reported, not failed):", ""]
        for sdk, items in summary["sdk_drift"].items():
            lines += [f"- **{sdk}**"] + [f"  - {item}" for item in items]
        lines.append("")
    if summary["skip_reasons"]:
        lines += ["## Skipped, by reason", ""]
        lines += [f"- {n} × {reason}" for reason, n in summary["skip_reasons"].items()]
        lines.append("")
    return "\n".join(lines)
