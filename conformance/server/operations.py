"""The reference server's routes and input rules come from the effective documents.

Every operation of both effective documents becomes a route; its path, query and body are
checked against the document's own schemas before a handler runs. So the server accepts
exactly what the documents allow and rejects the rest in the API's own error shape; the
handlers only add the rules no schema can express.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from conformance.server.errors import ApiError, invalid_input
from conformance.specs import APIS, HTTP_METHODS, effective, resolve, validator

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# JSON Schema keywords that an operation's handler checks itself, by operationId (filled by
# ``registry.handles(..., checks=...)``): the API answers its own message for them (e.g. Mem0's
# batch limit), or a planted fault changes the rule. parse_request does not report them.
HANDLER_CHECKED: dict[str, frozenset[str]] = {}


@dataclass
class Parameter:
    name: str
    location: str  # path | query | header
    required: bool
    schema: dict[str, Any]
    kind: str | None = None  # the JSON type a value is coerced to
    item_kind: str | None = None  # an array's: the JSON type each of its values is coerced to


@dataclass
class Operation:
    api: str
    operation_id: str
    method: str
    path: str
    parameters: list[Parameter] = field(default_factory=list)
    body_schema: dict[str, Any] | None = None
    body_required: bool = False
    document: dict[str, Any] = field(default_factory=dict, repr=False)
    validators: dict[int, Any] = field(default_factory=dict, repr=False, compare=False)

    def validator(self, schema: dict[str, Any]) -> Any:
        """The validator of one of this operation's schemas, made once (schemas live as long as the operation)."""
        made = self.validators.get(id(schema))
        if made is None:
            made = self.validators[id(schema)] = validator(self.document, schema)
        return made


def load_operations() -> list[Operation]:
    """Every operation of both effective documents."""
    found = []
    for api in APIS:
        document = effective(api)
        for path, item in document["paths"].items():
            found += [build_operation(api, document, path, method) for method in item if method in HTTP_METHODS]
    return found


def build_operation(api: str, document: dict[str, Any], path: str, method: str) -> Operation:
    """One operation of ``document``: its parameters and body schema (parts of ``document``)."""
    item = document["paths"][path]
    raw = item[method]
    shared = [resolve(document, p) for p in item.get("parameters", [])]
    own = [resolve(document, p) for p in raw.get("parameters", [])]
    merged = {(p["name"], p["in"]): p for p in shared + own}
    operation = Operation(api, raw["operationId"], method.upper(), path, document=document)
    operation.parameters = [_parameter(document, p) for p in merged.values()]
    body = resolve(document, raw.get("requestBody"))
    if body:
        media = body.get("content", {}).get("application/json")
        operation.body_schema = media.get("schema", {}) if media is not None else None
        operation.body_required = body.get("required", False)
    return operation


def _parameter(document: dict[str, Any], raw: dict[str, Any]) -> Parameter:
    """One parameter, with the types its values are coerced to worked out once (every request asks)."""
    schema = raw.get("schema", {})
    kind = _scalar_type(document, schema)
    item_kind = _scalar_type(document, resolve(document, schema).get("items", {})) if kind == "array" else None
    return Parameter(raw["name"], raw["in"], raw.get("required", False), schema, kind, item_kind)


def _scalar_type(document: dict[str, Any], schema: dict[str, Any]) -> str | None:
    schema = resolve(document, schema)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None:
        for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
            kind = _scalar_type(document, branch)
            if kind and kind != "null":
                return kind
    return kind


def _as_kind(kind: str | None, raw: str) -> Any:
    """A parameter's text as a value of JSON type ``kind`` (a string unless integer, number or boolean)."""
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d+", raw.strip()):
            raise ValueError("must be an integer")
        return int(raw)
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
    if kind == "boolean":
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise ValueError("must be a boolean (true or false)")
    return raw


@dataclass
class ParsedRequest:
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any


class InvalidText(ValueError):
    """A string holds a lone surrogate, which is not Unicode text."""

    def __init__(self, loc: list[Any]) -> None:
        super().__init__("invalid Unicode (a lone surrogate)")
        self.loc = loc


