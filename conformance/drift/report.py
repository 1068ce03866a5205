"""``specs drift``: a newer published document against the vendored one, the effective one and the supplements.

Three views of one newer document:

- **published changes**: the vendored (pristine) document against the newer one: what the
  provider changed. A breaking change here fails the gate (exit 1).
- **the effective document**: what the suite tests against the newer one. Each difference is
  either one of the published changes, or the project's own (an overlay's correction or
  supplement, named with the overlay actions that wrote it).
- **supplements**: every operation the overlays add (``x-conformance-supplement``) against the
  newer document's operation: not published yet, or published with these differences (a defect of
  ours, or a decision the overlay action documents).

Every change carries a JSON pointer into the older document and one into the newer one (into the
component a ``$ref`` leads to, where the difference really is).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonpath
import yaml

from conformance.drift.classify import (
    BREAKING,
    CLASSES,
    CLIENTS,
    DOCUMENTATION,
    Finding,
    classify_all,
)
from conformance.drift.engine import (
    DriftError,
    Move,
    deltas,
    moves,
    operations,
    run_optic,
    template,
    with_moves,
)
from conformance.overlay import apply_action
from conformance.specs import APIS, ApiSpec, api_spec

FORMAT = 1
TOOL = "mem0-conformance specs drift"  # how a drift report names its writer
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Change:
    """A finding with where it is in both documents, and (against the effective document) whose it is."""

    finding: Finding
    old: str | None  # JSON pointer into the older document (fragment form: "#/paths/...")
    new: str | None  # JSON pointer into the newer document
    published: bool = True  # against the effective document: also a change between the vendored and the newer one
    overlays: tuple[str, ...] = ()  # the overlay actions that wrote the older side ("0004-supplements.overlay.yaml#3")
    older_operation: str = ""  # the operation as the older document writes it, when that differs

    @property
    def klass(self) -> str:
        return self.finding.klass

    def to_json(self) -> dict[str, Any]:
        f = self.finding
        data = {"class": f.klass, "kind": f.kind, "operation": f.operation, "where": f.place, "subject": f.subject,
                "detail": f.detail, "older": self.old, "newer": self.new, "text": f.line()}
        if self.older_operation:
            data["older_operation"] = self.older_operation
        if not self.published:
            data["ours"] = list(self.overlays)
        return data


@dataclass
class Comparison:
    """One older document against the newer one."""

    older: str  # "vendored" | "effective"
    changes: list[Change]
    out_of_scope: list[str] = field(default_factory=list)  # operations the newer document adds beyond the API's scope
    moves: list[Move] = field(default_factory=list)

    def of(self, klass: str) -> list[Change]:
        return [change for change in self.changes if change.klass == klass]

    def counts(self) -> dict[str, int]:
        return {klass: len(self.of(klass)) for klass in CLASSES}

    def to_json(self) -> dict[str, Any]:
        return {"older": self.older, "counts": self.counts(), "changes": [c.to_json() for c in self.changes],
                "out_of_scope": self.out_of_scope}


@dataclass
class Supplement:
    """An operation an overlay adds, against the newer document."""

    operation: str
    published: bool
    changes: list[Change]

    def to_json(self) -> dict[str, Any]:
        return {"operation": self.operation, "published": self.published, "changes": [c.to_json() for c in self.changes]}


@dataclass
class DriftReport:
    api: str
    newer: str  # the path or URL given
    newer_title: str
    newer_openapi: str
    newer_operations: int
    vendored: list[str]
    published: Comparison
    effective: Comparison
    supplements: list[Supplement]
    overlay_descriptions: dict[str, str] = field(default_factory=dict)  # overlay action ref -> its description
    baseline: str | None = None  # an earlier drift report whose published changes are accepted
    accepted: frozenset[tuple[str, ...]] = frozenset()

    @property
    def gating(self) -> list[Change]:
        """The published breaking changes the gate counts: all of them, or those the baseline does not have."""
        return [c for c in self.published.changes if c.klass in BREAKING and _published_key(c.to_json()) not in self.accepted]

    @property
    def breaking(self) -> bool:
        return bool(self.gating)

    def accept(self, baseline: dict[str, Any], name: str) -> None:
        """Count only the breaking changes that ``baseline`` (an earlier report of the same API) does not list."""
        if baseline.get("tool") != TOOL or baseline.get("format") != FORMAT:
            raise DriftError(f"{name} is not a specs drift report (format {FORMAT}): write one with --output")
        if baseline.get("api") != self.api:
            raise DriftError(f"{name} is a drift report of {baseline.get('api')}, not of {self.api}")
        self.baseline = name
        self.accepted = frozenset(_published_key(change) for change in baseline["published"]["changes"])

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "tool": TOOL, "api": self.api,
                "newer": {"source": self.newer, "title": self.newer_title, "openapi": self.newer_openapi,
                          "operations": self.newer_operations},
                "vendored": self.vendored, "breaking": self.breaking,
                **({"baseline": self.baseline, "new_since_baseline": [c.to_json() for c in self.gating]}
                   if self.baseline else {}),
                "published": self.published.to_json(), "effective": self.effective.to_json(),
                "supplements": [s.to_json() for s in self.supplements]}


# --- reading the newer document ---------------------------------------------------------------------------

def read_document(source: str) -> dict[str, Any]:
    """An OpenAPI 3 document from a file path or an http(s) URL (JSON or YAML)."""
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=60) as answer:  # noqa: S310 (the user's URL)
                raw = answer.read(MAX_DOCUMENT_BYTES + 1)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DriftError(f"cannot download {source} ({reason})") from None
    else:
        path = Path(source)
        if not path.is_file():
            raise DriftError(f"{source} is not a file (give a path to an OpenAPI document, or an http(s) URL)")
        raw = path.read_bytes()[: MAX_DOCUMENT_BYTES + 1]
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise DriftError(f"{source} is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB: not an API document")
    try:
        text = raw.decode("utf-8")
        document = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError):
        raise DriftError(f"{source} is neither JSON nor YAML") from None
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.") \
            or not isinstance(document.get("paths"), dict):
        raise DriftError(f"{source} is not an OpenAPI 3 document (no 'openapi: 3.x' with 'paths')")
    return document


def guess_api(document: dict[str, Any]) -> str:
    """The API whose effective document shares the most operations with ``document``."""
    mine = set(operations(document))
    shared = {name: len(mine & set(operations(api_spec(name).effective()))) for name in APIS}
    best = max(shared, key=lambda name: shared[name])
    if shared[best] == 0:
        raise DriftError("the document shares no operation with the Mem0 or the Klavis documents; pass --api to say which")
    return best


# --- comparing --------------------------------------------------------------------------------------------

def drift(source: str, api: str | None = None, *, quiet: bool = False) -> DriftReport:
    """Compare the newer document at ``source`` with ``api``'s vendored and effective documents."""
    newer = read_document(source)
    api = api or guess_api(newer)
    spec = api_spec(api)
    pristine, effective = spec.pristine(), spec.effective()
    if not set(operations(newer)) & set(operations(effective)):
        raise DriftError(f"{source} shares no operation with the {spec.title} documents: is --api {api} the right API?")
    scope = {_segment(path) for _, path in operations(effective)}  # what the project covers, supplements included
    _say(f"comparing {source} with the vendored {api} document", quiet)
    published = compare("vendored", pristine, newer, scope, quiet=quiet)
    _say(f"comparing {source} with the effective {api} document and its supplements", quiet)
    against_effective = compare("effective", effective, newer, scope, quiet=quiet)
    writes = OverlayWrites(spec)
    mark_ours(against_effective, published, writes)
    info = newer.get("info") or {}
    return DriftReport(
        api=api, newer=source, newer_title=f"{info.get('title', '?')} {info.get('version', '')}".strip(),
        newer_openapi=str(newer.get("openapi")), newer_operations=len(operations(newer)),
        vendored=[document.path.name for document in spec.documents],
        published=published, effective=against_effective, supplements=supplements(effective, newer, against_effective),
        overlay_descriptions=writes.descriptions)


