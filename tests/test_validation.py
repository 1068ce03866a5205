"""The two-speed validator (conformance.validation) against the reference validator it stands in for.

Every schema the reference server and the SDK guard validate with (request bodies, parameters and
answer bodies of both effective documents) becomes the body of an operation of its own, so that
schemathesis generates values for it: positive ones (valid) and negative ones (each of its
constraints broken). On each value the two must give the same errors, message for message; the
native side must never accept what the reference refuses.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from conformance.specs import APIS, effective
from conformance.validation import CANONICAL, SchemaValidator, reference_validator


def _schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every validated schema of ``document`` by where it is: ``POST /v1/memories/ request``, ``... 200``, ``... ?page``."""
    found: dict[str, dict[str, Any]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            label = f"{method.upper()} {path}"
            body = ((operation.get("requestBody") or {}).get("content") or {}).get("application/json", {})
            if "schema" in body:
                found[f"{label} request"] = body["schema"]
            for parameter in operation.get("parameters", []):
                if "schema" in parameter:
                    found[f"{label} {parameter.get('in')} {parameter.get('name')}"] = parameter["schema"]
            for status, answer in operation["responses"].items():
                schema = ((answer or {}).get("content") or {}).get("application/json", {}).get("schema")
                if schema is not None:
                    found[f"{label} {status}"] = schema
    return found


@cache
def _document(api: str) -> dict[str, Any]:
    return effective(api)


@cache
def _generated(api: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A document whose operations have each validated schema as their body (schemathesis generates bodies of
    any schema), and the operations by place."""
    document = _document(api)
    places = _schemas(document)
    synthetic = copy.deepcopy({key: value for key, value in document.items() if key != "paths"})
    synthetic.pop("security", None)
    synthetic["paths"] = {f"/schema/{n}": {"post": {
        "operationId": f"schema{n}", "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {"200": {"description": "checked"}}}} for n, schema in enumerate(places.values())}
    loaded = schemathesis.openapi.from_dict(synthetic)
    operations = {place: loaded["/schema/" + str(n)]["POST"] for n, place in enumerate(places)}
    return places, operations


CASES = [(api, place) for api in APIS for place in _schemas(effective(api))]


@pytest.mark.parametrize(("api", "place"), CASES, ids=[f"{api}: {place}" for api, place in CASES])
@settings(suppress_health_check=list(HealthCheck), deadline=None,
          max_examples=max(4, settings.default.max_examples // 5))  # 228 schemas: a fifth of the profile's budget each
@given(data=st.data())
def test_the_native_validator_gives_the_reference_s_verdict_and_errors(api, place, data):
    """On schemathesis's positive and negative values of each schema, the same errors, message for message."""
    fast, reference = _validators(api, place)
    mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]), label="mode")
    value = data.draw(_values(api, place, mode), label="case").body
    expected = [(list(error.absolute_path), error.message) for error in reference.iter_errors(value)]
    assert [(list(error.absolute_path), error.message) for error in fast.iter_errors(value)] == expected
    assert fast.is_valid(value) is (not expected)


@cache
def _values(api: str, place: str, mode: GenerationMode) -> st.SearchStrategy[Any]:
    return _generated(api)[1][place].as_strategy(generation_mode=mode)


@cache
def _validators(api: str, place: str) -> tuple[SchemaValidator, Any]:
    schema, document = _generated(api)[0][place], _document(api)
    return SchemaValidator(document, schema), reference_validator(document, schema)


def test_every_schema_has_a_native_validator():
    """No schema of either document falls back to the reference for every value (the native side compiles them)."""
    for api in APIS:
        for place, schema in _schemas(_document(api)).items():
            assert SchemaValidator(_document(api), schema).native is not None, f"{api}: {place}"


@pytest.mark.parametrize(("schema", "value", "valid"), [
    ({"type": "integer"}, 1.0, False),  # OpenAPI 3.0 reads draft 4: 1.0 is no integer
    ({"type": "string", "nullable": True}, None, True),
    ({"type": "string", "nullable": True, "enum": ["a"]}, None, False),  # the reference's reading: the enum still applies
    ({"$ref": "#/components/schemas/Short", "maxLength": 2}, "abc", False),  # a $ref's siblings still apply
    ({"type": "string", "format": "uuid"}, "0f8fad5b-d9cb-469f-a165-70867728950e", True),
    ({"type": "string", "format": "uuid"}, "0f8fad5bd9cb469fa16570867728950e", False),  # the reference's checker
    ({"type": "integer"}, 2**70, True),  # beyond 64 bits: the reference decides
])
def test_the_readings_where_the_drafts_differ(schema, value, valid):
    """The readings the native side is built to share with the reference (see conformance.validation)."""
    document = {"openapi": "3.0.1", "paths": {}, "components": {"schemas": {"Short": {"type": "string"}}}}
    fast, reference = SchemaValidator(document, schema), reference_validator(document, schema)
    assert reference.is_valid(value) is valid
    assert fast.is_valid(value) is valid
    assert [error.message for error in fast.iter_errors(value)] == [error.message for error in reference.iter_errors(value)]


@pytest.mark.parametrize("name", sorted(CANONICAL))
@given(data=st.data())
def test_a_format_s_shortcut_accepts_only_what_the_reference_accepts(name, data):
    """The shortcut the native side's format check takes before the reference's (a canonical UUID) accepts no text
    the reference's checker refuses, on text of its own shape (its letters in either case) and near it."""
    from openapi_schema_validator import oas30_format_checker, oas31_format_checker

    canonical = data.draw(st.from_regex(CANONICAL[name], fullmatch=True))
    near = data.draw(st.one_of(st.just(canonical), st.text(), st.builds(
        lambda at, char: canonical[:at] + char + canonical[at + 1:], st.integers(0, len(canonical)), st.characters())))
    if CANONICAL[name].fullmatch(near):
        assert oas30_format_checker.conforms(near, name) and oas31_format_checker.conforms(near, name), near
    assert oas30_format_checker.conforms(canonical, name), canonical


def _plain_string_schemas() -> list[tuple[str, str, dict]]:
    from conformance.server.operations import load_operations

    found = {}
    for operation in load_operations():
        for parameter in operation.parameters:
            if isinstance(parameter.schema, dict) and parameter.schema.get("type") == "string":
                found[repr(parameter.schema)] = (operation.api, parameter.name, parameter.schema)
    return sorted(found.values(), key=repr)


@pytest.mark.parametrize(("api", "name", "schema"), _plain_string_schemas(), ids=lambda x: x if isinstance(x, str) else "")
@given(data=st.data())
def test_a_plain_string_schema_is_decided_in_python_as_the_reference_decides(api, name, schema, data):
    """Every string parameter's schema of both documents that asks only a type and a format is decided in Python,
    with the reference's verdict, on arbitrary text and on text of the format's canonical shape; the others (an
    enum, say) are left to the native side."""
    validator = SchemaValidator(_document(api), schema)
    plain = not set(schema) - {"type", "format", "title", "description"}
    assert (validator.string_check is not None) is plain, schema
    values = [data.draw(st.text()), data.draw(st.from_regex(CANONICAL.get(schema.get("format"), r".*"), fullmatch=True))]
    for value in values:
        assert validator.is_valid(value) is validator.reference.is_valid(value), (schema, value)
        assert [e.message for e in validator.iter_errors(value)] == [e.message for e in validator.reference.iter_errors(value)]
