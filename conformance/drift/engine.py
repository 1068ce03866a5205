"""Optic, the diff engine: two OpenAPI documents in, the raw differences of their operations out.

Optic (``@useoptic/optic``, pinned and locked in ``optic/``) resolves ``$ref``s, pairs operations
whose path templates differ only in parameter names, and reports every difference of an
operation, its parameters, request body and responses, down to the schema keyword
(``optic diff OLD NEW --json``). Each becomes a :class:`Delta`; :mod:`conformance.drift.classify`
says what it means. Operations that moved (the same method and operationId, or a path that
differs only by its trailing slash) are paired here first, so that Optic diffs them too.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.specs import HTTP_METHODS
from conformance.tools import NodeTool, ToolError

OPTIC = NodeTool("optic", "@useoptic/optic", "1.0.9", "optic", "specs drift",
                 lock=Path(__file__).with_name("optic"))
_PARAMETER = re.compile(r"(?P<where>\w+) parameter '(?P<name>.+)'")


class DriftError(Exception):
    """The documents cannot be compared; the message is one sentence saying why."""


@dataclass(frozen=True)
class Delta:
    """One difference Optic found, in Optic's terms.

    ``part`` is ``operation``, ``parameter``, ``request`` or ``response``; ``where`` names the
    parameter (``query q``) or the status code; ``key`` is Optic's path inside that part
    (``/schema/properties/results/items/properties/id``, ``/required``, ``/description``).
    """

    operation: str  # "POST /v1/memories/", the newer document's path
    part: str
    where: str = ""
    content_type: str = ""
    key: str = ""
    change: str = "changed"  # added | removed | changed
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class Move:
    """An operation of the older document found under another path in the newer one."""

    method: str
    old_path: str
    new_path: str
    generalized: bool = False  # the old path is one value of the new template (/sandbox/mem0 -> /sandbox/{server_name})


def template(path: str) -> str:
    """A path with its parameter names erased: ``/v1/memories/{memory_id}/`` -> ``/v1/memories/{}/``."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def operations(document: dict[str, Any]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """``(METHOD, template)`` -> (path as written, operation) of a document."""
    found = {}
    for path, item in (document.get("paths") or {}).items():
        for method, operation in (item or {}).items():
            if method in HTTP_METHODS and isinstance(operation, dict):
                found[(method.upper(), template(path))] = (path, operation)
    return found


def moves(old: dict[str, Any], new: dict[str, Any]) -> list[Move]:
    """Operations of ``old`` missing from ``new`` that ``new`` has under another path: the same
    method and a path that differs only by its trailing slash, or the same method and operationId;
    else a path of ``new`` whose template the old path fills in (a generalized path)."""
    before, after = operations(old), operations(new)
    gone = {key: value for key, value in before.items() if key not in after}
    fresh = {key: value for key, value in after.items() if key not in before}
    found = []
    for (method, key), (old_path, operation) in gone.items():
        for (new_method, new_key), (new_path, new_operation) in fresh.items():
            same_path = key.rstrip("/") == new_key.rstrip("/")
            same_id = operation.get("operationId") and operation.get("operationId") == new_operation.get("operationId")
            if method == new_method and (same_path or same_id):
                found.append(Move(method, old_path, new_path))
                del fresh[(new_method, new_key)]
                break
    paired = {(move.method, template(move.old_path)) for move in found}
    for (method, key), (old_path, _) in gone.items():
        if (method, key) in paired:
            continue
        filled = [(path, k) for (m, k), (path, _) in after.items() if m == method and _fills(old_path, path)]
        if filled:
            path = min(filled, key=lambda item: item[0].count("{"))[0]  # the most specific template
            found.append(Move(method, old_path, path, generalized=True))
    return found


def _fills(path: str, pattern: str) -> bool:
    """Whether ``path`` is ``pattern`` with some parameters written as literal values."""
    mine, theirs = path.strip("/").split("/"), pattern.strip("/").split("/")
    if len(mine) != len(theirs) or path == pattern:
        return False
    literal = False
    for own, other in zip(mine, theirs, strict=True):
        if own == other:
            continue
        if not (other.startswith("{") and other.endswith("}")) or own.startswith("{"):
            return False
        literal = True
    return literal


def with_moves(document: dict[str, Any], found: list[Move]) -> dict[str, Any]:
    """A copy of the older document with each moved operation under its newer path (for Optic's pairing)."""
    result = copy.deepcopy(document)
    for move in found:
        method = move.method.lower()
        operation = result["paths"][move.old_path].pop(method)
        shared = result["paths"][move.old_path].get("parameters")
        target = result["paths"].setdefault(move.new_path, {})
        target[method] = operation
        if shared and "parameters" not in target:
            target["parameters"] = shared
        if not any(m in HTTP_METHODS for m in result["paths"][move.old_path]):
            del result["paths"][move.old_path]
    return result


def run_optic(old: dict[str, Any], new: dict[str, Any], *, quiet: bool = False) -> dict[str, Any]:
    """Optic's JSON diff of two documents (written to a scratch folder; read offline)."""
    try:
        exe = OPTIC.path(quiet=quiet)
    except ToolError as exc:
        raise DriftError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="mem0-conformance-drift-") as scratch:
        paths = []
        for name, document in (("older.json", old), ("newer.json", new)):
            path = Path(scratch) / name
            path.write_text(json.dumps(document), encoding="utf-8")
            paths.append(str(path))
        # Optic exits 1 when its own rules find a breaking change: the JSON on stdout is what counts.
        result = subprocess.run([str(exe), "diff", *paths, "--json", "--validation", "loose"], cwd=scratch,
                                capture_output=True, text=True, timeout=600,
                                env={**os.environ, "OPTIC_TELEMETRY_LEVEL": "off", "NO_COLOR": "1"})
    try:
        found = json.loads(result.stdout)
    except json.JSONDecodeError:
        lines = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()
        raise DriftError(f"Optic could not compare the documents ({lines[0][:300]})") from None
    if not isinstance(found, dict) or not isinstance(found.get("operations"), list):
        raise DriftError("Optic answered JSON without a list of operations; is the pinned version installed?")
    return found


