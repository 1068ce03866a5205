"""The Mem0 platform resources around the memories, by the rules the schemas cannot state:
entity deletion, memory exports, feedback, projects and their members, webhooks, users.

Every entity, webhook, project and member these tests create carries the run prefix and is
registered with the cleanup; project creation and deletion and member changes run only where
destructive operations are allowed (FACTS.md; the reference server's handler docstrings in
``conformance/server/handlers/`` state the decisions where the documents are silent).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given

from conformance.client import ApiClient
from conformance.suite.support import eventually, expect, expect_error, track_webhook
from strategies.platform import (
    ENTITY_KINDS,
    event_type_lists,
    feedback_reasons,
    feedback_values,
    member_roles,
    user_selections,
    webhook_update_fields,
)

ENTITY_KEYS = {"user": "user_id", "agent": "agent_id", "app": "app_id", "run": "run_id"}
PENDING = ("PENDING", "RUNNING", "QUEUED", "PROCESSING", "IN_PROGRESS")


# --- helpers ------------------------------------------------------------------------------------


def add_memories(mem0: ApiClient, kind: str, name: str, texts: list[str]) -> list[str]:
    """Store ``texts`` verbatim (infer off) as memories of entity ``kind``/``name``; their ids.

    Asks for a synchronous add; a target that queues it anyway is polled through the event.
    """
    body = {
        ENTITY_KEYS[kind]: name, "messages": [{"role": "user", "content": text} for text in texts],
        "infer": False, "async_mode": False, "output_format": "v1.1",
    }
    answer = expect(mem0.post("/v1/memories/", json=body), 200, 201)
    results = answer["results"] if isinstance(answer, dict) else answer
    if len(results) == 1 and "event_id" in results[0]:
        event_id = results[0]["event_id"]

        def settled() -> list[dict[str, Any]]:
            event = expect(mem0.get(f"/v1/event/{event_id}/"), 200)
            assert event["status"] == "SUCCEEDED", f"event {event_id} is {event['status']}"
            return event["results"]

        results = eventually(settled, within=mem0.wait, what=f"the queued add for {kind} {name}")
    ids = [result["id"] for result in results]
    assert len(ids) == len(texts), f"adding {len(texts)} verbatim messages created {len(ids)} memories: {results}"
    return ids


def listed(mem0: ApiClient, kind: str, name: str) -> set[str]:
    """The ids of the memories a v2 list of entity ``kind``/``name`` shows."""
    answer = expect(mem0.post("/v2/memories/", json={"filters": {ENTITY_KEYS[kind]: name}}), 200)
    items = answer["results"] if isinstance(answer, dict) else answer
    return {item["id"] for item in items}


def entity_uuid(mem0: ApiClient, kind: str, name: str) -> str:
    """The ``id`` that ``GET /v1/entities/`` gives the entity ``kind``/``name``."""

    def find() -> str:
        answer = expect(mem0.get("/v1/entities/"), 200)
        entities = answer["results"] if isinstance(answer, dict) else answer
        found = [e["id"] for e in entities if e.get("type") == kind and e.get("name") == name]
        assert found, f"the entity listing does not show {kind} {name}"
        return str(found[0])

    return eventually(find, within=mem0.wait, what=f"{kind} {name} listed as an entity")


def account(mem0: ApiClient) -> tuple[str, str]:
    """``(org_id, project_id)`` of the key, from ``GET /v1/ping/``."""
    body = expect(mem0.get("/v1/ping/"), 200)
    return body["org_id"], body["project_id"]


# --- entities -----------------------------------------------------------------------------------


@pytest.mark.requires("mem0")
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_deleting_an_entity_deletes_its_memories_and_no_others(mem0, new_user, version):
    """Deleting a user, agent, app or run (v1 by entity id, v2 by name) makes its memories 404 and unlisted, and keeps those of a sibling entity."""
    doomed: dict[tuple[str, str], list[str]] = {}
    kept: dict[tuple[str, str], list[str]] = {}
    for kind in ENTITY_KINDS:
        victim, sibling = new_user(kind), new_user(kind)
        doomed[(kind, victim)] = add_memories(mem0, kind, victim, ["Prefers tea over coffee", "Lives in Zürich 🇨🇭"])
        kept[(kind, sibling)] = add_memories(mem0, kind, sibling, ["Prefers coffee over tea"])
    for kind, victim in doomed:
        if version == "v1":
            path = f"/v1/entities/{kind}/{entity_uuid(mem0, kind, victim)}/"
        else:
            path = f"/v2/entities/{kind}/{victim}/"
        expect(mem0.delete(path), 200, 204)

    def memories_gone() -> None:
        for (kind, victim), memory_ids in doomed.items():
            for memory_id in memory_ids:
                status = mem0.get(f"/v1/memories/{memory_id}/").status_code
                assert status == 404, f"memory {memory_id} of the deleted {kind} answers {status}, not 404"
            still = listed(mem0, kind, victim) & set(memory_ids)
            assert not still, f"the deleted {kind} {victim} still lists {sorted(still)}"

    def siblings_intact() -> None:
        for (kind, sibling), memory_ids in kept.items():
            for memory_id in memory_ids:
                expect(mem0.get(f"/v1/memories/{memory_id}/"), 200, what=f"memory of the kept {kind} {sibling}")
            assert set(memory_ids) <= listed(mem0, kind, sibling), f"the kept {kind} {sibling} lost memories"

    eventually(memories_gone, within=mem0.wait, what=f"{version} entity deletion removes the memories")
    eventually(siblings_intact, within=mem0.wait, what="the other entities keep their memories")


@pytest.mark.requires("mem0")
@pytest.mark.parametrize("metadata", [None, {}, {"名前": "Zoë", "prefs": {"food": ["crème brûlée", "寿司"], "spicy": False}}],
                         ids=["no metadata", "empty metadata", "nested metadata"])
def test_creating_a_user_answers_201(mem0, new_user, metadata):
    """``POST /v1/users/`` creates the user and answers 201 Created with its user_id."""
    user = new_user("user")
    body = {"user_id": user} if metadata is None else {"user_id": user, "metadata": metadata}
    answer = expect(mem0.post("/v1/users/", json=body), 201)
    assert answer["user_id"] == user


# --- exports ------------------------------------------------------------------------------------

EXPORT_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "memory": {"type": "string"}, "user_id": {"type": "string"}},
}


@pytest.fixture(scope="module")
def export_users(mem0, new_user) -> list[tuple[str, dict[str, str]]]:
    """Three run-prefixed users with memories: ``[(user_id, {memory_id: text})]``."""
    population = []
    for texts in (["Likes hiking", "Allergic to peanuts"], ["Speaks 日本語 and Deutsch"], ["Works night shifts"]):
        user = new_user("user")
        population.append((user, dict(zip(add_memories(mem0, "user", user, texts), texts, strict=True))))
    return population


def filters_for(shape: str, users: list[str]) -> dict[str, Any]:
    """The export body that names ``users`` in the given shape (see ``user_selections``)."""
    if shape == "flat":
        return {"filters": {"user_id": users[0]}}
    if shape == "and":
        return {"filters": {"AND": [{"user_id": users[0]}]}}
    if shape == "top-level":
        return {"user_id": users[0]}
    return {"filters": {"OR": [{"user_id": user} for user in users]}}


@pytest.mark.requires("mem0")
@given(selection=user_selections(count=3))
def test_an_export_holds_exactly_the_memories_its_filters_match(mem0, export_users, selection):
    """A memory export (``POST /v1/exports/``, read by id) holds each memory its filters match, once, and no other."""
    shape, chosen = selection
    users = [export_users[i][0] for i in chosen]
    wanted = {memory_id: text for i in chosen for memory_id, text in export_users[i][1].items()}
    created = expect(mem0.post("/v1/exports/", json={"schema": EXPORT_SCHEMA, **filters_for(shape, users)}), 201)
    export_id = created["id"]

    def ready() -> dict[str, Any]:
        answer = expect(mem0.post("/v1/exports/get/", json={"memory_export_id": export_id}), 200)
        assert answer.get("status") not in PENDING, f"export {export_id} is still {answer.get('status')}"
        assert "memories" in answer, f"export {export_id} has no memories yet: {answer}"
        return answer

    items = eventually(ready, within=mem0.wait, what=f"export {export_id} ready")["memories"]
    got = [item.get("id") for item in items]
    strangers = [item for item in items if item.get("id") not in wanted]
    assert not strangers, f"the export of {shape} {users} holds memories its filters do not match: {strangers[:5]}"
    assert sorted(got) == sorted(wanted), f"the export of {shape} {users} misses or repeats memories: {got}"
    for item in items:
        assert item.get("memory") == wanted[item["id"]], f"exported text of {item['id']} differs: {item}"


# --- feedback -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def feedback_memory(mem0, new_user) -> str:
    """A memory the run created, to give feedback on."""
    return add_memories(mem0, "user", new_user("user"), ["Enjoys crème brûlée"])[0]


@pytest.mark.requires("mem0")
@given(feedback=feedback_values(), reason=feedback_reasons())
def test_feedback_on_a_memory_of_the_run_is_accepted(mem0, feedback_memory, feedback, reason):
    """Feedback (any documented value, any reason) on an existing memory is accepted with 200 and echoed."""
    answer = expect(mem0.post("/v1/feedback/", json={
        "memory_id": feedback_memory, "feedback": feedback, "feedback_reason": reason}), 200)
    assert answer.get("feedback", feedback) == feedback, f"feedback echoed as {answer.get('feedback')!r}"


@pytest.fixture
def deleted_memory(mem0, new_user) -> str:
    memory_id = add_memories(mem0, "user", new_user("user"), ["Was here briefly"])[0]
    expect(mem0.delete(f"/v1/memories/{memory_id}/"), 200, 204)
    eventually(lambda: expect(mem0.get(f"/v1/memories/{memory_id}/"), 404), within=mem0.wait, what="memory deleted")
    return memory_id


@pytest.mark.requires("mem0")
@pytest.mark.parametrize("which", ["never-existed", "deleted"])
def test_feedback_on_an_unknown_memory_is_refused(mem0, request, which):
    """Feedback on a memory that never existed, or was deleted, is refused with a 4xx and a body."""
    memory_id = str(uuid.uuid4()) if which == "never-existed" else request.getfixturevalue("deleted_memory")
    expect_error(mem0.post("/v1/feedback/", json={"memory_id": memory_id, "feedback": "POSITIVE"}))


# --- projects and members -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def members_path(mem0, ids, cleanup) -> str:
    """The members path of a run-prefixed project (deleted by the cleanup), or of the key's own
    project when the account may not create one."""
    org_id, own_project = account(mem0)
    projects = f"/api/v1/orgs/organizations/{org_id}/projects/"
    name = ids.new("project")
    answer = mem0.post(projects, json={"name": name, "description": "mem0-conformance scratch project"})
    if answer.status_code == 403:
        return f"{projects}{own_project}/members/"
    project_id = expect(answer, 200, 201)["project_id"]
    cleanup.add("project", project_id, lambda: mem0.delete(f"{projects}{project_id}/"))
    return f"{projects}{project_id}/members/"


def role_of(mem0: ApiClient, members_path: str, email: str) -> str | None:
    members = expect(mem0.get(members_path), 200)["members"]
    return next((m.get("role") for m in members if email in (m.get("email"), m.get("username"))), None)


@pytest.mark.requires("mem0", "destructive")
@given(first=member_roles(), second=member_roles())
def test_adding_an_existing_project_member_is_refused_and_keeps_its_role(mem0, members_path, ids, cleanup, first, second):
    """Adding a member who is already in the project answers 400 and leaves the member's role as it was."""
    email = f"{ids.new('member')}@example.com"
    expect(mem0.post(members_path, json={"email": email, "role": first}), 200, 201)
    cleanup.add("project member", email, lambda: mem0.delete(members_path, params={"email": email}))
    eventually(lambda: _assert_equal(role_of(mem0, members_path, email), first), within=mem0.wait,
               what=f"{email} listed as {first}")
    again = mem0.post(members_path, json={"email": email, "role": second})
    assert again.status_code == 400, f"adding the existing member {email} again answered {again.status_code}: {again.text[:300]}"
    expect_error(again)
    assert role_of(mem0, members_path, email) == first, f"the refused add changed {email}'s role from {first}"