def _published_key(change: dict[str, Any]) -> tuple[str, ...]:
    return (change["operation"], change["where"], change["subject"], change["kind"], change["detail"])


def _say(text: str, quiet: bool) -> None:
    if not quiet:
        print(f"mem0-conformance: {text} ...", file=sys.stderr, flush=True)


def compare(name: str, older: dict[str, Any], newer: dict[str, Any], scope: set[str] | None = None, *,
            quiet: bool = False) -> Comparison:
    """Every change from ``older`` to ``newer``, classified and located; operations the newer document
    adds under a first path segment outside ``scope`` (default: the older document's) are only listed."""
    found_moves = moves(older, newer)
    raw = run_optic(with_moves(older, found_moves), newer, quiet=quiet)
    findings = [_restated(f, older, newer, found_moves) for f in classify_all(deltas(raw))]
    scope = scope if scope is not None else {_segment(path) for _, path in operations(older)}
    out_of_scope = [f.operation for f in findings
                    if f.kind == "operation added" and _segment(template(f.operation.partition(" ")[2])) not in scope]
    findings = [f for f in findings if f.operation not in out_of_scope or f.kind != "operation added"]
    old_locator, new_locator = Locator(older, found_moves), Locator(newer)
    introduced = {(f"{m.method} {m.new_path}", f"path {name}") for m in found_moves if m.generalized
                  for name in _parameters(m.new_path) - _parameters(m.old_path)}
    findings = [f for f in findings if (f.operation, f.where) not in introduced or f.kind != "new required parameter"]
    changes = [Change(Finding(DOCUMENTATION if m.generalized else CLIENTS,
                              "path generalized" if m.generalized else "operation moved",
                              f"{m.method} {m.new_path}", "operation", "", "", f"from {m.old_path}"),
                      old_locator.operation(m.method, m.old_path), new_locator.operation(m.method, m.new_path),
                      older_operation=f"{m.method} {m.old_path}")
               for m in found_moves]
    changes += [Change(f, old_locator.pointer(f), new_locator.pointer(_newer_place(f)),
                       older_operation=old_locator.label(f.operation)) for f in findings]
    changes.sort(key=lambda c: (CLASSES.index(c.klass), c.finding.operation.partition(" ")[2], c.finding.operation))
    return Comparison(name, changes, sorted(out_of_scope), found_moves)


