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

import yaml

from conformance.drift.classify import (
    BREAKING,
    CLASSES,
    CLIENTS,
    DOCUMENTATION,
    DriftFinding,
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
from conformance.drift.locate import Locator, OverlayWrites
from conformance.yamlfile import load_yaml
from conformance.specs import APIS, api_spec

FORMAT = 1
TOOL = "mem0-conformance specs drift"  # how a drift report names its writer
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Change:
    """A finding with where it is in both documents, and (against the effective document) whose it is."""

    finding: DriftFinding
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
        document = json.loads(text) if text.lstrip().startswith("{") else load_yaml(text)
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
    changes = [Change(DriftFinding(DOCUMENTATION if m.generalized else CLIENTS,
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


def _restated(finding: DriftFinding, older: dict[str, Any], newer: dict[str, Any], found_moves: list[Move]) -> DriftFinding:
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


def _newer_place(finding: DriftFinding) -> DriftFinding:
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
