"""What a difference between two documents means, and for whom.

Each :class:`~conformance.drift.engine.Delta` becomes one or more :class:`DriftFinding`, in one of
four classes:

- **breaking for clients**: a client written against the older document can fail against a
  server implementing the newer one (an operation removed or moved, a response field removed,
  renamed or made optional, a new required request field or parameter, a request type or enum
  narrowed, a response type or enum widened, a success status changed, a default changed);
- **breaking for servers**: a server implementing the older document fails the newer one (a new
  optional request field or parameter that a strict server refuses, a request type or enum
  widened, a response type or enum narrowed, a new required response field, a status code the
  newer document no longer lists);
- **additive**: new operations, optional response fields, status codes;
- **documentation only**: descriptions, summaries, examples, code samples, operation ids, enum
  order, a renamed path parameter.

The direction matters: narrowing what a request may carry breaks clients, narrowing what a
response may carry breaks servers. Whatever is not recognised is counted as breaking for
clients ("review"), so that the gate errs on the side of a look.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from conformance.drift import wording
from conformance.drift.engine import Delta, parameter_key
from conformance.drift.wording import LOWER, NESTED

CLIENTS, SERVERS, ADDITIVE, DOCUMENTATION = "breaking for clients", "breaking for servers", "additive", "documentation only"
CLASSES = (CLIENTS, SERVERS, ADDITIVE, DOCUMENTATION)
BREAKING = (CLIENTS, SERVERS)

DOC_KEYWORDS = frozenset({"description", "summary", "title", "example", "examples", "externalDocs", "deprecated",
                          "x-code-samples", "x-codeSamples", "x-mint", "tags", "operationId", "$comment", "xml",
                          "discriminator", "readOnly", "writeOnly", "contentMediaType", "contentEncoding"})
OURS = "x-conformance-"  # the project's own extensions: never a difference of the provider's
UPPER = frozenset({"maxLength", "maximum", "maxItems", "maxProperties", "exclusiveMaximum"})
NUMBER_FORMATS = frozenset({"float", "double", "int32", "int64"})  # how a number is stored: no value changes
TYPEISH = ("type", "anyOf", "oneOf", "allOf")
_ANY = None  # no constraint


@dataclass(frozen=True)
class DriftFinding:
    """One classified difference of one operation; ``path`` is where in the part (Optic's key, split)."""

    klass: str
    kind: str
    operation: str
    part: str  # operation | parameter | request | response
    where: str  # "" | "query page" | "200"
    subject: str  # "results[].immutable", "" for the part itself
    detail: str
    path: tuple[str, ...] = ()
    content_type: str = ""
    shape: str = ""  # a property's type, for pairing a removed field with an added one (a rename)

    @property
    def place(self) -> str:
        """``request body``, ``response 200``, ``query parameter page`` or ``operation``."""
        if self.part == "request":
            return "request body"
        if self.part == "response":
            return f"response {self.where}"
        if self.part == "parameter":
            location, name = parameter_key(self.where)
            return f"{location} parameter {name}"
        return "operation"

    def line(self) -> str:
        subject = f" {self.subject}" if self.subject else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.operation}: {self.place}{subject}: {self.kind}{detail}"


def classify(delta: Delta) -> list[DriftFinding]:
    """The findings of one delta (none for the project's own extensions)."""
    if delta.part == "operation":
        return _operation(delta)
    if delta.part == "parameter":
        return _parameter(delta)
    return _body(delta)


def classify_all(found: Iterable[Delta]) -> list[DriftFinding]:
    """Every delta classified, duplicates dropped, renames and status changes paired."""
    seen, result = set(), []
    for delta in _merge_types(found):
        for finding in classify(delta):
            key = (finding.operation, finding.part, finding.where, finding.subject, finding.kind, finding.detail)
            if key not in seen:
                seen.add(key)
                result.append(finding)
    return _pair_statuses(_pair_renames(result))


