"""``specs/ERRATA.md``: one row per overlay action, rendered from the overlays themselves.

The overlays are the single source of truth; the index is generated so that it can never
disagree with them (a test compares the committed file with :func:`render`).
"""

from __future__ import annotations

from conformance.specs import APIS, SPECS_DIR, api_spec

ERRATA_PATH = SPECS_DIR / "ERRATA.md"

HEADER = """\
# Errata: every change the project applies to the vendored specs

The vendored documents under `specs/<api>/` are byte-for-byte copies of published text (see
each `SOURCE.toml`). Every correction, addition and documented exclusion is an OpenAPI
Overlay 1.0 action in `specs/<api>/overlays/`; this index lists each action once.

- **Action**: overlay file and action number (`file#N`, counted from 0).
- **Where**: the action's JSONPath target in the composed pristine document.
- **What**: what the action changes.
- **Why**: the reason the change is right.
- **Evidence**: where the reason comes from.

Actions that add operations the seeds lack are marked *supplement*; actions that leave a
defect in place on purpose add `x-excluded-defects` and are marked *exclusion*.

This file is generated: run `mem0-conformance specs errata` after changing an overlay.
"""


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _kind(update: object) -> str:
    text = repr(update)
    if "x-conformance-supplement" in text:
        return " *(supplement)*"
    if "x-excluded-defects" in text:
        return " *(exclusion)*"
    return ""


def render() -> str:
    lines = [HEADER]
    for name in APIS:
        spec = api_spec(name)
        lines.append(f"\n## {spec.title} (`specs/{name}/`)\n")
        lines.append("| Action | Where | What | Why | Evidence |")
        lines.append("|---|---|---|---|---|")
        for overlay in spec.overlays():
            for action in overlay.actions:
                what = ("Remove. " if action.remove else "") + action.description + _kind(action.update)
                lines.append(
                    f"| `{action.ref}` | `{_cell(action.target)}` | {_cell(what)} "
                    f"| {_cell(action.reason)} | {_cell(action.evidence)} |"
                )
    return "\n".join(lines) + "\n"