def check_text(value: Any, loc: list[Any]) -> None:
    """Reject strings that are not valid Unicode (lone surrogates) anywhere in a value.

    Iterative, so that deeply nested input cannot exhaust the interpreter's stack. A string alone (most parameters)
    is searched as it is, without the walk.
    """
    if type(value) is str:
        if _LONE_SURROGATE.search(value):
            raise InvalidText(loc)
        return
    stack: list[tuple[Any, list[Any]]] = [(value, loc)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if _LONE_SURROGATE.search(node):
                raise InvalidText(where)
        elif isinstance(node, dict):
            for key, item in node.items():
                stack.append((key, where + [key]))
                stack.append((item, where + [key]))
        elif isinstance(node, list):
            stack.extend((item, where + [index]) for index, item in enumerate(node))


def parse_request(
    operation: Operation, path_params: dict[str, str], query: list[tuple[str, str]], raw_body: bytes
) -> ParsedRequest:
    """Coerce and validate a request against its operation; raises :class:`ApiError`."""
    problems: list[tuple[list[Any], str, str]] = []
    parsed = ParsedRequest({}, {}, None)
    for parameter in operation.parameters:
        if parameter.location == "path":
            values = [path_params[parameter.name]] if parameter.name in path_params else []
            target = parsed.path
        elif parameter.location == "query":
            values = [v for k, v in query if k == parameter.name] if query else []
            target = parsed.query
        else:
            continue
        if not values:
            if parameter.required:
                problems.append(([parameter.location, parameter.name], "Field required", "missing"))
            continue
        loc = [parameter.location, parameter.name]
        try:
            if parameter.kind == "array":
                value: Any = [_as_kind(parameter.item_kind, v) for v in values]
            else:
                value = _as_kind(parameter.kind, values[-1])
            check_text(value, loc)
        except ValueError as exc:
            problems.append((loc, str(exc), "type_error"))
            continue
        error = next(iter(operation.validator(parameter.schema).iter_errors(value)), None)
        if error is not None:
            problems.append((loc, error.message, _kind(error)))
            continue
        target[parameter.name] = value
    if operation.body_schema is not None:
        parsed.body = _parse_body(operation, raw_body, problems)
    if problems:
        raise invalid_input(operation.api, problems)
    return parsed


def _parse_body(operation: Operation, raw_body: bytes, problems: list[tuple[list[Any], str, str]]) -> Any:
    if not raw_body:  # absent; white space alone is JSON without a value, refused below as the platforms refuse it
        if operation.body_required:
            problems.append((["body"], "Field required", "missing"))
        return None
    body = _fast_json(raw_body)
    if body is _UNREAD:
        try:
            body = json.loads(raw_body, parse_constant=_not_json)
        except (ValueError, RecursionError) as exc:  # a JSONDecodeError, a UnicodeDecodeError or _not_json's
            problems.append((["body"], f"JSON decode error: {exc}", "json_invalid"))
            return None
        try:
            check_text(body, ["body"])
        except InvalidText as exc:
            problems.append((exc.loc, str(exc), "string_unicode"))
            return None
    handler_checked = HANDLER_CHECKED.get(operation.operation_id, frozenset())
    for error in operation.validator(operation.body_schema).iter_errors(body):
        if error.validator in handler_checked:
            continue
        problems.append((["body", *error.absolute_path], error.message, _kind(error)))
        break
    return body


_UNREAD = object()
_LONG_NUMBER = re.compile(rb"\d{19}")
_MOST_BRACKETS = 512  # nesting no deeper: well within what the standard path reads (Python's recursion limit)


def _fast_json(raw_body: bytes) -> Any:
    """The body read by orjson (a tenth of the standard library's time with :func:`check_text`), or ``_UNREAD``
    when orjson might not tell the same story, for the standard path to read it and word its refusal.

    What orjson reads, the standard path reads the same and lets through: orjson refuses lone surrogates (escaped
    or encoded), ``NaN`` and ``Infinity``, a byte order mark and another encoding than UTF-8, which the standard
    path then refuses or reads itself. Two differences are ruled out before: orjson reads an integer beyond 64 bits
    as a float (a body with a run of 19 digits goes the standard way), and it reads 1,024 levels of nesting where
    Python's recursion limit stops the standard path a little before 1,000 (a body with more than 512 brackets
    goes the standard way, whose refusal of deep nesting stays as it was).
    """
    digits = len(raw_body) - len(raw_body.translate(None, b"0123456789"))  # a tenth of the search's time
    if digits >= 19 and _LONG_NUMBER.search(raw_body) or raw_body.count(b"[") + raw_body.count(b"{") > _MOST_BRACKETS:
        return _UNREAD
    try:
        return orjson.loads(raw_body)
    except orjson.JSONDecodeError:
        return _UNREAD


def _not_json(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity`` are not JSON (RFC 8259), though Python's parser reads them: refused
    like any other malformed body, never stored (no answer could show them)."""
    raise ValueError(f"{name} is not a JSON value")


def _kind(error: Any) -> str:
    """The problem type of a schema error: ``uuid_parsing`` for a malformed UUID (Mem0 answers
    "<name> should be a valid UUID" for those), else ``value_error``."""
    if error.validator == "format" and error.validator_value == "uuid":
        return "uuid_parsing"
    return "value_error"


def route_sort_key(path: str) -> list[tuple[int, str]]:
    """Literal segments before parameters, so /memories/search/ wins over /memories/{id}/."""
    return [(1, "") if segment.startswith("{") else (0, segment) for segment in path.strip("/").split("/")]


__all__ = ["ApiError", "Operation", "ParsedRequest", "build_operation", "load_operations", "parse_request", "route_sort_key"]
