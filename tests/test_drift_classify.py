"""What each difference means, and for whom: one test per class of change (no Optic here).

Each case is a difference in Optic's terms (:class:`Delta`) and the class and kind it must get.
The direction matters: narrowing a request breaks clients, narrowing a response breaks servers.
"""

from __future__ import annotations

import pytest

from conformance.drift.classify import (
    ADDITIVE,
    CLIENTS,
    DOCUMENTATION,
    SERVERS,
    classify,
    classify_all,
)
from conformance.drift.engine import Delta, Move, moves, with_moves

OP = "POST /v1/memories/"


def request(key: str, change: str = "changed", before=None, after=None) -> Delta:
    return Delta(OP, "request", "", "application/json", key, change, before, after)


def response(key: str, change: str = "changed", before=None, after=None, status: str = "200") -> Delta:
    return Delta(OP, "response", status, "application/json", key, change, before, after)


def parameter(name: str, key: str = "", change: str = "changed", before=None, after=None, where: str = "query") -> Delta:
    return Delta(OP, "parameter", f"{where} {name}", "", key, change, before, after)


def only(delta: Delta) -> tuple[str, str, str]:
    (finding,) = classify(delta)
    return finding.klass, finding.kind, finding.subject


CASES = {
    # breaking for clients
    "operation removed": (Delta(OP, "operation", change="removed"), (CLIENTS, "operation removed", "")),
    "response field removed": (response("/schema/items/properties/immutable", "removed", {"type": "boolean", "required": False}),
                               (CLIENTS, "response field removed", "[].immutable")),
    "new required request field": (request("/schema/properties/filters", "added", None, {"type": "object", "required": True}),
                                   (CLIENTS, "new required request field", "filters")),
    "request field removed": (request("/schema/properties/async_mode", "removed", {"type": "boolean", "required": False}),
                              (CLIENTS, "request field removed", "async_mode")),
    "request enum narrowed": (request("/schema/properties/feedback", before={"enum": ["A", "B", None]}, after={"enum": ["A", "B"]}),
                              (CLIENTS, "request enum narrowed", "feedback")),
    "request type narrowed": (request("/schema/properties/content", before={"anyOf": [{"type": "string"}, {"type": "object"}]},
                                      after={"type": "string"}), (CLIENTS, "request type narrowed", "content")),
    "request type changed": (request("/schema/properties/k", before={"type": "string"}, after={"type": "integer"}),
                             (CLIENTS, "request type changed", "k")),
    "request maximum lowered": (request("/schema/properties/top_k", before={"maximum": 1000}, after={"maximum": 100}),
                                (CLIENTS, "request maximum narrowed", "top_k")),
    "request format added": (request("/schema/properties/date", before={}, after={"format": "date"}),
                             (CLIENTS, "request format narrowed", "date")),
    "request field became required": (request("/schema/properties/name", before={"required": False}, after={"required": True}),
                                      (CLIENTS, "request field became required", "name")),
    "response enum widened": (response("/schema/properties/status", before={"enum": ["ok"]}, after={"enum": ["ok", "degraded"]}),
                              (CLIENTS, "response enum widened", "status")),
    "response null widened": (response("/schema/properties/metadata", before={}, after={"nullable": True}),
                              (CLIENTS, "response null widened", "metadata")),
    "response field became optional": (response("/schema/properties/project_id", before={"required": True}, after={"required": False}),
                                       (CLIENTS, "response field became optional", "project_id")),
    "default changed": (request("/schema/properties/async_mode", before={"default": False}, after={"default": True}),
                        (CLIENTS, "default changed", "async_mode")),
    "new required parameter": (parameter("page", change="added", after={"name": "page", "in": "query", "required": True}),
                               (CLIENTS, "new required parameter", "")),
    "parameter removed": (parameter("fields", change="removed", before={"name": "fields", "in": "query"}),
                          (CLIENTS, "parameter removed", "")),
    "parameter maxLength added": (parameter("q", "/schema/maxLength", "added", None, 5), (CLIENTS, "request maxLength narrowed", "")),
    "response body removed": (Delta(OP, "response", "200", "", "/content", "removed", {"application/json": {}}),
                              (CLIENTS, "response body removed", "")),
    "unknown keyword": (response("/schema/properties/k", before={"contains": {"type": "string"}}, after={"contains": {"type": "integer"}}),
                        (CLIENTS, "response contains changed (review)", "k")),
    # breaking for servers
    "new optional request field": (request("/schema/properties/timezone", "added", None, {"type": "string", "required": False}),
                                   (SERVERS, "new optional request field", "timezone")),
    "request enum widened": (request("/schema/properties/event_types/items", before={"enum": ["a"]}, after={"enum": ["a", "b"]}),
                             (SERVERS, "request enum widened", "event_types[]")),
    "request null widened (3.1 type list)": (request("/schema/properties/tag", before={"type": "string"},
                                                     after={"type": ["string", "null"]}), (SERVERS, "request type widened", "tag")),
    "response enum narrowed": (response("/schema/properties/server_name", before={"enum": ["mem0", "mock_notion"]},
                                        after={"enum": ["mem0"]}), (SERVERS, "response enum narrowed", "server_name")),
    "response bound added": (response("/schema/properties/score", before={}, after={"maximum": 1}),
                             (SERVERS, "response maximum narrowed", "score")),
    "new required response field": (response("/schema/properties/event_id", "added", None, {"type": "string", "required": True}),
                                    (SERVERS, "new required response field", "event_id")),
    "request field became optional": (request("/schema/properties/messages", before={"required": True}, after={"required": False}),
                                      (SERVERS, "request field became optional", "messages")),
    "status no longer documented": (Delta(OP, "response", "401", change="removed"), (SERVERS, "status code no longer documented", "")),
    "new optional parameter": (parameter("delete_linked", change="added", after={"name": "delete_linked", "in": "query"}),
                               (SERVERS, "new optional parameter", "")),
    "request additionalProperties opened": (request("/schema/properties/filters", before={"additionalProperties": False},
                                                    after={"additionalProperties": True}),
                                            (SERVERS, "request additional properties widened", "filters")),
    # additive
    "operation added": (Delta(OP, "operation", change="added"), (ADDITIVE, "operation added", "")),
    "response field added": (response("/schema/properties/score_breakdown", "added", None, {"type": "object", "required": False}),
                             (ADDITIVE, "response field added", "score_breakdown")),
    "status added": (Delta(OP, "response", "422", change="added"), (ADDITIVE, "status code added", "")),
    # documentation only
    "description": (response("/schema/properties/k", before={"description": "old"}, after={"description": "new"}),
                    (DOCUMENTATION, "description changed", "k")),
    "code samples": (Delta(OP, "operation", key="/x-code-samples/0/source", before="a", after="b"),
                     (DOCUMENTATION, "x-code-samples changed", "")),
    "operationId": (Delta(OP, "operation", key="/operationId", before="a", after="b"), (DOCUMENTATION, "operationId changed", "")),
    "enum reordered": (response("/schema/properties/status", before={"enum": ["A", "B"]}, after={"enum": ["B", "A"]}),
                       (DOCUMENTATION, "enum reordered", "status")),
    "number format": (response("/schema/properties/score", before={}, after={"format": "float"}),
                      (DOCUMENTATION, "number format added", "score")),
    "default documented": (request("/schema/properties/rerank", before={}, after={"default": False}),
                           (DOCUMENTATION, "default added", "rerank")),
    "links": (Delta(OP, "response", "200", "", "/links", "removed", {"GetMemory": {}}), (DOCUMENTATION, "links removed", "")),
    "example": (response("/example", "added", None, {"id": "x"}), (DOCUMENTATION, "example added", "")),
}