def _merge_types(found: Iterable[Delta]) -> list[Delta]:
    """Optic reports ``/schema/type`` removed and ``/schema/anyOf`` added as two deltas: one change of
    the node's types (``string`` -> ``string or null``), judged together."""
    found = list(found)
    groups: dict[tuple[str, ...], list[Delta]] = {}
    for delta in found:
        head, _, keyword = delta.key.rpartition("/")
        if keyword in (*TYPEISH, "nullable") and not isinstance(delta.before, dict) and not isinstance(delta.after, dict):
            groups.setdefault((delta.operation, delta.part, delta.where, delta.content_type, head), []).append(delta)
    merged, drop = [], set()
    for (operation, part, where, content_type, head), members in groups.items():
        if len(members) < 2:
            continue
        before = {d.key.rpartition("/")[2]: d.before for d in members if d.before is not None}
        after = {d.key.rpartition("/")[2]: d.after for d in members if d.after is not None}
        merged.append(Delta(operation, part, where, content_type, head, "changed", before, after))
        drop |= {id(d) for d in members}
    return [d for d in found if id(d) not in drop] + merged


# --- operations ------------------------------------------------------------------------------------------

def _operation(delta: Delta) -> list[DriftFinding]:
    base = DriftFinding(CLIENTS, "", delta.operation, "operation", "", "", "")
    if delta.change == "removed" and not delta.key:
        return [replace(base, kind="operation removed")]
    if delta.change == "added" and not delta.key:
        return [replace(base, klass=ADDITIVE, kind="operation added")]
    keyword = delta.key.strip("/").split("/")[0]
    if keyword.startswith(OURS):
        return []
    path = tuple(delta.key.strip("/").split("/"))
    if keyword in DOC_KEYWORDS or keyword.startswith("x-"):
        return [replace(_documented(base, keyword, delta, path),
                        detail=wording.short(delta.before, delta.after) if keyword == "operationId" else "")]
    if keyword == "security":
        return [replace(base, kind="security changed", detail=wording.short(delta.before, delta.after), path=path)]
    if keyword in ("requestBody", "responses", "parameters"):
        return []  # Optic reports these in their own parts
    return [_review(base, keyword, delta, path)]


# --- parameters ------------------------------------------------------------------------------------------

def _parameter(delta: Delta) -> list[DriftFinding]:
    base = DriftFinding(CLIENTS, "", delta.operation, "parameter", delta.where, "", "")
    if not delta.key:  # the parameter as a whole
        if delta.change == "added":
            required = isinstance(delta.after, dict) and bool(delta.after.get("required"))
            return [replace(base, klass=CLIENTS if required else SERVERS,
                            kind="new required parameter" if required else "new optional parameter")]
        if delta.change == "removed":
            return [replace(base, kind="parameter removed")]
    path = tuple(delta.key.strip("/").split("/"))
    keyword = path[-1]
    if path == ("required",):
        before, after = bool(delta.before), bool(delta.after)
        if before == after:
            return []
        return [replace(base, klass=CLIENTS if after else SERVERS, path=path,
                        kind="parameter became required" if after else "parameter became optional")]
    if path[0] == "schema" and len(path) >= 2 and keyword not in NESTED and keyword != "properties":
        return [replace(finding, path=path) for finding in _keywords(base, "request", {keyword: delta.before},
                                                                       {keyword: delta.after}, "")]
    if path[0] == "schema" and len(path) == 1 and isinstance(delta.before, dict) and isinstance(delta.after, dict):
        return [replace(finding, path=path) for finding in _keywords(base, "request", delta.before, delta.after, "")]
    if keyword in DOC_KEYWORDS or keyword.startswith("x-"):
        return [_documented(base, keyword, delta, path)]
    return [_review(base, "/".join(path), delta, path)]


# --- request and response bodies ---------------------------------------------------------------------------

