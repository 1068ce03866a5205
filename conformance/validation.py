"""The documents' schemas as validators: native speed for whether a value is valid, the reference for why.

Every request the reference server receives and every exchange the SDK guard records is checked
against a schema of the effective documents. :class:`SchemaValidator` asks ``jsonschema-rs``
(Rust) first; only a value it refuses goes to the reference validator (``openapi-schema-validator``
on ``jsonschema``), which decides and words the errors, so what users read is unchanged.

That is sound only if the native validator never accepts what the reference refuses. It is built
to be at least as strict:

- OpenAPI 3.0 documents (Mem0) as JSON Schema draft 4, as the reference's ``OAS30Validator`` does
  (``1.0`` is no ``integer`` there); ``nullable`` becomes a ``null`` in ``type``; a ``$ref`` with
  siblings becomes an ``allOf`` of both (draft 4 would ignore the siblings, the reference does not);
- OpenAPI 3.1 documents (Klavis) as draft 2020-12, as ``OAS31Validator`` does;
- every ``format`` is checked by the reference's own format checker (called from Rust), so the two
  agree on formats by construction;
- a value the native side cannot take (not JSON: a tuple, a set, an integer beyond 64 bits) goes
  to the reference.

A schema that asks of a string only its type and perhaps a format (most path and query parameters)
is not sent to the native side for a string: the format's check, the same function, decides, which is
the reference's verdict by construction (:func:`string_check`; anything else, or any other value, goes
on as above).

Where the native side is stricter (a ``nullable`` enum, say) the reference still decides, only
slower. ``tests/test_validation.py`` holds the two to the same verdicts and the same messages
on schemathesis's positive and negative cases of every operation.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema_rs

_REFERENCE = "urn:document"


class SchemaValidator:
    """One schema of a document: ``is_valid`` and ``iter_errors`` with the reference validator's answers."""

    def __init__(self, document: dict[str, Any], schema: dict[str, Any]) -> None:
        self.reference = reference_validator(document, schema)
        self.string_check = string_check(schema, self.reference.format_checker)
        try:
            self.native: Any = native_validator(document, schema, self.reference.format_checker)
        except (ValueError, jsonschema_rs.ReferencingError):  # a schema the native side cannot compile
            self.native = None

    def _plainly_valid(self, instance: Any) -> bool:
        return self.string_check is not None and type(instance) is str and self.string_check(instance)

    def _natively_valid(self, instance: Any) -> bool:
        if self.native is None:
            return False
        try:
            return self.native.is_valid(instance)
        except (ValueError, TypeError, OverflowError):  # not a JSON value to the native side
            return False

    def is_valid(self, instance: Any) -> bool:
        return self._plainly_valid(instance) or self._natively_valid(instance) or self.reference.is_valid(instance)

    def iter_errors(self, instance: Any) -> Iterator[Any]:
        if self._plainly_valid(instance) or self._natively_valid(instance):
            return iter(())
        return self.reference.iter_errors(instance)


# Keywords that say nothing of whether a value is valid (annotations), in either document's dialect.
ANNOTATIONS = frozenset({"title", "description", "example", "examples", "default", "deprecated", "$comment"})


def string_check(schema: dict[str, Any], format_checker: Any) -> Callable[[str], bool] | None:
    """For a schema that asks of a string only its type and perhaps a format (most path and query parameters),
    the check that decides a string: its format's, the very one the native side calls (:func:`_checker`), or
    none. None for any other schema. Asked in Python: crossing into the native validator and back for the format
    costs a server several times the check itself between two requests (4.3 µs a path parameter, measured in the
    server under load, against 1.3 in a loop of its own)."""
    if not isinstance(schema, dict) or schema.get("type") != "string" or not set(schema) - ANNOTATIONS <= {"type", "format"}:
        return None
    name = schema.get("format")
    if name is None:
        return lambda value: True
    return _checker(format_checker, name) if isinstance(name, str) else None