def deltas(found: dict[str, Any]) -> list[Delta]:
    """Optic's JSON as flat :class:`Delta` records."""
    result = []
    for operation in found["operations"]:
        name = operation["name"]
        if operation["change"] != "changed":
            result.append(Delta(name, "operation", change=operation["change"]))
            continue
        for attribute in operation.get("attributes", ()):
            result.append(_delta(name, "operation", "", "", attribute))
        for parameter in operation.get("parameters", ()):
            match = _PARAMETER.fullmatch(parameter["name"])
            where = f"{match['where']} {match['name']}" if match else parameter["name"]
            if parameter["change"] != "changed":
                whole = next(iter(parameter.get("attributes", ())), {})
                result.append(Delta(name, "parameter", where, change=parameter["change"],
                                    before=whole.get("before"), after=whole.get("after")))
                continue
            result += [_delta(name, "parameter", where, "", attribute) for attribute in parameter.get("attributes", ())]
        body = operation.get("requestBody")
        parts = ([("request", "", body)] if body else []) + [
            ("response", response["name"].removesuffix(" response"), response) for response in operation.get("responses", ())]
        for part, where, node in parts:
            if node["change"] != "changed":
                result.append(Delta(name, part, where, change=node["change"]))
                continue
            result += [_delta(name, part, where, "", attribute) for attribute in node.get("attributes", ())]
            for content in node.get("contentTypes", ()):
                if content["change"] != "changed":
                    result.append(Delta(name, part, where, content["name"], change=content["change"]))
                    continue
                result += [_delta(name, part, where, content["name"], attribute) for attribute in content.get("attributes", ())]
    return result


def _delta(operation: str, part: str, where: str, content_type: str, attribute: dict[str, Any]) -> Delta:
    return Delta(operation, part, where, content_type, attribute.get("key", ""), attribute.get("change", "changed"),
                 attribute.get("before"), attribute.get("after"))


def parameter_key(where: str) -> tuple[str, str]:
    """``query page`` -> ("query", "page")."""
    location, _, name = where.partition(" ")
    return location, name
