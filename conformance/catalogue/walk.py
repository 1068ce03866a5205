"""Walking the effective documents' schemas for mutant sites: ``$ref``s followed, ``anyOf``/``oneOf``/``allOf``
branches taken, the properties, items, types and bounds of a schema node with a JSON pointer to each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.specs import at_pointer

BOUNDS = ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems")  # the documented bounds


def follow(document: dict[str, Any], node: Any, pointer: str) -> tuple[Any, str]:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        pointer = node["$ref"][1:]
        node = at_pointer(document, pointer)
    return node, pointer


def branches(document: dict[str, Any], node: Any, pointer: str, depth: int = 0) -> Iterator[tuple[dict, str]]:
    """``node`` (references followed) and every ``allOf``/``anyOf``/``oneOf`` branch of it, recursively."""
    node, pointer = follow(document, node, pointer)
    if not isinstance(node, dict) or depth > 4:
        return
    yield node, pointer
    for keyword in ("allOf", "anyOf", "oneOf"):
        for index, branch in enumerate(node.get(keyword) or []):
            yield from branches(document, branch, f"{pointer}/{keyword}/{index}", depth + 1)


def escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def properties(document: dict[str, Any], node: Any, pointer: str) -> list[tuple[str, Any, str, bool]]:
    """``(name, schema, pointer, required)`` of the properties ``node`` declares, branches included."""
    found: dict[str, tuple[str, Any, str, bool]] = {}
    required: set[str] = set()
    for branch, where in branches(document, node, pointer):
        if where == follow(document, node, pointer)[1] or "/allOf/" in where:
            required.update(branch.get("required") or [])
        for name, schema in (branch.get("properties") or {}).items():
            found.setdefault(name, (name, schema, f"{where}/properties/{escape(name)}", False))
    return [(name, schema, where, name in required) for name, schema, where, _ in found.values()]


def items_of(document: dict[str, Any], node: Any, pointer: str) -> tuple[Any, str] | None:
    for branch, where in branches(document, node, pointer):
        if isinstance(branch.get("items"), dict):
            return branch["items"], f"{where}/items"
    return None


def types_of(document: dict[str, Any], node: Any, pointer: str) -> set[str]:
    kinds: set[str] = set()
    for branch, _ in branches(document, node, pointer):
        kind = branch.get("type")
        kinds.update(kind if isinstance(kind, list) else [kind] if kind else [])
        if "properties" in branch:
            kinds.add("object")
        if "items" in branch:
            kinds.add("array")
    return kinds - {"null"}


def bounds_of(document: dict[str, Any], node: Any, pointer: str) -> list[tuple[str, float, str]]:
    return [(keyword, branch[keyword], where) for branch, where in branches(document, node, pointer)
            for keyword in BOUNDS if isinstance(branch.get(keyword), int | float) and not isinstance(branch[keyword], bool)]


