"""A drift report as JSON (``--format json``) and as text, grouped by view, kind and overlay."""

from __future__ import annotations

import json


from conformance.drift.classify import (
    BREAKING,
    CLASSES,
)
from conformance.drift.report import Change, Comparison, DriftReport
from conformance.specs import api_spec


# --- rendering --------------------------------------------------------------------------------------------

def render_json(report: DriftReport) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)


def render_text(report: DriftReport, *, every: bool = False) -> str:
    """Breaking changes by operation, with pointers; additive and documentation changes counted (listed with
    ``every``); the project's own differences by overlay action; the supplements."""
    published, effective = report.published, report.effective
    lines = [f"{report.newer_title} (OpenAPI {report.newer_openapi}, {report.newer_operations} operations) "
             f"from {report.newer}",
             f"against the vendored {api_spec(report.api).title} ({', '.join(report.vendored)})", ""]
    lines += [f"Published changes, vendored -> newer: {_counts(published)}"]
    lines += _section(published.changes, every, ("vendored", "newer"))
    if published.out_of_scope:
        lines.append(f"  beyond this API's paths ({len(published.out_of_scope)} operations added), not compared: "
                     + _first(published.out_of_scope))
    ours = [c for c in effective.changes if not c.published]
    lines += ["", f"Effective document (what the suite tests) -> newer: {len(effective.changes)} differences; "
                  f"{len(effective.changes) - len(ours)} are published changes above, {len(ours)} the project's own:"]
    lines += _by_overlay(ours, every, report.overlay_descriptions)
    lines += ["", f"Supplements (operations the overlays add) against the newer document: {len(report.supplements)}"]
    for supplement in report.supplements:
        if not supplement.published:
            lines.append(f"  {supplement.operation}: not in the newer document")
            continue
        breaking = [c for c in supplement.changes if c.klass in BREAKING]
        count = len(supplement.changes)
        lines.append(f"  {supplement.operation}: published; {count} difference{'s' if count != 1 else ''}"
                     + (f", {len(breaking)} breaking" if breaking else ""))
        for change in supplement.changes if every else breaking:
            lines.append(f"    {change.klass}: {_tail(change)}{_overlays(change)}")
    if report.baseline:
        lines += ["", f"Breaking changes the baseline ({report.baseline}) does not list: {len(report.gating)}"]
        lines += [f"  {c.klass}: {c.finding.line()}" for c in report.gating]
        lines += ["", "breaking: the provider changed its document again since the baseline (exit 1)" if report.breaking
                  else "nothing breaking beyond the baseline's changes (exit 0)"]
        return "\n".join(lines)
    lines += ["", "breaking: the newer document breaks clients or servers of the vendored one (exit 1)"
              if report.breaking else "nothing breaking between the vendored and the newer document (exit 0)"]
    return "\n".join(lines)


def _counts(comparison: Comparison) -> str:
    return ", ".join(f"{n} {klass}" for klass, n in comparison.counts().items())


def _section(changes: list[Change], every: bool, names: tuple[str, str]) -> list[str]:
    """Per class: breaking changes (every change with ``every``) by operation, each with both pointers."""
    lines = []
    for klass in CLASSES:
        chosen = [c for c in changes if c.klass == klass]
        if not chosen:
            continue
        listed = klass in BREAKING or every
        lines.append(f"  {klass} ({len(chosen)})" + ("" if listed else ": " + _kinds(chosen) + "; --all lists them"))
        if not listed:
            continue
        operation = None
        for change in chosen:
            if change.finding.operation != operation:
                operation = change.finding.operation
                lines.append(f"    {operation}")
            lines.append(f"      {_tail(change)}")
            lines.append(f"          {names[0]} {change.old or '-'}")
            lines.append(f"          {names[1]} {change.new or '-'}")
    return lines


def _by_overlay(changes: list[Change], every: bool, descriptions: dict[str, str]) -> list[str]:
    """The project's own differences, grouped by the overlay actions that wrote them."""
    groups: dict[tuple[str, ...], list[Change]] = {}
    for change in changes:
        groups.setdefault(change.overlays, []).append(change)
    lines = []
    for refs, members in sorted(groups.items(), key=lambda item: (not item[0], [_ref_order(r) for r in item[0]])):
        breaking = sum(1 for c in members if c.klass in BREAKING)
        if refs:
            said = descriptions.get(refs[-1], "")
            head = ", ".join(refs) + (f' "{said[:90]}{"…" if len(said) > 90 else ""}"' if said else "")
        else:
            head = "not traced to an overlay action"
        lines.append(f"  {head}")
        lines.append(f"      {len(members)} ({breaking} breaking): {_kinds(members)}")
        if every or not refs:
            lines += [f"    {c.klass}: {c.finding.line()}" for c in members if every or c.klass in BREAKING]
    return lines


def _ref_order(ref: str) -> tuple[str, int]:
    name, _, index = ref.partition("#")
    return name, int(index) if index.isdigit() else 0


def _kinds(changes: list[Change]) -> str:
    found: dict[str, int] = {}
    for change in changes:
        found[change.finding.kind] = found.get(change.finding.kind, 0) + 1
    ordered = sorted(found.items(), key=lambda item: -item[1])
    shown = ", ".join(f"{n} {kind}" for kind, n in ordered[:4])
    return shown + (f", {sum(n for _, n in ordered[4:])} more" if len(ordered) > 4 else "")


def _first(items: list[str], limit: int = 3) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _tail(change: Change) -> str:
    return change.finding.line().partition(": ")[2]


def _overlays(change: Change) -> str:
    if change.published:
        return "  [published change]"
    return f"  [ours: {', '.join(change.overlays)}]" if change.overlays else "  [ours]"