def _parameters(path: str) -> set[str]:
    return set(re.findall(r"\{([^}]+)\}", path))


def _restated(finding: Finding, older: dict[str, Any], newer: dict[str, Any], found_moves: list[Move]) -> Finding:
    """An operation's ``security`` written out where the document's default applied: no change."""
    if finding.kind != "security changed":
        return finding
    method, _, path = finding.operation.partition(" ")
    old_paths = {m.new_path: m.old_path for m in found_moves if m.method == method}

    def security(document: dict[str, Any], at: str) -> tuple[list[str], Any]:
        """The requirement's scheme names, and what they stand for (None: a name the document does not define)."""
        found = operations(document).get((method, template(at)))
        requirement = (found[1] if found else {}).get("security", document.get("security")) or []
        schemes = (document.get("components") or {}).get("securitySchemes") or {}
        names = [name for alternative in requirement for name in alternative]
        meaning = [sorted((json.dumps(schemes.get(name), sort_keys=True), tuple(scopes))
                          for name, scopes in alternative.items()) for alternative in requirement]
        return names, meaning

    (old_names, old_meaning), (new_names, new_meaning) = security(older, old_paths.get(path, path)), security(newer, path)
    if old_meaning == new_meaning:
        return replace(finding, klass=DOCUMENTATION, kind="security restated", detail="")
    undefined = [name for name in new_names if name not in ((newer.get("components") or {}).get("securitySchemes") or {})]
    detail = f"{', '.join(old_names) or 'none'} -> {', '.join(new_names) or 'none'}"
    return replace(finding, detail=detail + (f"; the newer document does not define {', '.join(undefined)}" if undefined else ""))


