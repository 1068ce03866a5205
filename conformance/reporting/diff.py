"""Two summaries compared: what regressed, what was fixed, which checks are new or gone, how each score moved.

A regression is a test that passed in the baseline and failed or broke now; a fix is the
reverse. Other changes (to or from skipped, a known deviation, an error of the suite) are
listed as changes without counting as either. Like schemathesis's ``--baseline`` known-failures
file, this lets a team adopt the suite against a target with known failures and still gate on
new ones; it compares whole summaries, so fixes and score changes show too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from conformance.verdicts import BROKEN, FAILED, PASSED

_BAD = (FAILED, BROKEN)


@dataclass
class Diff:
    regressions: list[tuple[str, str, str]] = field(default_factory=list)  # (test, before, now)
    fixes: list[tuple[str, str, str]] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    new: list[tuple[str, str]] = field(default_factory=list)  # (test, verdict now)
    removed: list[tuple[str, str]] = field(default_factory=list)  # (test, verdict before)
    scores: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # api -> (before, now)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    @property
    def passes(self) -> bool:
        """The gate passes: nothing regressed and every check of the baseline ran again (a removed check is a change
        the gate reports, not a silent pass)."""
        return not self.regressions and not self.removed


def unfinished(summary: Mapping[str, Any], name: str) -> str | None:
    """One sentence when ``summary`` is of a run that did not finish (it proves nothing of what it did not run)."""
    reason = summary.get("incomplete")
    return f"the {name} summary is of an incomplete run ({reason}): it cannot pass or set a gate" if reason else None


def compare(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> Diff:
    diff = Diff()
    before, now = baseline["tests"], current["tests"]
    for test in sorted(before.keys() | now.keys()):
        if test not in now:
            diff.removed.append((test, before[test]["verdict"]))
        elif test not in before:
            diff.new.append((test, now[test]["verdict"]))
        else:
            old, new = before[test]["verdict"], now[test]["verdict"]
            if old == new:
                continue
            change = (test, old, new)
            if old == PASSED and new in _BAD:
                diff.regressions.append(change)
            elif old in _BAD and new == PASSED:
                diff.fixes.append(change)
            else:
                diff.changed.append(change)
    for api in sorted(baseline["apis"].keys() | current["apis"].keys()):
        diff.scores[api] = (baseline["apis"].get(api, {}).get("score"), current["apis"].get(api, {}).get("score"))
    return diff


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _delta(before: float | None, now: float | None) -> str:
    if before is None or now is None:
        return ""
    return f"{(now - before) * 100:+.1f} points"


def _message(summary: Mapping[str, Any], test: str) -> str:
    return summary["tests"].get(test, {}).get("message", "")


def render_text(diff: Diff, current: Mapping[str, Any]) -> str:
    lines = []
    for api, (before, now) in diff.scores.items():
        lines.append(f"{api}: score {_score(before)} -> {_score(now)} {_delta(before, now)}".rstrip())
    lines.append(f"{len(diff.regressions)} regressions, {len(diff.fixes)} fixes, {len(diff.changed)} other changes, "
                 f"{len(diff.new)} new, {len(diff.removed)} removed")
    sections = [("regressions (passed before, failed or broken now)", diff.regressions),
                ("fixes (failed or broken before, passed now)", diff.fixes), ("other changes", diff.changed)]
    for title, entries in sections:
        if entries:
            lines += ["", f"{title}:"]
            lines += [f"  {test}: {old} -> {new}" + (f"  ({_message(current, test)[:150]})" if new in _BAD else "")
                      for test, old, new in entries]
    for title, entries in (("new checks", diff.new), ("removed checks", diff.removed)):
        if entries:
            lines += ["", f"{title}:"] + [f"  {test}: {verdict}" for test, verdict in entries]
    return "\n".join(lines)


def render_markdown(diff: Diff, current: Mapping[str, Any]) -> str:
    verdict = "**regressed**" if diff.regressed else "no regressions"
    lines = [f"# Conformance against the baseline: {verdict}", "", "| API | baseline | now | change |", "|---|---:|---:|---:|"]
    lines += [f"| {api} | {_score(b)} | {_score(n)} | {_delta(b, n)} |" for api, (b, n) in diff.scores.items()]
    lines += ["", f"{len(diff.regressions)} regressions, {len(diff.fixes)} fixes, {len(diff.changed)} other changes, "
                  f"{len(diff.new)} new, {len(diff.removed)} removed checks", ""]
    for title, entries in (("Regressions", diff.regressions), ("Fixes", diff.fixes), ("Other changes", diff.changed)):
        if entries:
            lines += [f"## {title}", ""]
            lines += [f"- `{test}`: {old} → **{new}**" + (f": {_message(current, test)}" if new in _BAD else "")
                      for test, old, new in entries]
            lines.append("")
    for title, entries in (("New checks", diff.new), ("Removed checks", diff.removed)):
        if entries:
            lines += [f"## {title}", ""] + [f"- `{test}`: {verdict}" for test, verdict in entries] + [""]
    return "\n".join(lines)


def render_json(diff: Diff) -> str:
    return json.dumps({**asdict(diff), "regressed": diff.regressed}, indent=2, ensure_ascii=False)