def _body(delta: Delta) -> list[DriftFinding]:
    request = delta.part == "request"
    base = DriftFinding(CLIENTS, "", delta.operation, delta.part, delta.where, "", "", content_type=delta.content_type)
    if not delta.content_type and not delta.key and delta.change != "changed":  # the whole body or response
        if request:
            return [replace(base, kind="request body removed")] if delta.change == "removed" else \
                   [replace(base, klass=SERVERS, kind="request body added")]
        if delta.change == "removed":
            return [replace(base, klass=SERVERS if not delta.where.startswith("2") else CLIENTS,
                            kind="status code no longer documented")]
        return [replace(base, klass=ADDITIVE, kind="status code added")]
    if not delta.key and delta.change != "changed":  # a media type
        what = f"{delta.content_type} body"
        if delta.change == "removed":
            return [replace(base, kind=f"{what} removed")]
        return [replace(base, klass=SERVERS if request else ADDITIVE, kind=f"{what} added")]
    path = tuple(part.replace("~1", "/").replace("~0", "~") for part in delta.key.strip("/").split("/"))
    if not delta.content_type:  # an attribute of the request body or response object itself
        keyword = path[0]
        if keyword in ("content", "headers") and delta.change in ("added", "removed"):
            what = "body" if keyword == "content" else "headers"
            if delta.change == "removed":
                return [replace(base, kind=f"{delta.part} {what} removed", path=path)]
            return [replace(base, klass=SERVERS if request else ADDITIVE, kind=f"{delta.part} {what} added", path=path)]
        if keyword in DOC_KEYWORDS or keyword == "links" or keyword.startswith("x-"):
            return [_documented(base, keyword, delta, path)]
        if path == ("required",) and request:
            after = bool(delta.after)
            return [replace(base, klass=CLIENTS if after else SERVERS, path=path,
                            kind="request body became required" if after else "request body became optional")]
        return [_review(base, "/".join(path), delta, path)]
    if path[0] in DOC_KEYWORDS:  # the media type's example(s)
        return [_documented(base, path[0], delta, path)]
    direction = "request" if request else "response"
    if path == ("",) or path == () or not path[0]:  # the media type object: its schema's keyword changes
        before = (delta.before or {}).get("schema") if isinstance(delta.before, dict) else None
        after = (delta.after or {}).get("schema") if isinstance(delta.after, dict) else None
        return [replace(f, path=("schema", *f.path)) for f in _keywords(base, direction, before or {}, after or {}, "")]
    subject = wording.subject(path)
    if len(path) >= 2 and path[-2] == "properties" and delta.change in ("added", "removed"):
        return [_property(base, direction, subject, path, delta)]
    if delta.change == "changed" and isinstance(delta.before, dict) and isinstance(delta.after, dict):
        return [replace(f, path=(*path, *f.path)) for f in _keywords(base, direction, delta.before, delta.after, subject)]
    keyword = path[-1]  # a keyword added or removed as a whole (e.g. /example)
    return [replace(f, path=path) for f in _keywords(base, direction, {keyword: delta.before} if delta.change != "added" else {},
                                                     {keyword: delta.after} if delta.change != "removed" else {},
                                                     wording.subject(path[:-1]))]


def _documented(base: DriftFinding, keyword: str, delta: Delta, path: tuple[str, ...]) -> DriftFinding:
    return replace(base, klass=DOCUMENTATION, kind=f"{keyword} {wording.verb(delta.change)}", path=path)


def _review(base: DriftFinding, what: str, delta: Delta, path: tuple[str, ...]) -> DriftFinding:
    """A difference this table does not know: counted as breaking for clients, to be looked at."""
    return replace(base, klass=CLIENTS, kind=f"{what} {wording.verb(delta.change)} (review)", path=path,
                   detail=wording.short(delta.before, delta.after))


def _property(base: DriftFinding, direction: str, subject: str, path: tuple[str, ...], delta: Delta) -> DriftFinding:
    node = delta.after if delta.change == "added" else delta.before
    node = node if isinstance(node, dict) else {}
    shape = json.dumps({k: node.get(k) for k in ("type", "format", "nullable", "items")}, sort_keys=True)
    found = replace(base, subject=subject, path=path, shape=shape)
    if direction == "request":
        if delta.change == "removed":
            return replace(found, kind="request field removed")
        required = bool(node.get("required"))
        return replace(found, klass=CLIENTS if required else SERVERS,
                       kind="new required request field" if required else "new optional request field")
    if delta.change == "removed":
        return replace(found, kind="response field removed")
    required = bool(node.get("required"))
    return replace(found, klass=SERVERS if required else ADDITIVE,
                   kind="new required response field" if required else "response field added")


