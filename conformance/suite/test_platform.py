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

from conformance.apis import ENTITY_TYPES
from conformance.client import ApiClient
from conformance.suite.machines.mem0_calls import add_memories as add_verbatim
from conformance.suite.machines.mem0_calls import (
    expect_deleted,
    expect_kept,
    results_of,
)
from conformance.suite.sources import refused
from conformance.suite.support import eventually, expect, expect_error, track_webhook
from conformance.verdicts import Severity, fact, operation_source, require
from conformance.strategies.platform import (
    ENTITY_KINDS,
    event_type_lists,
    feedback_reasons,
    feedback_values,
    member_roles,
    user_selections,
    webhook_update_fields,
)

ENTITY_DELETES = {"v1": "DELETE /v1/entities/{entity_type}/{entity_id}/", "v2": "DELETE /v2/entities/{entity_type}/{entity_name}/"}
PROJECT = "/api/v1/orgs/organizations/{org_id}/projects/{project_id}/"
WEBHOOKS = "/api/v1/webhooks/projects/{project_id}/"
PENDING = ("PENDING", "RUNNING", "QUEUED", "PROCESSING", "IN_PROGRESS")


# --- helpers ------------------------------------------------------------------------------------


def add_memories(mem0: ApiClient, kind: str, name: str, texts: list[str]) -> list[str]:
    """Store ``texts`` verbatim (infer off, synchronously) as memories of entity ``kind``/``name``; their ids."""
    return [memory_id for memory_id, _ in add_verbatim(mem0, texts, **{ENTITY_TYPES[kind]: name})]


def listed(mem0: ApiClient, kind: str, name: str) -> set[str]:
    """The ids of the memories a v2 list of entity ``kind``/``name`` shows."""
    source = fact("List/search filters (v2/v3)", "POST /v2/memories/")
    answer = expect(mem0.post("/v2/memories/", json={"filters": {ENTITY_TYPES[kind]: name}}), 200, source=source)
    return {item["id"] for item in results_of(answer, what=f"POST /v2/memories/ of {kind} {name}", source=source)}


def entity_uuid(mem0: ApiClient, kind: str, name: str) -> str:
    """The ``id`` that ``GET /v1/entities/`` gives the entity ``kind``/``name``."""
    source = operation_source("GET /v1/entities/")

    def find() -> str:
        entities = results_of(expect(mem0.get("/v1/entities/"), 200, source=source), what="GET /v1/entities/",
                              source=source)
        found = [e["id"] for e in entities if e.get("type") == kind and e.get("name") == name]
        require(found, f"GET /v1/entities/ does not list the {kind} {name}",
                received=[(e.get("type"), e.get("name")) for e in entities], documented=f"an entity {kind} {name}",
                source=source)
        return str(found[0])

    return eventually(find, within=mem0.wait, what=f"{kind} {name} listed as an entity")


def account(mem0: ApiClient) -> tuple[str, str]:
    """``(org_id, project_id)`` of the key, from ``GET /v1/ping/``."""
    source = fact("GET /v1/ping/", "GET /v1/ping/")
    body = expect(mem0.get("/v1/ping/"), 200, source=source)
    require(isinstance(body, dict) and body.get("org_id") and body.get("project_id"),
            "GET /v1/ping/ names no organization or no project", received=body,
            documented='{status: "ok", org_id, project_id, user_email}', source=source)
    return body["org_id"], body["project_id"]


# --- entities -----------------------------------------------------------------------------------


@pytest.mark.contract("Entities")
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

    source = operation_source(ENTITY_DELETES[version])

    def memories_gone() -> None:
        for (kind, victim), memory_ids in doomed.items():
            for memory_id in memory_ids:
                expect_deleted(mem0, memory_id, what=f"GET /v1/memories/{memory_id}/ of the deleted {kind} {victim}",
                               source=source)
            still = listed(mem0, kind, victim) & set(memory_ids)
            require(not still, f"POST /v2/memories/ of the deleted {kind} {victim} still lists {len(still)} of its "
                    f"{len(memory_ids)} memories", received=sorted(still), documented="none: the entity is deleted",
                    source=source, severity=Severity.CRITICAL)

    def siblings_intact() -> None:
        for (kind, sibling), memory_ids in kept.items():
            for memory_id in memory_ids:
                expect_kept(mem0.get(f"/v1/memories/{memory_id}/"), source=source,
                            what=f"GET /v1/memories/{memory_id}/ of the {kind} {sibling}, kept beside the deleted one")
            lost = set(memory_ids) - listed(mem0, kind, sibling)
            require(not lost, f"POST /v2/memories/ of the kept {kind} {sibling} misses {len(lost)} of its "
                    f"{len(memory_ids)} memories", received=sorted(lost), documented=sorted(memory_ids),
                    source=source, severity=Severity.CRITICAL)

    eventually(memories_gone, within=mem0.wait, what=f"{version} entity deletion removes the memories")
    eventually(siblings_intact, within=mem0.wait, what="the other entities keep their memories")