def _newer_place(finding: Finding) -> Finding:
    """Where a finding is in the newer document: a changed success status is at its new code."""
    if finding.kind == "success status changed":
        return replace(finding, where=finding.detail.rpartition(" -> ")[2].split(", ")[0])
    return finding


def _segment(path: str) -> str:
    return path.strip("/").split("/")[0]


def mark_ours(effective: Comparison, published: Comparison, writes: OverlayWrites) -> None:
    """Mark the differences from the effective document that are not published changes, with their overlay actions."""
    keys = {_key(change) for change in published.changes}
    # The same change of a shared component, met through another operation, is the same published change;
    # so is an operation the effective document keeps under the path the provider moved it from.
    at = {(c.finding.kind, c.finding.detail, c.new) for c in published.changes if c.new}
    moved_from = {c.older_operation for c in published.changes if c.finding.kind == "operation moved"}

    def is_published(change: Change) -> bool:
        f = change.finding
        return _key(change) in keys or (f.kind, f.detail, change.new) in at or \
            (f.kind == "operation removed" and f.operation in moved_from)

    effective.changes = [change if is_published(change) else
                         Change(change.finding, change.old, change.new, published=False, overlays=_whose(change, writes),
                                older_operation=change.older_operation)
                         for change in effective.changes]


def _whose(change: Change, writes: OverlayWrites) -> tuple[str, ...]:
    """The overlay actions that wrote the older side of a change (for a field made required or optional,
    also those that wrote its object's ``required`` list)."""
    found = writes.covering(change.old)
    if change.old and "became" in change.finding.kind and "/properties/" in change.old:
        found += writes.covering(change.old.rpartition("/properties/")[0] + "/required")
    return tuple(dict.fromkeys(found))


def _key(change: Change) -> tuple[str, ...]:
    f = change.finding
    return (f.operation, f.place, f.subject, f.kind, f.detail)


def supplements(effective: dict[str, Any], newer: dict[str, Any], against: Comparison) -> list[Supplement]:
    """Each operation an overlay supplements, against the same operation of the newer document."""
    published = operations(newer)
    renamed = {(move.method, move.old_path): move.new_path for move in against.moves}
    result = []
    for (method, _), (path, operation) in operations(effective).items():
        if not operation.get("x-conformance-supplement"):
            continue
        there = renamed.get((method, path), path)
        found = (method, template(there)) in published
        changes = [c for c in against.changes if c.klass != DOCUMENTATION and c.finding.kind != "operation removed"
                   and c.finding.operation.partition(" ")[0] == method
                   and template(c.finding.operation.partition(" ")[2]) == template(there)]
        label = f"{method} {path}" + (f" (published as {there})" if there != path else "")
        result.append(Supplement(label, found, changes if found else []))
    return result


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

    def pointer(self, finding: Finding) -> str | None:
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


# --- rendering --------------------------------------------------------------------------------------------

def render_json(report: DriftReport) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)


def render_text(report: DriftReport, *, every: bool = False) -> str:
    """Breaking changes by operation, with pointers; additive and documentation changes counted (listed with
    ``every``); the project's own differences by overlay action; the supplements."""
    published, effective = report.published, report.effective
    lines = [f"{report.newer_title} (OpenAPI {report.newer_openapi}, {report.newer_operations} operations) "
             f"from {report.newer}",
             f"against the vendored {api_spec(report.api).title} ({', '.join(report.vendored)})", ""]
    lines += [f"Published changes, vendored -> newer: {_counts(published)}"]
    lines += _section(published.changes, every, ("vendored", "newer"))
    if published.out_of_scope:
        lines.append(f"  beyond this API's paths ({len(published.out_of_scope)} operations added), not compared: "
                     + _first(published.out_of_scope))
    ours = [c for c in effective.changes if not c.published]
    lines += ["", f"Effective document (what the suite tests) -> newer: {len(effective.changes)} differences; "
                  f"{len(effective.changes) - len(ours)} are published changes above, {len(ours)} the project's own:"]
    lines += _by_overlay(ours, every, report.overlay_descriptions)
    lines += ["", f"Supplements (operations the overlays add) against the newer document: {len(report.supplements)}"]
    for supplement in report.supplements:
        if not supplement.published:
            lines.append(f"  {supplement.operation}: not in the newer document")
            continue
        breaking = [c for c in supplement.changes if c.klass in BREAKING]
        count = len(supplement.changes)
        lines.append(f"  {supplement.operation}: published; {count} difference{'s' if count != 1 else ''}"
                     + (f", {len(breaking)} breaking" if breaking else ""))
        for change in supplement.changes if every else breaking:
            lines.append(f"    {change.klass}: {_tail(change)}{_overlays(change)}")
    if report.baseline:
        lines += ["", f"Breaking changes the baseline ({report.baseline}) does not list: {len(report.gating)}"]
        lines += [f"  {c.klass}: {c.finding.line()}" for c in report.gating]
        lines += ["", "breaking: the provider changed its document again since the baseline (exit 1)" if report.breaking
                  else "nothing breaking beyond the baseline's changes (exit 0)"]
        return "\n".join(lines)
    lines += ["", "breaking: the newer document breaks clients or servers of the vendored one (exit 1)"
              if report.breaking else "nothing breaking between the vendored and the newer document (exit 0)"]
    return "\n".join(lines)