def _keywords(base: DriftFinding, direction: str, before: dict[str, Any], after: dict[str, Any], subject: str) -> list[DriftFinding]:
    """The findings of a schema node whose keywords changed (``before``/``after``: the changed ones only)."""
    found: list[DriftFinding] = []

    def add(effect: str, label: str, detail: str, keyword: str) -> None:
        if effect == "same":
            return
        if effect == "doc":
            found.append(replace(base, klass=DOCUMENTATION, kind=label, subject=subject, detail=detail, path=(keyword,)))
            return
        if effect == "default":
            found.append(replace(base, klass=CLIENTS, kind=label, subject=subject, detail=detail, path=(keyword,)))
            return
        breaks = {("request", "narrowed"): CLIENTS, ("request", "widened"): SERVERS,
                  ("response", "narrowed"): SERVERS, ("response", "widened"): CLIENTS}.get((direction, effect), CLIENTS)
        found.append(replace(base, klass=breaks, kind=f"{direction} {label} {effect}", subject=subject,
                             detail=detail, path=(keyword,)))

    keys = [k for k in dict.fromkeys([*before, *after]) if not k.startswith(OURS)]
    if any(k in TYPEISH for k in keys):
        old, new = wording.types(before), wording.types(after)
        add(wording.compare_sets(old, new), "type", f"{wording.show_types(old)} -> {wording.show_types(new)}", "type")
    for keyword in keys:
        old, new = before.get(keyword), after.get(keyword)
        if keyword in TYPEISH or keyword == "required" and (isinstance(old, list) or isinstance(new, list)) \
                or keyword == "nullable" and any(k in TYPEISH for k in keys):
            continue  # type (null included): judged above; a required list: judged per property
        if keyword == "required":
            if bool(old) != bool(new):
                field = "request field" if direction == "request" else "response field"
                made = "required" if new else "optional"
                breaks = CLIENTS if (direction == "request") == bool(new) else SERVERS
                found.append(replace(base, klass=breaks, kind=f"{field} became {made}", subject=subject, path=()))
            continue
        if keyword == "properties":
            for name in dict.fromkeys([*(old or {}), *(new or {})]):
                inner_old, inner_new = (old or {}).get(name), (new or {}).get(name)
                if isinstance(inner_old, dict) and isinstance(inner_new, dict):
                    found += [replace(f, path=("properties", name, *f.path)) for f in
                              _keywords(base, direction, inner_old, inner_new, wording.join(subject, name))]
            continue
        if keyword in ("items", "not") and not old and not new:
            continue  # an empty schema is no schema: any value either way
        if keyword in NESTED and isinstance(old, dict) and isinstance(new, dict):
            found += [replace(f, path=(keyword, *f.path)) for f in
                      _keywords(base, direction, old, new, subject + NESTED[keyword])]
            continue
        if keyword in DOC_KEYWORDS or keyword.startswith("x-"):
            add("doc", f"{keyword} {wording.verb(wording.change(old, new))}", "", keyword)
        elif keyword == "enum" or keyword == "const":
            effect = wording.compare_sets(wording.values(old, keyword), wording.values(new, keyword))
            if effect == "same" and old != new:
                add("doc", "enum reordered", "", keyword)
            else:
                add(effect, keyword, wording.enum_detail(wording.values(old, keyword), wording.values(new, keyword)), keyword)
        elif keyword == "nullable":
            add("same" if bool(old) == bool(new) else "widened" if new else "narrowed", "null", "", keyword)
        elif keyword == "format":
            if (old in NUMBER_FORMATS or old is None) and (new in NUMBER_FORMATS or new is None):
                add("doc", f"number format {wording.verb(wording.change(old, new))}", wording.short(old, new), keyword)
            else:
                add("narrowed" if old is None else "widened" if new is None else "changed", "format", wording.short(old, new), keyword)
        elif keyword in LOWER or keyword in UPPER:
            add(wording.bound(keyword, old, new), keyword, wording.short(old, new), keyword)
        elif keyword in ("pattern", "multipleOf", "uniqueItems"):
            add("narrowed" if old in (None, False) else "widened" if new in (None, False) else "changed",
                keyword, wording.short(old, new), keyword)
        elif keyword == "additionalProperties":
            add(wording.additional(old, new), "additional properties", wording.short(old, new), keyword)
        elif keyword in NESTED:  # items or not appearing or going (judged with the type when that changed)
            if any(k in TYPEISH for k in keys):
                continue
            add("narrowed" if old is None else "widened" if new is None else "changed", keyword, "", keyword)
        elif keyword == "default":
            if old is not None and new is not None:
                add("default", "default changed", wording.short(old, new), keyword)
            else:
                add("doc", f"default {wording.verb(wording.change(old, new))}", wording.short(old, new), keyword)
        else:  # a keyword this table does not know: counted as breaking for clients, to be looked at
            found.append(replace(base, klass=CLIENTS, kind=f"{direction} {keyword} changed (review)", subject=subject,
                                 detail=wording.short(old, new), path=(keyword,)))
    return found