@pytest.mark.contract("Users")
@pytest.mark.requires("mem0")
@pytest.mark.parametrize("metadata", [None, {}, {"名前": "Zoë", "prefs": {"food": ["crème brûlée", "寿司"], "spicy": False}}],
                         ids=["no metadata", "empty metadata", "nested metadata"])
def test_creating_a_user_answers_201(mem0, new_user, metadata):
    """``POST /v1/users/`` creates the user and answers 201 Created with its user_id."""
    user = new_user("user")
    body = {"user_id": user} if metadata is None else {"user_id": user, "metadata": metadata}
    source = operation_source("POST /v1/users/")
    answer = expect(mem0.post("/v1/users/", json=body), 201, source=source)
    received = answer.get("user_id") if isinstance(answer, dict) else answer
    require(received == user, f"POST /v1/users/ answers the user_id {received!r} for {user}", received=answer,
            documented=f"201 with user_id {user!r}", source=source)


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


@pytest.mark.contract("Exports")
@pytest.mark.requires("mem0")
@given(selection=user_selections(count=3))
def test_an_export_holds_exactly_the_memories_its_filters_match(mem0, export_users, selection):
    """A memory export (``POST /v1/exports/``, read by id) holds each memory its filters match, once, and no other."""
    shape, chosen = selection
    users = [export_users[i][0] for i in chosen]
    wanted = {memory_id: text for i in chosen for memory_id, text in export_users[i][1].items()}
    create = operation_source("POST /v1/exports/")
    created = expect(mem0.post("/v1/exports/", json={"schema": EXPORT_SCHEMA, **filters_for(shape, users)}), 201,
                     source=create)
    require(isinstance(created, dict) and "id" in created, "POST /v1/exports/ answers no export id", received=created,
            documented="201 with the export's id", source=create)
    export_id = created["id"]
    label = f"POST /v1/exports/get/ of export {export_id} ({shape} {users})"
    source = operation_source("POST /v1/exports/get/")

    def ready() -> dict[str, Any]:
        answer = expect(mem0.post("/v1/exports/get/", json={"memory_export_id": export_id}), 200, source=source)
        status = answer.get("status") if isinstance(answer, dict) else None
        require(status not in PENDING and isinstance(answer, dict) and isinstance(answer.get("memories"), list),
                f"{label} holds no memories list (status {status!r})", received=answer,
                documented="the export, with its memories, within the consistency wait", source=source)
        return answer

    items = eventually(ready, within=mem0.wait, what=f"export {export_id} ready")["memories"]
    require(all(isinstance(item, dict) for item in items), f"{label} holds memories that are no objects",
            received=items, documented=f"objects of the export schema {EXPORT_SCHEMA}", source=source)
    got = [item.get("id") for item in items]
    strangers = [item for item in items if item.get("id") not in wanted]
    require(not strangers, f"{label} holds {len(strangers)} memories its filters do not match", received=strangers[:5],
            documented=f"only the {len(wanted)} memories of {users}", source=source, severity=Severity.CRITICAL)
    require(sorted(got) == sorted(wanted), f"{label} holds {len(got)} memories for the {len(wanted)} its filters match",
            received=sorted(got), documented=sorted(wanted), source=source)
    changed = {item["id"]: item.get("memory") for item in items if item.get("memory") != wanted[item["id"]]}
    require(not changed, f"{label} holds {len(changed)} memories with another text", received=changed,
            documented={memory_id: wanted[memory_id] for memory_id in changed}, source=source,
            severity=Severity.CRITICAL)


# --- feedback -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def feedback_memory(mem0, new_user) -> str:
    """A memory the run created, to give feedback on."""
    return add_memories(mem0, "user", new_user("user"), ["Enjoys crème brûlée"])[0]


