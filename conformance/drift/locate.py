"""Where a change of a drift report is (a JSON pointer into each document, through ``$ref``s) and whose it is
(the overlay actions that wrote it)."""

from __future__ import annotations

from typing import Any

import jsonpath

from conformance.drift.classify import (
    DriftFinding,
)
from conformance.drift.engine import (
    Move,
    operations,
    template,
)
from conformance.overlay import apply_action
from conformance.specs import ApiSpec


# --- where a change is ------------------------------------------------------------------------------------

def pointer(parts: list[str]) -> str:
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class Locator:
    """JSON pointers into one document for findings, following ``$ref``s to where the node is written."""

    def __init__(self, document: dict[str, Any], found_moves: list[Move] = ()) -> None:
        self.document = document
        self.paths = {key: path for key, (path, _) in operations(document).items()}
        for move in found_moves:  # the older document: a moved operation is found under its old path
            self.paths[(move.method, template(move.new_path))] = move.old_path

    def label(self, operation: str) -> str:
        """``METHOD /path`` as this document writes it, when it writes it otherwise (else "")."""
        method, _, path = operation.partition(" ")
        actual = self.paths.get((method, template(path)))
        return f"{method} {actual}" if actual and actual != path else ""

    def operation(self, method: str, path: str) -> str | None:
        return pointer(["paths", path, method.lower()]) if (method, template(path)) in self.paths else None

    def pointer(self, finding: DriftFinding) -> str | None:
        method, _, path = finding.operation.partition(" ")
        actual = self.paths.get((method, template(path)))
        if actual is None:
            return None
        item = self.document["paths"][actual]
        node, parts = item[method.lower()], ["paths", actual, method.lower()]
        if finding.part == "parameter":
            location, name = finding.where.split(" ", 1)
            for base, holder in ((parts, node), (["paths", actual], item)):
                for index, parameter in enumerate(holder.get("parameters") or ()):
                    target, target_parts = self._deref(parameter, [*base, "parameters", str(index)])
                    if isinstance(target, dict) and (target.get("in"), target.get("name")) == (location, name):
                        return self._walk(target, target_parts, finding.path)
            return None
        if finding.part in ("request", "response"):
            steps = ["requestBody"] if finding.part == "request" else ["responses", finding.where]
            for step in steps:
                node, parts = self._deref(node, parts)
                if not isinstance(node, dict) or step not in node:
                    return None
                node, parts = node[step], [*parts, step]
            if finding.content_type:
                node, parts = self._deref(node, parts)
                content = node.get("content") if isinstance(node, dict) else None
                if not isinstance(content, dict) or finding.content_type not in content:
                    return pointer(parts)
                node, parts = content[finding.content_type], [*parts, "content", finding.content_type]
        return self._walk(node, parts, finding.path)

    def _branch_with(self, node: dict[str, Any], parts: list[str], step: str) -> tuple[Any, list[str]]:
        """The ``allOf``/``anyOf``/``oneOf`` branch of ``node`` (dereferenced, searched in depth) that has ``step``."""
        for keyword in ("allOf", "anyOf", "oneOf"):
            for index, branch in enumerate(node.get(keyword) or ()):
                inner, inner_parts = self._deref(branch, [*parts, keyword, str(index)])
                if isinstance(inner, dict) and step not in inner:
                    inner, inner_parts = self._branch_with(inner, inner_parts, step)
                if isinstance(inner, dict) and step in inner:
                    return inner, inner_parts
        return node, parts

    def _deref(self, node: Any, parts: list[str]) -> tuple[Any, list[str]]:
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/") and seen < 32:
            parts = [p.replace("~1", "/").replace("~0", "~") for p in node["$ref"][2:].split("/")]
            node = self.document
            for part in parts:
                node = node.get(part) if isinstance(node, dict) else None
            seen += 1
        return node, parts

    def _walk(self, node: Any, parts: list[str], path: tuple[str, ...]) -> str | None:
        """The pointer of ``path`` below ``node``; its parent's when only the last step is missing; else None.
        Optic merges ``allOf`` branches: a step missing from a node is looked for in its branches too."""
        for index, step in enumerate(path):
            if not (isinstance(node, dict) and step in node):  # a keyword beside a $ref stays where it is written
                node, parts = self._deref(node, parts)
            if isinstance(node, dict) and step not in node:
                node, parts = self._branch_with(node, parts, step)
            if isinstance(node, dict) and step in node:
                node, parts = node[step], [*parts, step]
            elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
                node, parts = node[int(step)], [*parts, step]
            elif step == "required" and index == len(path) - 1:
                return pointer(parts)  # Optic's per-property "required": the property
            else:
                return pointer(parts) if index == len(path) - 1 else None
        return pointer(parts)


# --- whose a difference is ---------------------------------------------------------------------------------

class OverlayWrites:
    """The overlay actions of an API and the nodes each wrote, replayed on its pristine document."""

    def __init__(self, spec: ApiSpec) -> None:
        self.writes: list[tuple[str, Any, str]] = []  # (pointer written, the update, the action's ref)
        self.descriptions: dict[str, str] = {}
        document = spec.pristine()
        for overlay in spec.overlays():
            for action in overlay.actions:
                self.descriptions[action.ref] = " ".join(action.description.split())
                for match in jsonpath.finditer(action.target, document):
                    self.writes.append((pointer([str(p) for p in match.parts]), action.update, action.ref))
                apply_action(document, action)

    def covering(self, at: str | None) -> tuple[str, ...]:
        """The actions that wrote ``at`` (or the member of the node they merged into that holds it)."""
        if at is None:
            return ()
        found = []
        for written, update, ref in self.writes:
            if at == written:
                found.append(ref)
            elif at.startswith(written + "/") and isinstance(update, dict) and _holds(update, at[len(written) + 1:]):
                found.append(ref)
        return tuple(dict.fromkeys(found))


def _holds(update: dict[str, Any], rest: str) -> bool:
    """Whether an overlay update, merged at a node, wrote the member ``rest`` (a pointer below the node):
    every object on the way names the next step, down to the member or to a value it replaced whole."""
    node: Any = update
    for step in rest.split("/"):
        if not isinstance(node, dict):
            return True
        step = step.replace("~1", "/").replace("~0", "~")
        if step not in node:
            return False
        node = node[step]
    return True
