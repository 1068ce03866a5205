"""``specs lint``: find the defects of an OpenAPI document.

A check is a small function registered with :func:`check`. It receives a :class:`Document`
and yields :class:`Defect` objects, each pointing at the node that is wrong with a JSON
Pointer. Generic checks apply to any OpenAPI document; API checks encode a published fact
about one API (FACTS.md) that the document contradicts.

An overlay may leave a defect in place on purpose: it then marks the node (or an ancestor)
with ``x-excluded-defects: {<check id>: <reason>}``. Findings under such a mark are reported
as *excluded*, with the reason, and do not count as defects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonpath

EXCLUSION_KEY = "x-excluded-defects"


@dataclass(frozen=True)
class Defect:
    check: str
    pointer: str
    message: str
    excluded: str | None = None  # the documented reason, when an overlay excludes it

    @property
    def is_defect(self) -> bool:
        return self.excluded is None


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    apis: tuple[str, ...]
    function: Callable[[Document], Iterable[tuple[tuple[Any, ...], str]]]


REGISTRY: dict[str, Check] = {}


def check(check_id: str, title: str, *, apis: tuple[str, ...] = ("mem0", "klavis")) -> Callable:
    """Register a check. It yields ``(parts, message)``: the node's path parts and what is wrong."""

    def register(function: Callable) -> Callable:
        if check_id in REGISTRY:
            raise ValueError(f"check {check_id!r} is registered twice")
        REGISTRY[check_id] = Check(check_id, title, apis, function)
        return function

    return register


def pointer(parts: Iterable[Any]) -> str:
    return str(jsonpath.JSONPointer.from_parts([str(p) for p in parts]))


class Document:
    """An OpenAPI document with the helpers checks share."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def operations(self) -> Iterator[tuple[tuple[str, ...], str, str, dict[str, Any]]]:
        """``(parts, METHOD, path, operation)`` for every operation."""
        from conformance.specs import HTTP_METHODS

        for path, item in self.raw.get("paths", {}).items():
            for method, operation in item.items():
                if method in HTTP_METHODS:
                    yield ("paths", path, method), method.upper(), path, operation

    def resolve(self, node: Any) -> Any:
        """Follow local ``$ref`` chains."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/"):
                return node
            seen.add(ref)
            node = jsonpath.JSONPointer(ref[1:]).resolve(self.raw)
        return node

    def walk(self) -> Iterator[tuple[tuple[Any, ...], Any]]:
        """Every node with its path parts, depth first, in document order."""
        stack: list[tuple[tuple[Any, ...], Any]] = [((), self.raw)]
        while stack:
            parts, node = stack.pop()
            yield parts, node
            if isinstance(node, dict):
                children = list(node.items())
            elif isinstance(node, list):
                children = list(enumerate(node))
            else:
                continue
            stack.extend((parts + (key,), value) for key, value in reversed(children))

    def schemas(self) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
        """Every node that is a JSON Schema (under a ``schema`` key or ``components/schemas``)."""
        for parts, node in self.walk():
            if not isinstance(node, dict) or "$ref" in node:
                continue
            if any(p == "schema" for p in parts) or parts[:2] == ("components", "schemas"):
                if any(k in node for k in ("type", "properties", "items", "enum", "anyOf", "oneOf", "allOf")):
                    if not _is_inside_example(parts):
                        yield parts, node

    def accepts(self, parts: tuple[Any, ...], instance: Any) -> bool:
        """Whether the schema at ``parts`` accepts ``instance`` (OpenAPI 3.0 or 3.1 rules)."""
        from openapi_schema_validator import OAS30Validator, OAS31Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        validator_class = OAS31Validator if self.raw.get("openapi", "").startswith("3.1") else OAS30Validator
        registry = Registry().with_resource("urn:document", Resource(self.raw, DRAFT202012))
        validator = validator_class({"$ref": "urn:document#" + pointer(parts)}, registry=registry)
        return validator.is_valid(instance)

    def node(self, parts: tuple[Any, ...]) -> Any:
        node: Any = self.raw
        for part in parts:
            node = node[part]
        return node

    def operation(self, method: str, path: str) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        """The parts and node of one operation, or None if the document lacks it."""
        operation = self.raw.get("paths", {}).get(path, {}).get(method.lower())
        return (("paths", path, method.lower()), operation) if operation is not None else None

    def exclusion(self, parts: tuple[Any, ...], check_id: str) -> str | None:
        """The documented reason if a node on the way to ``parts`` excludes ``check_id``."""
        node: Any = self.raw
        for part in (None, *parts):
            if part is not None:
                try:
                    node = node[part]
                except (KeyError, IndexError, TypeError):
                    return None
            if isinstance(node, dict) and check_id in node.get(EXCLUSION_KEY, {}):
                return node[EXCLUSION_KEY][check_id]
        return None


def _is_inside_example(parts: tuple[Any, ...]) -> bool:
    return any(p in ("example", "examples", "x-code-samples") for p in parts)


def lint(raw: dict[str, Any], api: str, *, only: Iterable[str] | None = None) -> list[Defect]:
    """Run every check registered for ``api`` (or the ``only`` ones) over a document."""
    from conformance.lint import generic, klavis, mem0  # noqa: F401  (registers the checks)

    document = Document(raw)
    selected = set(only) if only is not None else None
    findings = []
    for check_ in REGISTRY.values():
        if api not in check_.apis or (selected is not None and check_.id not in selected):
            continue
        for parts, message in check_.function(document):
            findings.append(
                Defect(check_.id, pointer(parts), message, document.exclusion(tuple(parts), check_.id))
            )
    return findings