def reference_validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The reference validator of ``schema`` (a part of ``document``, OpenAPI 3.0 or 3.1), references
    resolved in ``document``."""
    from openapi_schema_validator import (
        OAS30Validator,
        OAS31Validator,
        oas30_format_checker,
        oas31_format_checker,
    )
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    is_31 = document.get("openapi", "").startswith("3.1")
    cls = OAS31Validator if is_31 else OAS30Validator
    registry = Registry().with_resource(_REFERENCE, Resource(document, DRAFT202012))
    return cls(_reroot(schema), registry=registry, format_checker=oas31_format_checker if is_31 else oas30_format_checker)


def native_validator(document: dict[str, Any], schema: dict[str, Any], format_checker: Any) -> Any:
    """The jsonschema-rs validator of ``schema``, at least as strict as the reference (see the module)."""
    is_31 = document.get("openapi", "").startswith("3.1")
    registry, names = _prepared(document)
    formats = {name: _checker(format_checker, name) for name in names | _formats(schema)}
    cls = jsonschema_rs.Draft202012Validator if is_31 else jsonschema_rs.Draft4Validator
    return cls(_reroot(schema if is_31 else _as_draft4(schema)), registry=registry, formats=formats,
               validate_formats=True, ignore_unknown_formats=True)


_PREPARED: OrderedDict[int, tuple[dict[str, Any], Any, frozenset[str]]] = OrderedDict()


def _prepared(document: dict[str, Any]) -> tuple[Any, frozenset[str]]:
    """The native registry of ``document`` (converted once) and the formats its schemas name; the last few
    documents kept (a mutation run plants one changed document after another)."""
    held = _PREPARED.get(id(document))
    if held is None or held[0] is not document:
        converted = document if document.get("openapi", "").startswith("3.1") else _as_draft4(document)
        held = (document, jsonschema_rs.Registry([(_REFERENCE, converted)]), frozenset(_formats(document)))
        _PREPARED[id(document)] = held
        while len(_PREPARED) > 8:
            _PREPARED.popitem(last=False)
    _PREPARED.move_to_end(id(document))
    return held[1], held[2]


# Text the reference's check of a format certainly accepts, told at a fraction of its cost: a UUID in its canonical
# form (the reference parses it with ``uuid.UUID`` and looks for the four hyphens; an id new to the server, as each
# add makes, is asked once). Anything else is left to the reference. tests/test_validation.py holds the shortcut to
# the reference's answer.
CANONICAL = {"uuid": re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")}


@functools.cache
def _checker(format_checker: Any, name: str) -> Any:
    """The reference's check of one format, as the native side calls it: one per checker and format, which
    remembers its answers for the last 4,096 strings (a check is a pure function of the string; the reference's
    ``uuid`` costs as much as the rest of a get by id's validation, and the same ids come back request after
    request)."""
    canonical = CANONICAL.get(name)

    def check(value: str) -> bool:
        return canonical is not None and canonical.fullmatch(value) is not None or format_checker.conforms(value, name)

    return functools.lru_cache(maxsize=4096)(check)


def _formats(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("format"), str):
                found.add(item["format"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _as_draft4(node: Any) -> Any:
    """An OpenAPI 3.0 schema as draft 4 reads it the way the reference does: ``nullable`` as a ``null`` type,
    a ``$ref``'s siblings kept (as an ``allOf``)."""
    if isinstance(node, list):
        return [_as_draft4(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _as_draft4(value) for key, value in node.items()}
    if converted.pop("nullable", None) is True and isinstance(converted.get("type"), str):
        converted["type"] = [converted["type"], "null"]
    if "$ref" in converted and len(converted) > 1:
        reference = {"$ref": converted.pop("$ref")}
        converted = {"allOf": [reference, converted]}
    return converted


def _reroot(node: Any) -> Any:
    """Point local ``#/...`` references at the registered document."""
    if isinstance(node, dict):
        return {k: (_REFERENCE + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _reroot(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_reroot(v) for v in node]
    return node