@pytest.mark.parametrize("delta, expected", CASES.values(), ids=CASES.keys())
def test_each_difference_gets_its_class(delta, expected):
    assert only(delta) == expected


def test_the_project_s_own_extensions_are_never_a_difference():
    assert classify(Delta(OP, "operation", key="/x-conformance-supplement", change="removed", before=True)) == []


def test_a_field_removed_beside_one_added_with_its_type_is_a_rename():
    found = classify_all([response("/schema/properties/run_id", "removed", {"type": "string", "nullable": True}),
                          response("/schema/properties/session_id", "added", None, {"type": "string", "nullable": True})])
    assert [(f.klass, f.kind, f.detail) for f in found] == [(CLIENTS, "response field renamed", "run_id -> session_id")]


def test_fields_of_different_types_are_no_rename():
    found = classify_all([response("/schema/properties/run_id", "removed", {"type": "string"}),
                          response("/schema/properties/count", "added", None, {"type": "integer"})])
    assert sorted(f.kind for f in found) == ["response field added", "response field removed"]


def test_a_renamed_path_parameter_changes_no_url():
    found = classify_all([parameter("entity_name", change="removed", before={"name": "entity_name"}, where="path"),
                          parameter("entity_id", change="added", after={"name": "entity_id", "required": True}, where="path")])
    assert [(f.klass, f.kind, f.detail) for f in found] == [(DOCUMENTATION, "path parameter renamed", "entity_name -> entity_id")]


