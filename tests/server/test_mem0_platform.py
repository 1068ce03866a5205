"""The Mem0 platform operations of the reference server: entities, activity, exports, summary,
feedback, organizations, projects, members and webhooks.

Memories are put into the store directly (the memory core is tested elsewhere); every answer
is also checked against the response schema the effective document declares for it.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from conformance.server.operations import load_operations
from conformance.specs import effective
from tests.server.conftest import SETTINGS

ORG, PROJECT, ME = SETTINGS.org_id, SETTINGS.project_id, SETTINGS.user_email
ORGS = "/api/v1/orgs/organizations/"
OPERATIONS = {(o.method, o.path): o for o in load_operations() if o.api == "mem0"}


def conforms(response: httpx.Response, method: str, template: str) -> Any:
    """The response's JSON, after checking its status is declared and its body fits the schema."""
    operation = OPERATIONS[(method, template)]
    declared = effective("mem0")["paths"][template][method.lower()]["responses"]
    assert str(response.status_code) in declared, response.text
    body = response.json()
    answer = declared[str(response.status_code)]
    if "$ref" in answer:
        answer = effective("mem0")["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if schema is not None:
        errors = [e.message for e in operation.validator(schema).iter_errors(body)]
        assert not errors, errors
    return body


def remember(server, text: str, **entities: Any):
    """A memory stored directly, as if added with infer=false."""
    return server.store.add_memory(text, [{"role": "user", "content": text}], **entities)


# --- ping --------------------------------------------------------------------------------------


def test_ping_names_the_keys_organization_project_and_email(mem0):
    """GET /v1/ping/ answers status ok with the key's org_id, project_id and user_email."""
    body = conforms(mem0.get("/v1/ping/"), "GET", "/v1/ping/")
    assert body == {"status": "ok", "org_id": ORG, "project_id": PROJECT, "user_email": ME}


# --- entities ----------------------------------------------------------------------------------


def test_entities_are_derived_from_memories_with_their_counts(mem0, server):
    """Every distinct user/agent/app/run id of the stored memories is an entity with its memory count."""
    remember(server, "a", user_id="alice", agent_id="helper")
    remember(server, "b", user_id="alice")
    remember(server, "c", run_id="r1")
    body = conforms(mem0.get("/v1/entities/"), "GET", "/v1/entities/")
    listed = {(e["type"], e["name"]): e["total_memories"] for e in body["results"]}
    assert listed == {("user", "alice"): 2, ("agent", "helper"): 1, ("run", "r1"): 1}
    assert body["count"] == 3 and body["next"] is None


def test_created_entities_are_listed_without_memories(mem0):
    """POST /v1/users/ (agents, apps, runs) answers 201 with the entity; it is listed with 0 memories."""
    for path, key in (("/v1/users/", "user_id"), ("/v1/agents/", "agent_id"), ("/v1/apps/", "app_id"),
                      ("/v1/runs/", "run_id")):
        response = mem0.post(path, json={key: "e1", "metadata": {"tier": "gold"}})
        assert response.status_code == 201
        assert conforms(response, "POST", path) == {key: "e1", "metadata": {"tier": "gold"}}
    results = mem0.get("/v1/entities/").json()["results"]
    assert [(e["type"], e["total_memories"], e["metadata"]) for e in results] == [
        (kind, 0, {"tier": "gold"}) for kind in ("user", "agent", "app", "run")]


def test_entities_of_another_project_are_none(mem0, server):
    """Listing entities for a project_id other than the key's own selects nothing."""
    remember(server, "a", user_id="alice")
    assert mem0.get("/v1/entities/", params={"project_id": "someone-else"}).json()["results"] == []
    assert len(mem0.get("/v1/entities/", params={"project_id": PROJECT, "org_id": ORG}).json()["results"]) == 1


def test_entity_is_read_by_name_or_by_id_and_unknown_is_404(mem0, server):
    """GET /v1/entities/{type}/{id}/ finds an entity by its name or its id; an unknown one is 404."""
    remember(server, "a", user_id="alice")
    template = "/v1/entities/{entity_type}/{entity_id}/"
    by_name = conforms(mem0.get("/v1/entities/user/alice/"), "GET", template)
    assert (by_name["name"], by_name["total_memories"]) == ("alice", 1)
    assert mem0.get(f"/v1/entities/user/{by_name['id']}/").json() == by_name
    missing = mem0.get("/v1/entities/agent/alice/")
    assert missing.status_code == 404 and "error" in conforms(missing, "GET", template)


def test_entity_filters_list_the_names_of_each_type(mem0, server):
    """GET /v1/entities/filters/ lists the entity names of each type, sorted."""
    remember(server, "a", user_id="zoe", app_id="shop")
    remember(server, "b", user_id="adam")
    assert mem0.get("/v1/entities/filters/").json() == {"users": ["adam", "zoe"], "agents": [], "apps": ["shop"],
                                                        "runs": []}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_deleting_an_entity_deletes_its_memories_and_records_history(mem0, server, version):
    """Deleting a user deletes its memories (history DELETE), keeps others', and the user is gone."""
    mine = remember(server, "mine", user_id="alice")
    other = remember(server, "other", user_id="bob")
    mem0.post("/v1/users/", json={"user_id": "alice"})
    response = mem0.delete(f"/{version}/entities/user/alice/")
    template = ("/v1/entities/{entity_type}/{entity_id}/" if version == "v1"
                else "/v2/entities/{entity_type}/{entity_name}/")
    assert response.status_code == 200 and conforms(response, "DELETE", template)["message"]
    assert set(server.store.memories) == {other.id}
    assert [entry["event"] for entry in server.store.history_of(mine.id)] == ["ADD", "DELETE"]
    assert [e["name"] for e in mem0.get("/v1/entities/").json()["results"]] == ["bob"]
    assert mem0.delete(f"/{version}/entities/user/alice/").status_code == 404


def test_deleting_with_an_invalid_entity_type_is_400_and_changes_nothing(mem0, server):
    """An entity type other than user, agent, app or run is 400; no memory is deleted."""
    remember(server, "a", user_id="alice")
    assert mem0.delete("/v2/entities/person/alice/").status_code == 400
    assert len(server.store.memories) == 1


# --- events, stats, feedback --------------------------------------------------------------------


def test_events_list_the_platform_events_newest_first(mem0, server):
    """GET /v1/events/ lists the store's events, newest first, in the paginated envelope."""
    first = server.store.schedule("ADD", lambda: [])
    second = server.store.schedule("ADD", lambda: [])
    body = mem0.get("/v1/events/").json()
    assert [e["id"] for e in body["results"]] == [second.id, first.id]
    assert body["results"][0]["status"] == "SUCCEEDED" and body["count"] == 2


def test_memory_events_list_every_change_newest_first(mem0, server):
    """GET /v1/memories/events/ lists the ADD/UPDATE/DELETE history of all memories, newest first."""
    memory = remember(server, "a", user_id="alice")
    server.store.update(memory, text="b")
    server.store.delete(memory)
    events = mem0.get("/v1/memories/events/").json()["results"]
    assert [e["event"] for e in events] == ["DELETE", "UPDATE", "ADD"]


def test_the_memory_events_feed_keeps_the_newest_entries(mem0, server):
    """The feed is bounded (one page, no paging parameters declared): the newest entries, counted as shown."""
    from conformance.server.handlers.mem0_activity import ACTIVITY_FEED_SIZE

    memories = [remember(server, f"m{i}", user_id="alice") for i in range(ACTIVITY_FEED_SIZE + 5)]
    body = mem0.get("/v1/memories/events/").json()
    assert body["count"] == len(body["results"]) == ACTIVITY_FEED_SIZE
    assert body["results"][0]["memory_id"] == memories[-1].id


def test_stats_count_memories_events_and_entities(mem0, server):
    """GET /v1/stats/ counts stored and created memories, add events and entities."""
    remember(server, "a", user_id="alice")
    server.store.delete(remember(server, "b", user_id="bob"))
    server.store.schedule("ADD", lambda: [])
    stats = mem0.get("/v1/stats/").json()
    assert stats["total_memories"] == 1 and stats["total_memories_created"] == 2
    assert stats["total_add_events"] == 1 and stats["total_search_events"] == 0
    assert stats["total_users"] == 1


def test_feedback_is_stored_and_a_second_one_replaces_it(mem0, server):
    """POST /v1/feedback/ answers {id, feedback, feedback_reason}; feedback again keeps the id."""
    memory = remember(server, "a", user_id="alice")
    first = conforms(mem0.post("/v1/feedback/", json={"memory_id": memory.id, "feedback": "POSITIVE"}),
                     "POST", "/v1/feedback/")
    assert first["feedback"] == "POSITIVE" and first["feedback_reason"] is None
    second = mem0.post("/v1/feedback/", json={"memory_id": memory.id, "feedback": None, "feedback_reason": "meh"})
    assert second.json() == {"id": first["id"], "feedback": None, "feedback_reason": "meh"}
    assert server.store.table("feedback")[memory.id]["feedback_reason"] == "meh"


UNKNOWN_MEMORY_STATUS = 404 if "404" in effective("mem0")["paths"]["/v1/feedback/"]["post"]["responses"] else 400


@pytest.mark.parametrize(("memory_id", "status", "message"), [
    ("not-a-uuid", 400, "memory_id should be a valid UUID"),
    ("3b2f6c1e-8d4a-4e9b-a7c5-0f1e2d3c4b5a", UNKNOWN_MEMORY_STATUS, "Memory not found!"),
])
def test_feedback_for_a_missing_memory_is_refused(mem0, server, memory_id, status, message):
    """Feedback naming a malformed id is 400, an unknown memory 404 if declared (else 400); nothing is stored."""
    response = mem0.post("/v1/feedback/", json={"memory_id": memory_id, "feedback": "NEGATIVE"})
    assert (response.status_code, response.json()) == (status, {"error": message})
    assert server.store.table("feedback") == {}


def test_feedback_outside_the_enum_is_400(mem0, server):
    """A feedback value other than POSITIVE, NEGATIVE, VERY_NEGATIVE or null is 400."""
    memory = remember(server, "a", user_id="alice")
    assert mem0.post("/v1/feedback/", json={"memory_id": memory.id, "feedback": "GREAT"}).status_code == 400


# --- exports and summary ------------------------------------------------------------------------

SCHEMA = {"title": "Export", "type": "object", "properties": {"memory": {"type": "string"}, "mood": {}}}


def test_an_export_projects_the_matching_memories_onto_its_schema(mem0, server):
    """An export answers 201 {message, id}; reading it gives the user's memories projected onto the schema."""
    remember(server, "likes tea", user_id="alice", metadata={"mood": "calm"})
    remember(server, "likes coffee", user_id="bob")
    created = mem0.post("/v1/exports/", json={"schema": SCHEMA, "filters": {"user_id": "alice"}})
    assert created.status_code == 201
    export_id = conforms(created, "POST", "/v1/exports/")["id"]
    for path in ("/v1/exports/get/", "/v1/exports/get"):
        body = conforms(mem0.post(path, json={"memory_export_id": export_id}), "POST", path)
        assert body["memories"] == [{"memory": "likes tea", "mood": "calm"}] and body["count"] == 1


def test_export_filters_take_the_and_form_and_top_level_entity_ids(mem0, server):
    """Export filters accept {"AND": [...]} (the SDK's example) and entity ids at the top of the body."""
    remember(server, "a", user_id="alice", agent_id="x")
    remember(server, "b", user_id="alice", agent_id="y")
    both = {"AND": [{"user_id": "alice"}, {"agent_id": "y"}]}
    and_form = mem0.post("/v1/exports/", json={"schema": {}, "filters": both})
    top_level = mem0.post("/v1/exports/", json={"schema": {}, "user_id": "alice"})
    read = [mem0.post("/v1/exports/get/", json={"memory_export_id": r.json()["id"]}).json()
            for r in (and_form, top_level)]
    assert [m["memory"] for m in read[0]["memories"]] == ["b"]
    assert [m["memory"] for m in read[1]["memories"]] == ["a", "b"] and "hash" in read[1]["memories"][0]


def test_reading_an_export_without_id_finds_the_latest_matching_one(mem0, server):
    """Without an id, the latest export (or the latest whose filters name the given ids) is read."""
    remember(server, "a", user_id="alice")
    alice = mem0.post("/v1/exports/", json={"schema": {}, "filters": {"user_id": "alice"}}).json()["id"]
    everyone = mem0.post("/v1/exports/", json={"schema": {}}).json()["id"]
    assert mem0.post("/v1/exports/get/", json={}).json()["id"] == everyone
    assert mem0.post("/v1/exports/get/", json={"filters": {"user_id": "alice"}}).json()["id"] == alice
    missing = mem0.post("/v1/exports/get/", json={"filters": {"user_id": "carol"}})
    assert (missing.status_code, missing.json()) == (404, {"error": "No memory export request found"})


@pytest.mark.parametrize("key", ["org_id", "project_id"])
def test_another_organization_or_project_holds_none_of_the_key_s_records(mem0, server, key):
    """Naming the key's own organization (project) changes nothing; naming another selects nothing: no memory in a
    list or an export, no entity, no export to read."""
    remember(server, "a", user_id="alice")
    export = mem0.post("/v1/exports/", json={"schema": {}, "filters": {"user_id": "alice"}}).json()["id"]
    own = {"org_id": SETTINGS.org_id, "project_id": SETTINGS.project_id}[key]
    for scope, found in ((own, True), (str(uuid.uuid4()), False)):
        listed = mem0.post("/v2/memories/", params={key: scope}, json={"filters": {"user_id": "alice"}}).json()
        entities = mem0.get("/v1/entities/", params={key: scope}).json()["results"]
        read = mem0.post("/v1/exports/get/", json={"memory_export_id": export, key: scope})
        assert (len(listed), len(entities), read.status_code) == ((1, 1, 200) if found else (0, 0, 404)), scope


def test_an_unknown_export_is_404(mem0):
    """Reading an export id that was never created, or any export before the first, is 404."""
    assert mem0.post("/v1/exports/get/", json={"memory_export_id": str(uuid.uuid4())}).status_code == 404
    assert mem0.post("/v1/exports/get", json={}).status_code == 404


@pytest.mark.parametrize("body", [{"filters": {"user_id": "a"}}, {"schema": {}, "filters": {"colour": "red"}},
                                  {"schema": "not an object"}])
def test_an_export_without_schema_or_with_unknown_filters_is_400(mem0, server, body):
    """An export without an object schema, or with an unknown filter key, is 400 and creates nothing."""
    response = mem0.post("/v1/exports/", json=body)
    assert response.status_code == 400 and conforms(response, "POST", "/v1/exports/")
    assert server.store.table("exports") == {}


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    for _ in range(levels):
        value = {"a": value}
    return value


def test_deeply_nested_schemas_and_filters_are_400(mem0, server):
    """An export schema or filters nested hundreds of levels deep are 400, never a server error."""
    deep = nested(600)
    assert mem0.post("/v1/exports/", json={"schema": deep}).status_code == 400
    assert mem0.post("/v1/exports/", json={"schema": {}, "filters": {"metadata": deep}}).status_code == 400
    assert mem0.post("/v1/summary/", json={"filters": {"metadata": deep}}).status_code == 400
    assert mem0.post("/v1/exports/", json={"schema": nested(60)}).status_code == 201


def test_summary_lists_the_matching_unexpired_memories(mem0, server):
    """POST /v1/summary/ summarises the memories matching its filters (all without filters), expired ones left out."""
    remember(server, "likes tea", user_id="alice")
    remember(server, "likes coffee", user_id="bob")
    remember(server, "old news", user_id="alice", expiration_date="2000-01-01")
    alice = conforms(mem0.post("/v1/summary/", json={"filters": {"user_id": "alice"}}), "POST", "/v1/summary/")
    assert (alice["summary"], alice["total_memories"]) == ("- likes tea", 1)
    everyone = mem0.post("/v1/summary/", json={}).json()
    assert everyone["summary"] == "- likes tea\n- likes coffee"
    assert mem0.post("/v1/summary/", json={"filters": {"OR": [{"user_id": "bob"}, {"keywords": "TEA"}]}}).json()[
        "total_memories"] == 2


def test_summary_with_an_unknown_filter_key_is_400(mem0):
    """Filters naming an unknown top-level key are 400 (MemoryFilters)."""
    response = mem0.post("/v1/summary/", json={"filters": {"user_id": "alice", "colour": "red"}})
    assert response.status_code == 400 and "colour" in response.json()["error"]


# --- organizations and members -------------------------------------------------------------------


def test_the_keys_organization_exists_from_the_start(mem0):
    """GET .../organizations/ lists the key's organization, its user the owner and only member."""
    (org,) = conforms(mem0.get(ORGS), "GET", ORGS)
    assert (org["org_id"], org["contact_email"], org["members"]) == (ORG, ME, [org["owner"]])


def test_an_organization_is_created_read_and_deleted(mem0):
    """A created organization answers 201 {message, org_id}, is read by its id, and deleted with 200."""
    created = mem0.post(ORGS, json={"name": "Acme"})
    assert created.status_code == 201
    org_id = conforms(created, "POST", ORGS)["org_id"]
    template = ORGS + "{org_id}/"
    assert conforms(mem0.get(f"{ORGS}{org_id}/"), "GET", template)["name"] == "Acme"
    assert len(mem0.get(ORGS).json()) == 2
    assert conforms(mem0.delete(f"{ORGS}{org_id}/"), "DELETE", template)["message"]
    assert mem0.get(f"{ORGS}{org_id}/").status_code == 404
    assert mem0.delete(f"{ORGS}{org_id}/").status_code == 404


def test_the_key_cannot_delete_its_own_organization(mem0):
    """Deleting the key's own organization is 403 and the organization stays."""
    response = mem0.delete(f"{ORGS}{ORG}/")
    assert response.status_code == 403 and conforms(response, "DELETE", ORGS + "{org_id}/")["message"]
    assert [o["org_id"] for o in mem0.get(ORGS).json()] == [ORG]


def test_a_blank_organization_name_is_400(mem0):
    """An organization name of white space only is 400 with an error naming the field."""
    response = mem0.post(ORGS, json={"name": "  "})
    assert response.status_code == 400 and "name" in conforms(response, "POST", ORGS)["error"]


def test_organization_members_are_added_updated_and_removed(mem0):
    """A member is added (201), listed with its role, re-roled (200) and removed (200)."""
    members = f"{ORGS}{ORG}/members/"
    template = ORGS + "{org_id}/members/"
    added = mem0.post(members, json={"email": "dev@example.com", "role": "READER"})
    assert added.status_code == 201 and conforms(added, "POST", template)
    assert conforms(mem0.put(members, json={"email": "dev@example.com", "role": "OWNER"}), "PUT", template)
    listed = conforms(mem0.get(members), "GET", template)["members"]
    assert [(m["user_id"], m["role"]) for m in listed] == [(ME, "OWNER"), ("dev@example.com", "OWNER")]
    removed = mem0.request("DELETE", members, json={"email": "dev@example.com"})
    assert removed.status_code == 200 and conforms(removed, "DELETE", template)
    assert [m["user_id"] for m in mem0.get(members).json()["members"]] == [ME]


@pytest.mark.parametrize(("method", "body", "status"), [
    ("POST", {"email": "dev@example.com", "role": "ADMIN"}, 400),
    ("POST", {"email": "not-an-email", "role": "READER"}, 400),
    ("POST", {"email": "dev@example.com", "role": "READER"}, 400),  # already a member
    ("PUT", {"email": "nobody@example.com", "role": "READER"}, 404),
    ("PUT", {"email": ME, "role": "READER"}, 400),
    ("DELETE", {"email": "nobody@example.com"}, 404),
    ("DELETE", {"email": ME}, 400),
])
def test_wrong_member_changes_are_refused_and_change_nothing(mem0, method, body, status):
    """Invalid roles or emails, duplicates, unknown members and the key's own user are refused."""
    members = f"{ORGS}{ORG}/members/"
    mem0.post(members, json={"email": "dev@example.com", "role": "READER"})
    before = mem0.get(members).json()
    response = mem0.request(method, members, json=body)
    assert response.status_code == status
    conforms(response, method, ORGS + "{org_id}/members/")
    assert mem0.get(members).json() == before


def test_members_of_an_unknown_organization_are_404(mem0):
    """Every member operation on an unknown organization is 404 Organization not found."""
    members = f"{ORGS}{uuid.uuid4()}/members/"
    assert mem0.get(members).json() == {"message": "Organization not found"}
    assert mem0.post(members, json={"email": "a@b.co", "role": "READER"}).status_code == 404


# --- projects ------------------------------------------------------------------------------------

PROJECTS = f"{ORGS}{ORG}/projects/"


def test_the_keys_project_is_read_with_its_owner(mem0):
    """GET .../projects/{project_id}/ of the key's project lists the key's user as OWNER."""
    body = conforms(mem0.get(f"{PROJECTS}{PROJECT}/"), "GET", ORGS + "{org_id}/projects/{project_id}/")
    assert body["project_id"] == PROJECT and body["members"][0]["role"] == "OWNER"


def test_a_project_is_created_listed_updated_and_deleted(mem0):
    """A created project (200 {message, project_id}) is listed, PATCHed, and deleted."""
    created = mem0.post(PROJECTS, json={"name": "Side", "description": "tests"})
    project_id = conforms(created, "POST", ORGS + "{org_id}/projects/")["project_id"]
    listed = conforms(mem0.get(PROJECTS), "GET", ORGS + "{org_id}/projects/")
    assert [p["project_id"] for p in listed] == [PROJECT, project_id]
    one = f"{PROJECTS}{project_id}/"
    template = ORGS + "{org_id}/projects/{project_id}/"
    patch = {"name": "Renamed", "custom_instructions": "be brief", "decay": True}
    assert conforms(mem0.patch(one, json=patch), "PATCH", template)["message"]
    body = mem0.get(one).json()
    assert (body["name"], body["description"], body["custom_instructions"], body["decay"]) == (
        "Renamed", "tests", "be brief", True)
    assert mem0.delete(one).status_code == 200
    assert mem0.get(one).status_code == 404


def test_the_key_cannot_delete_its_own_project(mem0):
    """Deleting the key's own project is 403 and the project stays."""
    response = mem0.delete(f"{PROJECTS}{PROJECT}/")
    assert response.status_code == 403 and conforms(response, "DELETE", ORGS + "{org_id}/projects/{project_id}/")
    assert mem0.get(f"{PROJECTS}{PROJECT}/").status_code == 200


def test_a_project_is_404_under_another_organization(mem0):
    """A project addressed under an organization it does not belong to is 404."""
    other = mem0.post(ORGS, json={"name": "Other"}).json()["org_id"]
    assert mem0.get(f"{ORGS}{other}/projects/{PROJECT}/").status_code == 404
    assert mem0.get(f"{ORGS}{other}/projects/").json() == []
    assert mem0.get(f"{ORGS}{uuid.uuid4()}/projects/").status_code == 404


def test_an_empty_patch_changes_nothing(mem0):
    """A PATCH without any field answers 200 and leaves the project as it was."""
    before = mem0.get(f"{PROJECTS}{PROJECT}/").json()
    assert mem0.patch(f"{PROJECTS}{PROJECT}/", json={}).status_code == 200
    assert mem0.get(f"{PROJECTS}{PROJECT}/").json() == before


def test_project_members_are_added_updated_and_removed(mem0):
    """A project member is added, re-roled and removed; the email names it in every answer."""
    members = f"{PROJECTS}{PROJECT}/members/"
    template = ORGS + "{org_id}/projects/{project_id}/members/"
    assert conforms(mem0.post(members, json={"email": "dev@example.com", "role": "READER"}), "POST", template)
    assert conforms(mem0.put(members, json={"email": "dev@example.com", "role": "OWNER"}), "PUT", template)
    listed = conforms(mem0.get(members), "GET", template)["members"]
    assert [(m["username"], m["role"]) for m in listed] == [(ME, "OWNER"), ("dev@example.com", "OWNER")]
    assert conforms(mem0.delete(members, params={"email": "dev@example.com"}), "DELETE", template)
    assert mem0.delete(members, params={"email": "dev@example.com"}).status_code == 404


def test_project_member_mistakes_are_refused(mem0):
    """A duplicate or badly-roled member is 400; the key's own membership is 403; nothing changes."""
    members = f"{PROJECTS}{PROJECT}/members/"
    mem0.post(members, json={"email": "dev@example.com", "role": "READER"})
    before = mem0.get(members).json()
    assert mem0.post(members, json={"email": "dev@example.com", "role": "OWNER"}).status_code == 400
    assert mem0.put(members, json={"email": "dev@example.com", "role": "KING"}).status_code == 400
    assert mem0.put(members, json={"email": ME, "role": "READER"}).status_code == 403
    assert mem0.delete(members, params={"email": ME}).status_code == 403
    assert mem0.get(members).json() == before


# --- webhooks ------------------------------------------------------------------------------------

HOOKS = f"/api/v1/webhooks/projects/{PROJECT}/"


def test_a_webhook_is_created_listed_updated_and_deleted(mem0):
    """A webhook is created (201), listed, updated in part (200) and deleted (200)."""
    created = mem0.post(HOOKS, json={"url": "https://example.com/hook", "name": "h",
                                     "event_types": ["memory_add", "memory_add"]})
    assert created.status_code == 201
    hook = conforms(created, "POST", "/api/v1/webhooks/projects/{project_id}/")
    assert (hook["event_types"], hook["is_active"], hook["project"]) == (["memory_add"], True, "Reference project")
    one = f"/api/v1/webhooks/{hook['webhook_id']}/"
    updated = mem0.put(one, json={"name": "renamed", "is_active": False})
    assert conforms(updated, "PUT", "/api/v1/webhooks/{webhook_id}/")
    (listed,) = conforms(mem0.get(HOOKS), "GET", "/api/v1/webhooks/projects/{project_id}/")
    assert (listed["name"], listed["event_types"], listed["is_active"]) == ("renamed", ["memory_add"], False)
    assert conforms(mem0.delete(one), "DELETE", "/api/v1/webhooks/{webhook_id}/")["message"]
    assert mem0.get(HOOKS).json() == []
    assert mem0.delete(one).status_code == 404 and mem0.put(one, json={}).status_code == 404


def test_a_webhook_subscribes_to_every_event_by_default(mem0):
    """Without event_types a webhook subscribes to memory_add, memory_update and memory_delete."""
    hook = mem0.post(HOOKS, json={"url": "http://localhost:9/h"}).json()
    assert hook["event_types"] == ["memory_add", "memory_update", "memory_delete"] and hook["name"] == ""


@pytest.mark.parametrize("body", [{"url": "not a url"}, {"url": "ftp://example.com"}, {"url": "http://[x"},
                                  {"url": "https://example.com:99999"},
                                  {"url": "https://example.com", "event_types": ["memory:add"]}])
def test_a_bad_webhook_is_400(mem0, body):
    """A URL that is not http(s), or an event type outside the enum, is 400 and creates nothing."""
    assert mem0.post(HOOKS, json=body).status_code == 400
    assert mem0.get(HOOKS).json() == []


def test_webhooks_of_an_unknown_project_are_404_and_go_with_a_deleted_project(mem0):
    """An unknown project's webhooks are 404; deleting a project deletes its webhooks."""
    assert mem0.get("/api/v1/webhooks/projects/nope/").status_code == 404
    assert mem0.post("/api/v1/webhooks/projects/nope/", json={"url": "https://e.com"}).status_code == 404
    project_id = mem0.post(PROJECTS, json={"name": "Temp"}).json()["project_id"]
    hook = mem0.post(f"/api/v1/webhooks/projects/{project_id}/", json={"url": "https://e.com"}).json()
    mem0.delete(f"{PROJECTS}{project_id}/")
    assert mem0.delete(f"/api/v1/webhooks/{hook['webhook_id']}/").status_code == 404


# --- the mem0ai SDK ----------------------------------------------------------------------------------


def test_the_sdk_drives_the_platform_operations(served, server):
    """MemoryClient's users, exports, summary, feedback, project and webhook calls work end to end."""
    from mem0 import MemoryClient

    client = MemoryClient(api_key=SETTINGS.mem0_key, host=served.url)
    memory = remember(server, "likes tea", user_id="alice")
    remember(server, "likes coffee", user_id="bob")
    assert {e["name"] for e in client.users()["results"]} == {"alice", "bob"}
    export = client.create_memory_export(schema=SCHEMA, filters={"AND": [{"user_id": "alice"}]})
    assert client.get_memory_export(memory_export_id=export["id"])["memories"] == [{"memory": "likes tea"}]
    assert client.get_summary(filters={"user_id": "bob"})["summary"] == "- likes coffee"
    assert client.feedback(memory.id, "positive")["feedback"] == "POSITIVE"
    assert client.project.get()["project_id"] == PROJECT
    client.project.add_member("dev@example.com")
    assert len(client.project.get_members()["members"]) == 2
    hook = client.create_webhook("https://example.com/h", "h", PROJECT, ["memory_add"])
    client.update_webhook(hook["webhook_id"], name="h2")
    assert client.get_webhooks(PROJECT)[0]["name"] == "h2"
    client.delete_webhook(hook["webhook_id"])
    client.delete_users(user_id="alice")
    assert {e["name"] for e in client.users()["results"]} == {"bob"}
    client.reset()
    assert client.users()["results"] == [] and server.store.memories == {}