# --- pairing ----------------------------------------------------------------------------------------------

def _pair_renames(findings: list[DriftFinding]) -> list[DriftFinding]:
    """A field removed and one added beside it with the same type, alone in their object: a rename.
    A path parameter removed and one added: a renamed path parameter (the URL is the same)."""
    groups: dict[tuple[str, ...], list[DriftFinding]] = {}
    for finding in findings:
        if finding.kind in ("request field removed", "response field removed", "new optional request field",
                            "new required request field", "response field added", "new required response field"):
            parent = finding.subject.rpartition(".")[0]
            groups.setdefault((finding.operation, finding.part, finding.where, finding.content_type, parent), []).append(finding)
        elif finding.part == "parameter" and finding.where.startswith("path ") and finding.kind in (
                "parameter removed", "new required parameter"):
            groups.setdefault((finding.operation, "path-parameter"), []).append(finding)
    replaced, dropped = {}, set()
    for members in groups.values():
        removed = [f for f in members if "removed" in f.kind]
        added = [f for f in members if "removed" not in f.kind]
        if len(removed) != 1 or len(added) != 1 or removed[0].shape != added[0].shape:
            continue
        old, new = removed[0], added[0]
        if old.part == "parameter":
            renamed = replace(new, klass=DOCUMENTATION, kind="path parameter renamed",
                              detail=f"{parameter_key(old.where)[1]} -> {parameter_key(new.where)[1]}")
        else:
            field = "request field" if old.part == "request" else "response field"
            renamed = replace(old, kind=f"{field} renamed", detail=f"{old.subject} -> {new.subject}")
        replaced[id(old)] = renamed
        dropped.add(id(new))
    return _rewritten(findings, replaced, dropped)


def _pair_statuses(findings: list[DriftFinding]) -> list[DriftFinding]:
    """A success status no longer documented and another one added: the success status changed."""
    by_operation: dict[str, list[DriftFinding]] = {}
    for finding in findings:
        if finding.part == "response" and not finding.content_type and not finding.path and finding.where[:1] == "2":
            by_operation.setdefault(finding.operation, []).append(finding)
    replaced, dropped = {}, set()
    for members in by_operation.values():
        gone = [f for f in members if f.kind == "status code no longer documented"]
        came = [f for f in members if f.kind == "status code added"]
        if gone and came:
            detail = f"{', '.join(f.where for f in gone)} -> {', '.join(f.where for f in came)}"
            replaced[id(gone[0])] = replace(gone[0], kind="success status changed", detail=detail)
            dropped |= {id(f) for f in gone[1:] + came}
    return _rewritten(findings, replaced, dropped)


def _rewritten(findings: list[DriftFinding], replaced: dict[int, DriftFinding], dropped: set[int]) -> list[DriftFinding]:
    """``findings`` in their order, some replaced (by identity) and some dropped."""
    return [replaced.get(id(f), f) for f in findings if id(f) not in dropped]
