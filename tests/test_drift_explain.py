"""Which failures a difference of a newer published document explains (`run --drift`), without a run.

The report here is the shape `specs drift --format json` writes, with the two kinds of difference
the README names: a published change (the provider dropped `immutable` from list answers; the
three deletes answer 200 where 204 was documented) and one of the project's own (its ping
supplement requires `project_id`, the published ping does not).
"""

from __future__ import annotations

from conformance.drift.classify import CLIENTS, SERVERS
from conformance.drift.explain import explain


def change(operation: str, where: str, subject: str, kind: str, detail: str = "", klass: str = CLIENTS, **extra):
    return {"class": klass, "kind": kind, "operation": operation, "where": where, "subject": subject, "detail": detail,
            "older": None, "newer": None, "text": f"{operation}: {where} {subject}: {kind}", **extra}


REPORT = {"api": "mem0", "effective": {"changes": [
    change("POST /v2/memories/", "response 200", "[].immutable", "response field removed"),
    change("DELETE /v1/memories/{memory_id}/", "response 204", "", "success status changed", "204 -> 200"),
    change("GET /v1/ping/", "response 200", "project_id", "response field became optional",
           ours=["0004-supplements.overlay.yaml#0"]),
    change("GET /v1/ping/", "response 200", "user_email", "response format narrowed", klass=SERVERS,
           ours=["0004-supplements.overlay.yaml#0"]),
    change("POST /v1/exports/get/", "operation", "", "operation moved", "from /v1/exports/get",
           older_operation="POST /v1/exports/get"),
]}}


def subjects(found) -> list[str]:
    return [e.change["kind"] + (f" {e.change['subject']}" if e.change["subject"] else "") for e in found]


def test_a_validator_naming_the_dropped_field_is_explained_by_the_published_change():
    found = explain([REPORT], "POST /v2/memories/", title="POST /v2/memories/: Response violates schema",
                    received='[Response violates schema] "immutable" is a required property\n\nSchema: {...}')
    assert subjects(found) == ["response field removed [].immutable"] and found[0].published
    assert "a published change" in found[0].line()


def test_a_status_is_explained_by_its_code_on_the_same_operation_only():
    title = "DELETE /v1/memories/{memory_id}/: 200 instead of 204"
    assert subjects(explain([REPORT], "DELETE /v1/memories/{memory_id}/", title=title)) == ["success status changed"]
    assert explain([REPORT], "DELETE /v1/memories/{memory_id}/", title="DELETE ...: 500 instead of 404") == []
    assert explain([REPORT], "DELETE /v1/memories/", title=title) == []


def test_the_operation_is_found_from_the_request_when_the_failure_names_none():
    found = explain([REPORT], None, title="DELETE: 200 instead of 204",
                    request=("DELETE", "http://127.0.0.1:1/v1/memories/0b5c1b1e-0000-4000-8000-000000000000/"))
    assert subjects(found) == ["success status changed"]


def test_a_difference_of_the_project_s_own_says_whose_it_is():
    found = explain([REPORT], "GET /v1/ping/", title="GET /v1/ping/ names no organization or no project",
                    documented="{status, org_id, project_id}", received={"status": "ok", "org_id": "o"})
    assert subjects(found) == ["response field became optional project_id"] and not found[0].published
    assert "the overlays differ (0004-supplements.overlay.yaml#0)" in found[0].line()


def test_a_field_only_an_answer_body_mentions_explains_nothing():
    """The answer's own keys are not what the failure is about (user_email is in the body, not the complaint)."""
    assert explain([REPORT], "GET /v1/ping/", title="GET /v1/ping/: 500 instead of 200",
                   received='500 {"user_email": "x", "project_id": "p"}') == []


def test_an_operation_known_by_its_older_path_is_matched_there():
    found = explain([REPORT], "POST /v1/exports/get", title="POST /v1/exports/get: 404 instead of 200")
    assert subjects(found) == ["operation moved"]