def _assert_equal(got: Any, wanted: Any) -> None:
    assert got == wanted, f"{got!r} != {wanted!r}"


# --- webhooks -----------------------------------------------------------------------------------


def webhook(mem0: ApiClient, project_id: str, webhook_id: str) -> dict[str, Any]:
    hooks = expect(mem0.get(f"/api/v1/webhooks/projects/{project_id}/"), 200)
    found = [hook for hook in hooks if str(hook["webhook_id"]) == webhook_id]
    assert found, f"webhook {webhook_id} is not listed in project {project_id}"
    return found[0]


@pytest.fixture(scope="module")
def own_project(mem0) -> str:
    return account(mem0)[1]


@pytest.mark.requires("mem0", "webhooks")
@given(event_types=event_type_lists(), fields=webhook_update_fields())
def test_a_webhook_update_without_event_types_keeps_them(mem0, own_project, ids, cleanup, run_prefix, event_types, fields):
    """A webhook update (PUT) that names no event_types changes what it names and keeps the event types."""
    name = ids.new("hook")
    created = expect(mem0.post(f"/api/v1/webhooks/projects/{own_project}/", json={
        "name": name, "url": f"https://example.com/{run_prefix}/hooks", "event_types": event_types}), 201)
    webhook_id = str(created["webhook_id"])
    path = f"/api/v1/webhooks/{webhook_id}/"
    track_webhook(cleanup, mem0, webhook_id)
    try:
        assert sorted(created["event_types"]) == sorted(event_types), f"created with {created['event_types']}"
        changes = {"name": f"{name}-renamed-ñ✓", "url": f"https://example.com/{run_prefix}/hooks/{name}?v=2"}
        update = {field: changes[field] for field in fields}
        expect(mem0.put(path, json=update), 200)

        def updated() -> dict[str, Any]:
            hook = webhook(mem0, own_project, webhook_id)
            for key, value in update.items():
                assert hook[key] == value, f"the update set {key} to {value!r}, listed {hook[key]!r}"
            return hook

        hook = eventually(updated, within=mem0.wait, what=f"webhook {webhook_id} updated")
        assert sorted(hook["event_types"]) == sorted(event_types), (
            f"the update {update} names no event_types, yet they went from {event_types} to {hook['event_types']}")
    finally:
        if mem0.delete(path).status_code in (200, 204, 404):
            cleanup.forget("webhook", webhook_id)


# --- the key's own project (last: on a faulty server it may take the project with it) ----------------


@pytest.mark.requires("mem0", "destructive")
def test_the_key_s_own_project_cannot_be_deleted(mem0):
    """Deleting the API key's own project is refused with 403, and the project stays."""
    org_id, project_id = account(mem0)
    path = f"/api/v1/orgs/organizations/{org_id}/projects/{project_id}/"
    answer = mem0.delete(path)
    assert answer.status_code == 403, f"deleting the key's own project answered {answer.status_code}: {answer.text[:300]}"
    expect_error(answer)
    project = expect(mem0.get(path), 200, what="the key's own project after the refused delete")
    assert project["project_id"] == project_id
