"""Pristine vendored documents + overlays -> effective OpenAPI documents.

Each API has a folder under ``specs/`` with the vendored documents, their provenance in
``SOURCE.toml`` and its ``overlays/``. Composition is deterministic:

1. the vendored documents are merged in ``SOURCE.toml`` order (paths and components); a later
   document may redefine an operation only when it lists it in ``overrides``, and shared
   component definitions must be identical;
2. the overlays are applied in file-name order (see :mod:`conformance.overlay`).

The result of step 1 is the *pristine* document (what ``specs lint`` grades), the result of
step 2 the *effective* document (what the suite tests targets against).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.overlay import Overlay, apply_overlays, load_overlays
from conformance.yamlfile import load_yaml

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiSchema

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"
APIS = ("mem0", "klavis")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class SpecError(Exception):
    """The vendored documents cannot be composed into one document."""


@dataclass(frozen=True)
class VendoredDocument:
    """One vendored upstream document and its provenance record."""

    path: Path
    origin: str
    sha256: str
    seed: str
    seed_sha256: str
    overrides: tuple[str, ...] = ()

    @property
    def actual_sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def load(self) -> dict[str, Any]:
        text = self.path.read_text(encoding="utf-8")
        if self.path.suffix == ".json":
            return json.loads(text)
        return load_yaml(text)


@dataclass(frozen=True)
class ApiSpec:
    """The vendored documents and overlays of one API."""

    name: str
    title: str
    directory: Path
    documents: tuple[VendoredDocument, ...]

    @property
    def overlay_dir(self) -> Path:
        return self.directory / "overlays"

    def overlays(self) -> list[Overlay]:
        return load_overlays(self.overlay_dir)

    def pristine(self) -> dict[str, Any]:
        """The vendored documents merged, with no overlay applied (a fresh copy)."""
        return copy.deepcopy(_pristine(self))

    def effective(self) -> dict[str, Any]:
        """The pristine document with every overlay applied (a fresh copy)."""
        return copy.deepcopy(_effective(self))


def _check_path() -> None:
    if not SPECS_DIR.is_dir():
        raise SpecError(
            f"the specs folder is missing next to the conformance package ({SPECS_DIR.name}/); "
            "install the project from a checkout (pip install -e .)"
        )


@functools.cache
def api_spec(name: str) -> ApiSpec:
    """The :class:`ApiSpec` of ``mem0`` or ``klavis``."""
    if name not in APIS:
        raise SpecError(f"unknown API {name!r}; expected one of {', '.join(APIS)}")
    _check_path()
    directory = SPECS_DIR / name
    with (directory / "SOURCE.toml").open("rb") as fh:
        source = tomllib.load(fh)
    documents = tuple(
        VendoredDocument(
            path=directory / entry["file"],
            origin=entry["origin"],
            sha256=entry["sha256"],
            seed=entry["seed"],
            seed_sha256=entry["seed_sha256"],
            overrides=tuple(entry.get("overrides", ())),
        )
        for entry in source["document"]
    )
    return ApiSpec(name=name, title=source["title"], directory=directory, documents=documents)


def compose(documents: list[dict[str, Any]], overrides: list[tuple[str, ...]]) -> dict[str, Any]:
    """Merge OpenAPI documents; the first gives ``openapi``, ``info``, ``servers`` and ``security``."""
    result = copy.deepcopy(documents[0])
    for document, allowed in zip(documents[1:], overrides[1:], strict=True):
        if document["openapi"] != result["openapi"]:
            raise SpecError(f"cannot merge OpenAPI {document['openapi']} into {result['openapi']}")
        for path, item in document.get("paths", {}).items():
            target = result.setdefault("paths", {}).setdefault(path, {})
            for method, operation in item.items():
                if method in target and f"{method} {path}" not in allowed and target[method] != operation:
                    raise SpecError(f"{method.upper()} {path} is defined twice and not listed in overrides")
                target[method] = copy.deepcopy(operation)
        for section, entries in document.get("components", {}).items():
            target = result.setdefault("components", {}).setdefault(section, {})
            for name, definition in entries.items():
                if name in target and target[name] != definition:
                    raise SpecError(f"components/{section}/{name} differs between the merged documents")
                target[name] = copy.deepcopy(definition)
    return result


@functools.cache
def _pristine(spec: ApiSpec) -> dict[str, Any]:
    return compose([d.load() for d in spec.documents], [d.overrides for d in spec.documents])


@functools.cache
def _effective(spec: ApiSpec) -> dict[str, Any]:
    return apply_overlays(_pristine(spec), spec.overlays())


def effective(name: str) -> dict[str, Any]:
    """The effective document of one API (a fresh copy)."""
    return api_spec(name).effective()


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """``(METHOD, path)`` of every operation of a document, in document order."""
    return [
        (method.upper(), path)
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in HTTP_METHODS
    ]


def schemathesis_schema(name: str, base_url: str | None = None) -> OpenApiSchema:
    """A schemathesis schema for the effective document of one API, bound to ``base_url``."""
    import schemathesis

    schema = schemathesis.openapi.from_dict(effective(name))
    if base_url is not None:
        schema.config.update(base_url=base_url)
    return schema


def export(directory: Path) -> list[Path]:
    """Write ``<api>.openapi.json`` for every API into ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in APIS:
        target = directory / f"{name}.openapi.json"
        target.write_text(json.dumps(effective(name), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
    return written


@dataclass(frozen=True)
class Operation:
    """One operation of an effective document: where a request lands, and where the contract is."""

    api: str
    method: str
    path: str
    operation_id: str
    tag: str  # the first tag: the resource the operation belongs to

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def pointer(self) -> str:
        """A JSON pointer into the effective document (``mem0.openapi.json#/paths/~1v1~1batch~1/put``)."""
        escaped = self.path.replace("~", "~0").replace("/", "~1")
        return f"{self.api}.openapi.json#/paths/{escaped}/{self.method.lower()}"


@functools.cache
def operation_index(name: str) -> tuple[tuple[Any, Operation], ...]:
    """Every operation of an effective document with a regex of its path template; literal paths first."""
    import re

    found = []
    for path, item in _effective(api_spec(name))["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
            tags = operation.get("tags") or [path.strip("/").split("/")[0]]
            found.append((pattern, Operation(name, method.upper(), path, operation.get("operationId", ""), tags[0])))
    found.sort(key=lambda entry: entry[1].path.count("{"))  # /v1/memories/search/ before /v1/memories/{id}/
    return tuple(found)


def find_operation(method: str, path: str, apis: tuple[str, ...] = APIS) -> Operation | None:
    """The operation a request ``method path`` (a concrete URL path) is sent to, in one of ``apis``."""
    for name in apis:
        for pattern, operation in operation_index(name):
            if operation.method == method.upper() and pattern.match(path):
                return operation
    return None


def operation_by_label(name: str, label: str) -> Operation:
    """The operation ``METHOD /path/template`` of one API."""
    for _, operation in operation_index(name):
        if operation.label == label:
            return operation
    raise SpecError(f"the effective {name} document has no operation {label}")


def spec_digests() -> dict[str, str]:
    """sha256 of each vendored document and of each effective document, for reports."""
    digests = {}
    for name in APIS:
        spec = api_spec(name)
        for document in spec.documents:
            digests[f"{name}/{document.path.name}"] = document.actual_sha256
        effective_text = json.dumps(_effective(spec), sort_keys=True, ensure_ascii=False).encode("utf-8")
        digests[f"{name}/effective"] = hashlib.sha256(effective_text).hexdigest()
    return digests


def at_pointer(document: Any, pointer: str) -> Any:
    """The node at a JSON pointer (``/paths/~1v1~1batch~1/put``, ``.../anyOf/0``) of a document."""
    node = document
    for part in pointer.lstrip("/").split("/") if pointer.strip("/") else []:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def resolve(document: dict[str, Any], node: Any) -> Any:
    """``node`` with its local ``$ref`` (``#/...``) followed, as many times as it takes."""
    while isinstance(node, dict) and "$ref" in node:
        parts = node["$ref"].lstrip("#/").split("/")
        node = document
        for part in parts:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A validator of ``schema`` (a part of ``document``, OpenAPI 3.0 or 3.1), its references resolved in
    ``document``: native speed for valid values, the reference validator's errors (:mod:`conformance.validation`)."""
    from conformance.validation import SchemaValidator

    return SchemaValidator(document, schema)
