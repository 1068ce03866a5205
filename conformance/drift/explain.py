"""Which failing checks of a run a newer published document explains (``run --drift FILE``).

A target that implements a newer document than the one the suite tests fails the suite's checks
where the two disagree. Given the JSON of ``specs drift`` (or the newer document itself), each
failure is matched with the breaking differences between the effective document and the newer
one: the same operation (as the suite's document writes it), and the field the difference is
about named in the failure (or, for a status, an operation removed or moved, no field at all).
A match does not make the failure pass: it says why it fails, and whether the provider changed
the contract (a published change) or the project's overlays differ from what the provider now
publishes (a supplement or correction of ours, with the overlay actions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.drift.classify import BREAKING
from conformance.drift.engine import DriftError, template
from conformance.drift.report import FORMAT, TOOL, drift

MARK = "explained by the newer published document"  # the failure block's line; Allure's category matches it
_WITHOUT_FIELD = ("operation removed", "operation moved", "request body became required")
_MAY_BE_MISSING = ("response field removed", "response field renamed", "response field became optional")


@dataclass(frozen=True)
class Explanation:
    api: str
    change: dict[str, Any]

    @property
    def published(self) -> bool:
        return "ours" not in self.change

    def line(self) -> str:
        whose = "a published change" if self.published else \
            "the overlays differ" + (f" ({', '.join(self.change['ours'])})" if self.change["ours"] else "")
        return f"{self.change['text']} [{whose}; newer {self.change.get('newer') or '-'}]"


def load(paths: Iterable[Path], *, quiet: bool = False) -> list[dict[str, Any]]:
    """Drift reports from ``specs drift --format json`` files, or computed from newer OpenAPI documents."""
    reports = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            raise DriftError(f"cannot read {path}") from None
        except json.JSONDecodeError:
            data = None  # maybe a YAML OpenAPI document
        if isinstance(data, dict) and data.get("tool") == TOOL:
            if data.get("format") != FORMAT:
                raise DriftError(f"{path} was written by another version of specs drift (format {data.get('format')})")
            reports.append(data)
        else:
            reports.append(drift(str(path), quiet=quiet).to_json())
    return reports


def explain(reports: Sequence[dict[str, Any]], operation: str | None, *, title: str, documented: str = "",
            received: Any = None, request: tuple[str, str] | None = None) -> list[Explanation]:
    """The breaking differences (effective -> newer) that explain a failure on ``operation``
    (``METHOD /path`` as the effective document writes it, else found from ``request``).

    A difference about a field explains the failure when the title or a validator's message names
    the field, or, for a field the newer document may leave out, when the expectation names it and
    the answer does not have it. A status explains it when the title or a message names the code.
    """
    method, path = _operation(operation, request)
    if method is None:
        return []
    said = "\n".join([title, *_messages(received)])
    found: dict[str, Explanation] = {}
    for report in reports:
        for change in report["effective"]["changes"]:
            if change["class"] in BREAKING and _same_operation(change, method, path) \
                    and _about(change, said, documented, received):
                found.setdefault(change["text"], Explanation(report["api"], change))
    return list(found.values())


def _messages(received: Any) -> list[str]:
    """What a validator said (schemathesis's ``[title] message`` lines); never an answer body."""
    return re.findall(r"^\[[^\]\n]+\] ([^\n]+)", received, re.M) if isinstance(received, str) else []


def _operation(operation: str | None, request: tuple[str, str] | None) -> tuple[str | None, str]:
    if operation:
        method, _, path = operation.partition(" ")
        return method.upper(), path.split("?")[0]
    if request:
        from urllib.parse import urlsplit

        from conformance.specs import find_operation

        found = find_operation(request[0], urlsplit(request[1]).path)
        if found is not None:
            return found.method, found.path
    return None, ""


def _same_operation(change: dict[str, Any], method: str, path: str) -> bool:
    for label in (change.get("older_operation"), change["operation"]):
        if label:
            own_method, _, own_path = label.partition(" ")
            if own_method == method and template(own_path) == template(path):
                return True
    return False


def _about(change: dict[str, Any], said: str, documented: str, received: Any) -> bool:
    """Whether the failure is about what the change changed."""
    kind, subject = change["kind"], change["subject"]
    if not subject and (change["where"].startswith("response ") or "status" in kind):
        codes = re.findall(r"\d{3}", change["where"] + " " + change["detail"])
        return any(re.search(rf"\b{code}\b", said) for code in codes)
    if not subject:
        return kind in _WITHOUT_FIELD
    name = re.split(r"[.\[\]<>{}]+", subject.strip("[]{}<>."))[-1] or subject
    if _names(said, name):
        return True
    return kind in _MAY_BE_MISSING and _names(documented, name) and not _has_key(received, name)


def _names(text: str, name: str) -> bool:
    """Whether ``text`` names the field: quoted anywhere, or bare when it cannot be an ordinary word (``user_id``)."""
    if re.search(rf"[\"'`]{re.escape(name)}[\"'`]", text):
        return True
    identifier = "_" in name or any(c.isdigit() for c in name)
    return identifier and bool(re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text))


def _has_key(value: Any, name: str) -> bool:
    """Whether ``name`` is a key anywhere in an answer (a dict or list, or their text)."""
    if isinstance(value, dict):
        return name in value or any(_has_key(v, name) for v in value.values())
    if isinstance(value, list):
        return any(_has_key(v, name) for v in value)
    if isinstance(value, str):
        return bool(re.search(rf"[\"']{re.escape(name)}[\"']\s*:", value))
    return False
