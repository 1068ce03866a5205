"""How a schema difference is said: its subject (``results[].id``), the types and values on each side, and
the change in a few words (``tightened``, ``from 100 to 1000``)."""

from __future__ import annotations

import json
from typing import Any


LOWER = frozenset({"minLength", "minimum", "minItems", "minProperties", "exclusiveMinimum"})  # lower bounds
NESTED = {"items": "[]", "additionalProperties": "{}", "not": "<not>"}  # a nested schema -> how a subject shows it


def subject(path: tuple[str, ...]) -> str:
    """``schema/properties/results/items/properties/id`` -> ``results[].id``."""
    subject, parts, i = "", list(path), 0
    while i < len(parts):
        part = parts[i]
        if part == "properties" and i + 1 < len(parts):
            subject = join(subject, parts[i + 1])
            i += 2
            continue
        if part in NESTED:
            subject += NESTED[part]
        elif part in ("oneOf", "anyOf", "allOf") and i + 1 < len(parts):
            subject += f"<{part} {int(parts[i + 1]) + 1 if parts[i + 1].isdigit() else parts[i + 1]}>"
            i += 1
        i += 1
    return subject


def join(subject: str, name: str) -> str:
    return f"{subject}.{name}" if subject else name


def types(node: dict[str, Any]) -> frozenset[str] | None:
    """The JSON types a schema node admits, from ``type`` (and ``nullable``) or its branches; None: any."""
    if "type" in node and node["type"] is not None:
        declared = node["type"] if isinstance(node["type"], list) else [node["type"]]
        found = set(declared)
    elif any(isinstance(node.get(k), list) for k in ("anyOf", "oneOf")):
        found = set()
        for branch in node.get("anyOf") or node.get("oneOf"):
            inner = types(branch) if isinstance(branch, dict) else None
            if inner is None:
                return None
            found |= inner
    else:
        return None
    if "number" in found:
        found.add("integer")
    if node.get("nullable"):
        found.add("null")
    return frozenset(found)


def values(value: Any, keyword: str) -> frozenset[str] | None:
    if value is None:
        return None
    items = [value] if keyword == "const" else value if isinstance(value, list) else [value]
    return frozenset(json.dumps(item, sort_keys=True) for item in items)


def appeared(old: Any, new: Any) -> str | None:
    """The effect of a constraint that is equal, added (narrowed) or dropped (widened); None: both set, differing."""
    if old == new:
        return "same"
    if old is None:
        return "narrowed"
    if new is None:
        return "widened"
    return None


def compare_sets(old: frozenset[str] | None, new: frozenset[str] | None) -> str:
    found = appeared(old, new)
    if found:
        return found
    return "narrowed" if new < old else "widened" if old < new else "changed"


def bound(keyword: str, old: Any, new: Any) -> str:
    found = appeared(old, new)
    if found:
        return found
    if isinstance(old, bool) or isinstance(new, bool) or not all(isinstance(v, int | float) for v in (old, new)):
        return "changed"
    raised = new > old
    return ("narrowed" if raised else "widened") if keyword in LOWER else ("widened" if raised else "narrowed")


def additional(old: Any, new: Any) -> str:
    def closed(value: Any) -> bool:
        return value is False

    def constrained(value: Any) -> bool:
        return isinstance(value, dict) and bool(value)

    if closed(old) == closed(new) and constrained(old) == constrained(new):
        return "same" if old == new or not (constrained(old) or constrained(new)) else "changed"
    if closed(new) or (constrained(new) and not closed(old)):
        return "narrowed"
    return "widened"


def show_types(types: frozenset[str] | None) -> str:
    if types is None:
        return "any"
    shown = sorted(types - ({"integer"} if "number" in types else set()))
    return " or ".join(shown)


def enum_detail(old: frozenset[str] | None, new: frozenset[str] | None) -> str:
    if old is None or new is None:
        return "any value -> " + ", ".join(sorted(new or ())) if old is None else ", ".join(sorted(old)) + " -> any value"
    parts = []
    if new - old:
        parts.append("added " + ", ".join(sorted(new - old)))
    if old - new:
        parts.append("removed " + ", ".join(sorted(old - new)))
    return "; ".join(parts)


def change(old: Any, new: Any) -> str:
    return "added" if old is None else "removed" if new is None else "changed"


def verb(change: str) -> str:
    return {"added": "added", "removed": "removed"}.get(change, "changed")


def short(old: Any, new: Any, limit: int = 80) -> str:
    def show(value: Any) -> str:
        text = "absent" if value is None else json.dumps(value, ensure_ascii=False)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    return f"{show(old)} -> {show(new)}"
