"""OpenAPI Overlay 1.0 documents: validation and application.

An overlay is a list of actions. Each action selects nodes with an RFC 9535 JSONPath
``target`` and either merges an ``update`` into every selected node or removes the selected
nodes (``remove: true``). The project adds two required extensions to every action,
``x-reason`` and ``x-evidence``, from which ``specs/ERRATA.md`` is built.

Application is strict: an action that selects nothing is an error, because an overlay written
against a document that has since changed must not pass silently.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonpath
import jsonschema
import yaml

from conformance.yamlfile import load_yaml

# The parts of the Overlay 1.0.0 specification this project relies on, plus its own
# required ``x-reason`` / ``x-evidence`` extensions.
OVERLAY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["overlay", "info", "actions"],
    "properties": {
        "overlay": {"const": "1.0.0"},
        "info": {
            "type": "object",
            "required": ["title", "version"],
            "properties": {"title": {"type": "string"}, "version": {"type": "string"}},
        },
        "extends": {"type": "string"},
        "actions": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["target", "description", "x-reason", "x-evidence"],
                "properties": {
                    "target": {"type": "string", "pattern": "^\\$"},
                    "description": {"type": "string", "minLength": 1},
                    "update": {},
                    "remove": {"type": "boolean"},
                    "x-reason": {"type": "string", "minLength": 1},
                    "x-evidence": {"type": "string", "minLength": 1},
                },
                "patternProperties": {"^x-": {}},
                "additionalProperties": False,
                "oneOf": [
                    {"required": ["update"], "not": {"required": ["remove"]}},
                    {"required": ["remove"], "properties": {"remove": {"const": True}}, "not": {"required": ["update"]}},
                ],
            },
        },
    },
    "patternProperties": {"^x-": {}},
    "additionalProperties": False,
}


# Built once: ``jsonschema.validate`` checks the schema itself on every call.
_OVERLAY_VALIDATOR = jsonschema.Draft202012Validator(OVERLAY_SCHEMA)
class OverlayError(Exception):
    """An overlay document is malformed or one of its actions does not apply."""


@dataclass(frozen=True)
class Action:
    """One overlay action, with where it came from."""

    overlay: str
    index: int
    target: str
    description: str
    reason: str
    evidence: str
    update: Any = None
    remove: bool = False

    @property
    def ref(self) -> str:
        return f"{self.overlay}#{self.index}"


@dataclass(frozen=True)
class Overlay:
    path: Path
    title: str
    actions: tuple[Action, ...]

    @property
    def name(self) -> str:
        return self.path.name


def load_overlay(path: Path) -> Overlay:
    """Read and validate one overlay document."""
    try:
        with path.open(encoding="utf-8") as fh:
            raw = load_yaml(fh)
    except yaml.YAMLError as exc:
        raise OverlayError(f"{path.name}: not valid YAML: {' '.join(str(exc).split())}") from None
    exc = jsonschema.exceptions.best_match(_OVERLAY_VALIDATOR.iter_errors(raw))
    if exc is not None:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise OverlayError(f"{path.name}: invalid overlay at {where}: {exc.message}") from None
    actions = tuple(
        Action(
            overlay=path.name,
            index=i,
            target=item["target"],
            description=item["description"],
            reason=item["x-reason"],
            evidence=item["x-evidence"],
            update=item.get("update"),
            remove=item.get("remove", False),
        )
        for i, item in enumerate(raw["actions"])
    )
    for action in actions:
        try:
            jsonpath.compile(action.target)
        except jsonpath.JSONPathError as exc:
            raise OverlayError(f"{action.ref}: invalid JSONPath {action.target!r}: {exc}") from None
    return Overlay(path=path, title=raw["info"]["title"], actions=actions)


def load_overlays(directory: Path) -> list[Overlay]:
    """All ``*.overlay.yaml`` files of a directory, in file-name order."""
    return [load_overlay(p) for p in sorted(directory.glob("*.overlay.yaml"))]


def merge(node: Any, update: Any) -> Any:
    """Overlay 1.0 merge: objects merge recursively, arrays append, anything else replaces."""
    if isinstance(node, dict) and isinstance(update, dict):
        for key, value in update.items():
            node[key] = merge(node[key], value) if key in node else copy.deepcopy(value)
        return node
    if isinstance(node, list):
        node.extend(copy.deepcopy(update) if isinstance(update, list) else [copy.deepcopy(update)])
        return node
    return copy.deepcopy(update)


def _sort_key(match: jsonpath.JSONPathMatch) -> list[tuple[bool, Any]]:
    return [(isinstance(part, int), part) for part in match.parts]


def apply_action(document: dict[str, Any], action: Action) -> int:
    """Apply one action in place; returns how many nodes it changed."""
    matches = list(jsonpath.finditer(action.target, document))
    if not matches:
        raise OverlayError(f"{action.ref}: target {action.target!r} selects nothing")
    if action.remove:
        # Remove deepest-last indices first so that list positions stay valid.
        for match in sorted(matches, key=_sort_key, reverse=True):
            if match.parent is None:
                raise OverlayError(f"{action.ref}: cannot remove the document root")
            del match.parent.obj[match.parts[-1]]
        return len(matches)
    for match in matches:
        if match.parent is None:
            merge(document, action.update)
        else:
            match.parent.obj[match.parts[-1]] = merge(match.obj, action.update)
    return len(matches)


def apply_overlays(document: dict[str, Any], overlays: list[Overlay]) -> dict[str, Any]:
    """A deep copy of ``document`` with every action of every overlay applied in order."""
    result = copy.deepcopy(document)
    for overlay in overlays:
        for action in overlay.actions:
            apply_action(result, action)
    return result