@pytest.mark.contract("Feedback")
@pytest.mark.requires("mem0")
@given(feedback=feedback_values(), reason=feedback_reasons())
def test_feedback_on_a_memory_of_the_run_is_accepted(mem0, feedback_memory, feedback, reason):
    """Feedback (any documented value, any reason) on an existing memory is accepted with 200 and echoed."""
    source = operation_source("POST /v1/feedback/")
    answer = expect(mem0.post("/v1/feedback/", json={
        "memory_id": feedback_memory, "feedback": feedback, "feedback_reason": reason}), 200, source=source)
    echoed = answer.get("feedback", feedback) if isinstance(answer, dict) else answer
    require(echoed == feedback, f"POST /v1/feedback/ echoes the feedback {feedback!r} as {echoed!r}", received=answer,
            documented=f"200, feedback {feedback!r} (when echoed)", source=source)


@pytest.fixture
def deleted_memory(mem0, new_user) -> str:
    memory_id = add_memories(mem0, "user", new_user("user"), ["Was here briefly"])[0]
    expect(mem0.delete(f"/v1/memories/{memory_id}/"), 200, 204)
    source = operation_source("DELETE /v1/memories/{memory_id}/")
    eventually(lambda: expect_deleted(mem0, memory_id, what=f"GET /v1/memories/{memory_id}/ after its delete",
                                      source=source), within=mem0.wait, what="memory deleted")
    return memory_id


@pytest.mark.contract("Feedback")
@pytest.mark.requires("mem0")
@pytest.mark.parametrize("which", ["never-existed", "deleted"])
def test_feedback_on_an_unknown_memory_is_refused(mem0, request, which):
    """Feedback on a memory that never existed, or was deleted, is refused with a 4xx and a body."""
    memory_id = str(uuid.uuid4()) if which == "never-existed" else request.getfixturevalue("deleted_memory")
    expect_error(mem0.post("/v1/feedback/", json={"memory_id": memory_id, "feedback": "POSITIVE"}),
                 what=f"POST /v1/feedback/ on a {which} memory")


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
    source = operation_source("POST /api/v1/orgs/organizations/{org_id}/projects/")
    created = expect(answer, 200, 201, source=source)
    require(isinstance(created, dict) and "project_id" in created, f"POST {projects} answers no project_id",
            received=created, documented="the new project, with its project_id", source=source)
    project_id = created["project_id"]
    cleanup.add("project", project_id, lambda: mem0.delete(f"{projects}{project_id}/"))
    return f"{projects}{project_id}/members/"


def role_of(mem0: ApiClient, members_path: str, email: str) -> str | None:
    source = operation_source(f"GET {PROJECT}members/")
    answer = expect(mem0.get(members_path), 200, source=source)
    members = answer.get("members") if isinstance(answer, dict) else None
    require(isinstance(members, list) and all(isinstance(m, dict) for m in members),
            f"GET {members_path} answers no members list", received=answer, documented="{members: [{email, role}, …]}",
            source=source)
    return next((m.get("role") for m in members if email in (m.get("email"), m.get("username"))), None)


def require_role(mem0: ApiClient, members_path: str, email: str, role: str, *, after: str,
                 severity: Severity = Severity.NORMAL) -> None:
    received = role_of(mem0, members_path, email)
    require(received == role, f"GET {members_path} {after} lists {email} as {received!r}, not {role!r}",
            received=received, documented=role, source=operation_source(f"POST {PROJECT}members/"), severity=severity)


@pytest.mark.contract("Projects and members")
@pytest.mark.requires("mem0", "destructive", "ping")
@given(first=member_roles(), second=member_roles())
def test_adding_an_existing_project_member_is_refused_and_keeps_its_role(mem0, members_path, ids, cleanup, first, second):
    """Adding a member who is already in the project answers 400 and leaves the member's role as it was."""
    email = f"{ids.new('member')}@example.com"
    expect(mem0.post(members_path, json={"email": email, "role": first}), 200, 201)
    cleanup.add("project member", email, lambda: mem0.delete(members_path, params={"email": email}))
    eventually(lambda: require_role(mem0, members_path, email, first, after="after the add"), within=mem0.wait,
               what=f"{email} listed as {first}")
    again = mem0.post(members_path, json={"email": email, "role": second})
    refused(again, 400, what=f"POST {members_path} of the existing member {email} (as {second})",
            source=operation_source(f"POST {PROJECT}members/"))
    require_role(mem0, members_path, email, first, after=f"after a refused add as {second}", severity=Severity.CRITICAL)


# --- webhooks -----------------------------------------------------------------------------------


