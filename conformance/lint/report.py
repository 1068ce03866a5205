"""How the overlays settle each defect of the pristine documents, for ``specs lint``."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from conformance.lint import REGISTRY, Defect, lint
from conformance.specs import APIS, api_spec

FIXED, EXCLUDED, OPEN = "fixed", "excluded", "open"


@dataclass(frozen=True)
class Settled:
    finding: Defect
    status: str  # fixed | excluded | open
    reason: str = ""


@dataclass
class LintResult:
    api: str
    pristine: list[Settled] = field(default_factory=list)
    introduced: list[Defect] = field(default_factory=list)  # defects only the effective document has

    @property
    def open(self) -> list[Settled | Defect]:
        return [s for s in self.pristine if s.status == OPEN] + list(self.introduced)


def lint_api(api: str) -> LintResult:
    spec = api_spec(api)
    before = lint(spec.pristine(), api)
    after = {(f.check, f.pointer): f for f in lint(spec.effective(), api)}
    result = LintResult(api)
    for finding in before:
        now = after.pop((finding.check, finding.pointer), None)
        if now is None:
            result.pristine.append(Settled(finding, FIXED))
        elif now.excluded is not None:
            result.pristine.append(Settled(finding, EXCLUDED, now.excluded))
        else:
            result.pristine.append(Settled(finding, OPEN))
    result.introduced = [f for f in after.values() if f.is_defect]
    return result


def lint_apis(apis: list[str] | None = None) -> list[LintResult]:
    return [lint_api(api) for api in (apis or APIS)]


def render_text(results: list[LintResult], *, verbose: bool = False) -> str:
    lines = []
    for result in results:
        lines.append(f"{result.api}: defects of the pristine document")
        by_check: dict[str, Counter[str]] = {}
        for settled in result.pristine:
            by_check.setdefault(settled.finding.check, Counter())[settled.status] += 1
        for check_id, counts in by_check.items():
            states = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            lines.append(f"  {check_id:<30} {REGISTRY[check_id].title} ({states})")
            for settled in result.pristine:
                if settled.finding.check == check_id and (verbose or settled.status != FIXED):
                    note = f" ({settled.reason})" if settled.reason else ""
                    lines.append(f"      {settled.status:<8} {settled.finding.pointer}: {settled.finding.message}{note}")
        for finding in result.introduced:
            lines.append(f"  {finding.check:<30} open in the effective document: {finding.pointer}: {finding.message}")
        totals = Counter(s.status for s in result.pristine)
        lines.append(
            f"{result.api}: {len(result.pristine)} defects found; {totals[FIXED]} fixed, "
            f"{totals[EXCLUDED]} excluded, {len(result.open)} open"
        )
    return "\n".join(lines)


def render_json(results: list[LintResult]) -> str:
    return json.dumps(
        {
            r.api: {
                "pristine": [
                    {"check": s.finding.check, "pointer": s.finding.pointer, "message": s.finding.message,
                     "status": s.status, "reason": s.reason or None}
                    for s in r.pristine
                ],
                "introduced": [{"check": f.check, "pointer": f.pointer, "message": f.message} for f in r.introduced],
            }
            for r in results
        },
        indent=2,
    )
