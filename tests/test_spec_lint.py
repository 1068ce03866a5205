"""``specs lint`` finds every defect FACTS.md lists, and the overlays settle each one."""

from __future__ import annotations

import pytest

from conformance.lint import Document, lint
from conformance.lint import generic as _generic  # noqa: F401  (registers the checks)
from conformance.lint.report import EXCLUDED, FIXED, lint_api
from conformance.specs import api_spec

# The known defects of the seed documents (FACTS.md, "Known defects in the seed specs"):
# (check, where the finding points (a substring of its JSON Pointer), how many findings).
MEM0_DEFECTS = [
    ("duplicate-operation-id", "~1v1~1memories~1{memory_id}~1/get/operationId", 4),  # memories_read, memories_delete
    ("required-without-property", "/schema/items/required", 2),  # total_memories and type
    ("memory-text-named-name", "/items/properties/name", 2),  # list items name the text `name`
    ("body-on-204", "/responses/204", 3),
    ("messages-not-required", "/components/schemas/MemoryInput", 1),
    ("add-response-lacks-queued", "~1v1~1memories~1/post/responses/200", 1),
    ("batch-delete-body", "~1v1~1batch~1/delete/requestBody", 1),
    ("batch-update-requires-text", "~1v1~1batch~1/put/requestBody", 1),
    ("custom-categories-not-list", "MemoryInput/properties/custom_categories", 1),
    ("array-without-items", "/properties/in", 2),
    ("expiration-date-not-date", "/properties/expiration_date", 5),
    ("nullable-enum-without-null", "~1v1~1feedback~1/post/requestBody", 2),
    ("auth-without-401", "/responses", 47),  # 47 of 48 operations
    ("server-url-trailing-slash", "/servers/0/url", 1),
    ("webhook-event-names", "/event_types/items/enum", 2),
]
KLAVIS_DEFECTS = [
    ("auth-without-401", "/responses", 2),
    ("resource-without-404", "/responses", 2),
    ("records-created-undocumented", "/components/schemas/InitializeSandboxResponse", 1),
    ("example-undeclared-property", "/version", 5),
    ("duplicate-schema-title", "/title", 2),
    ("non-nullable-booleans", "/components/schemas/Mem0Memory/properties/", 3),
    ("multiple-servers", "/servers", 1),
]
CASES = [("mem0", *d) for d in MEM0_DEFECTS] + [("klavis", *d) for d in KLAVIS_DEFECTS]


@pytest.mark.parametrize(("api", "check", "where", "count"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_lint_finds_each_known_defect_in_the_pristine_document(api, check, where, count):
    """Each defect FACTS.md lists is found, where it is, as often as it occurs."""
    findings = lint(api_spec(api).pristine(), api, only=[check])
    assert len(findings) == count, [f.pointer for f in findings]
    assert any(where in f.pointer for f in findings), [f.pointer for f in findings]


@pytest.mark.parametrize("api", ["mem0", "klavis"])
def test_every_pristine_defect_is_fixed_or_excluded_in_the_effective_document(api):
    """No defect is open in the effective document: each is fixed, or excluded with a reason."""
    result = lint_api(api)
    assert result.pristine, "the pristine document should have defects to settle"
    assert not result.open, [(getattr(o, "finding", o)) for o in result.open]
    assert {s.status for s in result.pristine} <= {FIXED, EXCLUDED}
    assert all(s.reason for s in result.pristine if s.status == EXCLUDED)


def test_exclusions_are_reported_with_their_reason():
    """A finding under x-excluded-defects is reported as excluded, with the documented reason."""
    raw = {"openapi": "3.0.1", "servers": [{"url": "https://a/"}], "paths": {},
           "x-excluded-defects": {"server-url-trailing-slash": "kept for the test"}}
    (finding,) = lint(raw, "mem0", only=["server-url-trailing-slash"])
    assert finding.excluded == "kept for the test"
    assert not finding.is_defect


def _op(responses: dict, **extra) -> dict:
    return {"openapi": "3.0.1", "security": [{"k": []}], "paths": {"/x/{id}/": {"get": {"responses": responses, **extra}}}}


@pytest.mark.parametrize(
    ("check", "bad", "good"),
    [
        ("auth-without-401", _op({"200": {"description": ""}}), _op({"200": {"description": ""}, "401": {"description": ""}})),
        ("resource-without-404", _op({"200": {"description": ""}}), _op({"404": {"description": ""}})),
        ("body-on-204", _op({"204": {"description": "", "content": {"application/json": {}}}}), _op({"204": {"description": ""}})),
        ("duplicate-operation-id",
         {"paths": {"/a": {"get": {"operationId": "x"}}, "/b": {"get": {"operationId": "x"}}}},
         {"paths": {"/a": {"get": {"operationId": "x"}}, "/b": {"get": {"operationId": "y"}}}}),
        ("array-without-items",
         {"components": {"schemas": {"A": {"type": "array"}}}},
         {"components": {"schemas": {"A": {"type": "array", "items": {}}}}}),
        ("nullable-enum-without-null",
         {"components": {"schemas": {"A": {"type": "string", "nullable": True, "enum": ["a"]}}}},
         {"components": {"schemas": {"A": {"type": "string", "nullable": True, "enum": ["a", None]}}}}),
        ("required-without-property",
         {"components": {"schemas": {"A": {"type": "object", "properties": {"a": {}}, "required": ["b"]}}}},
         {"components": {"schemas": {"A": {"type": "object", "properties": {"a": {}}, "required": ["a"]}}}}),
        ("duplicate-schema-title",
         {"components": {"schemas": {"A": {"title": "T"}, "B": {"title": "T"}}}},
         {"components": {"schemas": {"A": {"title": "T"}, "B": {"title": "U"}}}}),
        ("multiple-servers", {"servers": [{"url": "a"}, {"url": "b"}]}, {"servers": [{"url": "a"}]}),
    ],
)
def test_generic_checks_tell_bad_from_good(check, bad, good):
    """Each generic check flags the defective document and passes the corrected one."""
    assert lint(bad, "mem0", only=[check])
    assert not lint(good, "mem0", only=[check])


def test_accepts_follows_refs_and_openapi_30_nullable():
    """Schema acceptance resolves $ref and honours OpenAPI 3.0 `nullable`."""
    doc = Document({"openapi": "3.0.1", "components": {"schemas": {
        "A": {"$ref": "#/components/schemas/B"}, "B": {"type": "string", "nullable": True}}}})
    assert doc.accepts(("components", "schemas", "A"), None)
    assert doc.accepts(("components", "schemas", "A"), "x")
    assert not doc.accepts(("components", "schemas", "A"), 1)