def test_a_success_status_replaced_by_another_is_a_changed_status():
    found = classify_all([Delta(OP, "response", "204", change="removed"), Delta(OP, "response", "200", change="added")])
    assert [(f.klass, f.kind, f.detail) for f in found] == [(CLIENTS, "success status changed", "204 -> 200")]


def test_a_type_reported_as_two_keywords_is_judged_once():
    """Optic reports ``/schema/type`` removed and ``/schema/anyOf`` added apart: string -> string or null is one widening."""
    found = classify_all([parameter("tag", "/schema/type", "removed", "string", None),
                          parameter("tag", "/schema/anyOf", "added", None, [{"type": "string"}, {"type": "null"}])])
    assert [(f.klass, f.kind, f.detail) for f in found] == [(SERVERS, "request type widened", "string -> null or string")]


def test_nested_changes_reported_twice_are_listed_once():
    nested = response("/schema/properties/results", before={"items": {"properties": {"score": {"maximum": 2}}}},
                      after={"items": {"properties": {"score": {"maximum": 1}}}})
    direct = response("/schema/properties/results/items/properties/score", before={"maximum": 2}, after={"maximum": 1})
    found = classify_all([nested, direct])
    assert [(f.kind, f.subject) for f in found] == [("response maximum narrowed", "results[].score")]


def test_moved_operations_are_paired_before_the_diff():
    older = {"paths": {"/v1/exports/get": {"post": {"operationId": "exports_list"}},
                       "/v1/entities/{t}/{id}/": {"get": {"operationId": "entities_read"}},
                       "/sandbox/mem0": {"post": {"operationId": "acquire"}}}}
    newer = {"paths": {"/v1/exports/get/": {"post": {"operationId": "exports_list"}},
                       "/v2/entities/{t}/{id}/": {"get": {"operationId": "entities_read"}},
                       "/sandbox/{server_name}": {"post": {"operationId": "create_sandbox"}}}}
    found = moves(older, newer)
    assert found == [Move("POST", "/v1/exports/get", "/v1/exports/get/"), Move("GET", "/v1/entities/{t}/{id}/", "/v2/entities/{t}/{id}/"),
                     Move("POST", "/sandbox/mem0", "/sandbox/{server_name}", generalized=True)]
    assert set(with_moves(older, found)["paths"]) == set(newer["paths"])


def test_null_beside_a_changed_type_is_part_of_the_type():
    found = classify_all([request("/schema/properties/reference_date", before={"anyOf": [{"type": "string"}, {"type": "integer"}]},
                                  after={"oneOf": [{"type": "string"}, {"type": "number"}], "nullable": True})])
    assert [(f.kind, f.detail) for f in found] == [("request type widened", "integer or string -> null or number or string")]