def webhook(mem0: ApiClient, project_id: str, webhook_id: str) -> dict[str, Any]:
    source = operation_source(f"GET {WEBHOOKS}")
    hooks = expect(mem0.get(f"/api/v1/webhooks/projects/{project_id}/"), 200, source=source)
    require(isinstance(hooks, list) and all(isinstance(hook, dict) and "webhook_id" in hook for hook in hooks),
            f"GET /api/v1/webhooks/projects/{project_id}/ answers no array of webhooks", received=hooks,
            documented="an array of {webhook_id, name, url, event_types, …}", source=source)
    found = [hook for hook in hooks if str(hook["webhook_id"]) == webhook_id]
    require(found, f"GET /api/v1/webhooks/projects/{project_id}/ does not list the webhook {webhook_id}",
            received=[hook["webhook_id"] for hook in hooks], documented=f"the webhook {webhook_id}", source=source)
    return found[0]


@pytest.fixture(scope="module")
def own_project(mem0) -> str:
    return account(mem0)[1]


@pytest.mark.contract("Webhooks")
@pytest.mark.requires("mem0", "webhooks")
@given(event_types=event_type_lists(), fields=webhook_update_fields())
def test_a_webhook_update_without_event_types_keeps_them(mem0, own_project, ids, cleanup, run_prefix, event_types, fields):
    """A webhook update (PUT) that names no event_types changes what it names and keeps the event types."""
    name = ids.new("hook")
    create = operation_source(f"POST {WEBHOOKS}")
    created = expect(mem0.post(f"/api/v1/webhooks/projects/{own_project}/", json={
        "name": name, "url": f"https://example.com/{run_prefix}/hooks", "event_types": event_types}), 201, source=create)
    require(isinstance(created, dict) and "webhook_id" in created,
            f"POST /api/v1/webhooks/projects/{own_project}/ answers no webhook_id", received=created,
            documented="201 with the webhook, its webhook_id included", source=create)
    webhook_id = str(created["webhook_id"])
    path = f"/api/v1/webhooks/{webhook_id}/"
    track_webhook(cleanup, mem0, webhook_id)
    try:
        require(_sorted(created.get("event_types")) == sorted(event_types),
                f"POST /api/v1/webhooks/projects/{own_project}/ creates the webhook with other event_types",
                received=created.get("event_types"), documented=event_types, source=create)
        changes = {"name": f"{name}-renamed-ñ✓", "url": f"https://example.com/{run_prefix}/hooks/{name}?v=2"}
        update = {field: changes[field] for field in fields}
        source = operation_source("PUT /api/v1/webhooks/{webhook_id}/")
        expect(mem0.put(path, json=update), 200, source=source)

        def updated() -> dict[str, Any]:
            hook = webhook(mem0, own_project, webhook_id)
            listed_now = {key: hook.get(key) for key in update}
            require(listed_now == update, f"GET /api/v1/webhooks/projects/{own_project}/ after PUT {path} lists "
                    f"{listed_now!r}", received=listed_now, documented=update, source=source)
            return hook

        hook = eventually(updated, within=mem0.wait, what=f"webhook {webhook_id} updated")
        require(_sorted(hook.get("event_types")) == sorted(event_types),
                f"PUT {path} of {sorted(update)} (no event_types) changes the event_types",
                received=hook.get("event_types"), documented=f"kept: {event_types}", source=source,
                severity=Severity.CRITICAL)
    finally:
        if mem0.delete(path).status_code in (200, 204, 404):
            cleanup.forget("webhook", webhook_id)


def _sorted(values: Any) -> list[Any] | None:
    """``values`` sorted when they are a list of strings (event types), else None."""
    return sorted(values) if isinstance(values, list) and all(isinstance(v, str) for v in values) else None


# --- the key's own project (last: on a faulty server it may take the project with it) ----------------


@pytest.mark.contract("Projects and members")
@pytest.mark.requires("mem0", "destructive", "ping")
def test_the_key_s_own_project_cannot_be_deleted(mem0):
    """Deleting the API key's own project is refused with 403, and the project stays."""
    org_id, project_id = account(mem0)
    path = f"/api/v1/orgs/organizations/{org_id}/projects/{project_id}/"
    source = operation_source(f"DELETE {PROJECT}")
    refused(mem0.delete(path), 403, what=f"DELETE {path} of the key's own project", source=source)
    project = expect_kept(mem0.get(path), what=f"GET {path} after the refused delete", source=source)
    received = project.get("project_id") if isinstance(project, dict) else project
    require(received == project_id, f"GET {path} after the refused delete answers the project {received!r}",
            received=project, documented=f"the project {project_id}, kept", source=source, severity=Severity.CRITICAL)