def _counts(comparison: Comparison) -> str:
    return ", ".join(f"{n} {klass}" for klass, n in comparison.counts().items())


def _section(changes: list[Change], every: bool, names: tuple[str, str]) -> list[str]:
    """Per class: breaking changes (every change with ``every``) by operation, each with both pointers."""
    lines = []
    for klass in CLASSES:
        chosen = [c for c in changes if c.klass == klass]
        if not chosen:
            continue
        listed = klass in BREAKING or every
        lines.append(f"  {klass} ({len(chosen)})" + ("" if listed else ": " + _kinds(chosen) + "; --all lists them"))
        if not listed:
            continue
        operation = None
        for change in chosen:
            if change.finding.operation != operation:
                operation = change.finding.operation
                lines.append(f"    {operation}")
            lines.append(f"      {_tail(change)}")
            lines.append(f"          {names[0]} {change.old or '-'}")
            lines.append(f"          {names[1]} {change.new or '-'}")
    return lines


def _by_overlay(changes: list[Change], every: bool, descriptions: dict[str, str]) -> list[str]:
    """The project's own differences, grouped by the overlay actions that wrote them."""
    groups: dict[tuple[str, ...], list[Change]] = {}
    for change in changes:
        groups.setdefault(change.overlays, []).append(change)
    lines = []
    for refs, members in sorted(groups.items(), key=lambda item: (not item[0], [_ref_order(r) for r in item[0]])):
        breaking = sum(1 for c in members if c.klass in BREAKING)
        if refs:
            said = descriptions.get(refs[-1], "")
            head = ", ".join(refs) + (f' "{said[:90]}{"…" if len(said) > 90 else ""}"' if said else "")
        else:
            head = "not traced to an overlay action"
        lines.append(f"  {head}")
        lines.append(f"      {len(members)} ({breaking} breaking): {_kinds(members)}")
        if every or not refs:
            lines += [f"    {c.klass}: {c.finding.line()}" for c in members if every or c.klass in BREAKING]
    return lines


def _ref_order(ref: str) -> tuple[str, int]:
    name, _, index = ref.partition("#")
    return name, int(index) if index.isdigit() else 0


def _kinds(changes: list[Change]) -> str:
    found: dict[str, int] = {}
    for change in changes:
        found[change.finding.kind] = found.get(change.finding.kind, 0) + 1
    ordered = sorted(found.items(), key=lambda item: -item[1])
    shown = ", ".join(f"{n} {kind}" for kind, n in ordered[:4])
    return shown + (f", {sum(n for _, n in ordered[4:])} more" if len(ordered) > 4 else "")


def _first(items: list[str], limit: int = 3) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _tail(change: Change) -> str:
    return change.finding.line().partition(": ")[2]


def _overlays(change: Change) -> str:
    if change.published:
        return "  [published change]"
    return f"  [ours: {', '.join(change.overlays)}]" if change.overlays else "  [ours]"
