"""Each planted fault of the Mem0 platform operations changes what a client observes.

Every test runs the same requests twice: without the fault (the correct answer) and with it
switched on (the wrong one).
"""

from __future__ import annotations

import uuid

from conformance.server import faults
from conformance.server.handlers import (
    mem0_activity,
    mem0_entities,
    mem0_exports,
    mem0_platform,
    mem0_profiles,
    mem0_projects,
    mem0_webhooks,
)
from tests.server.conftest import SETTINGS

PROJECT_PATH = f"/api/v1/orgs/organizations/{SETTINGS.org_id}/projects/{SETTINGS.project_id}/"


def remember(server, text: str, **entities):
    return server.store.add_memory(text, [{"role": "user", "content": text}], **entities)


def run_twice(server, fault: str, scenario):
    """The scenario's observation without the fault, then with it (on a fresh store each time)."""
    observed = []
    for switched_on in (False, True):
        server.store.reset()
        server.set_faults({fault} if switched_on else set())
        observed.append(scenario())
    server.set_faults(set())
    return observed


def test_every_platform_fault_is_in_the_catalog():
    """The platform faults are declared with a known family and a description."""
    names = {mem0_platform.PING_MISSING_PROJECT_ID, mem0_entities.CREATE_RETURNS_200,
             mem0_entities.DELETE_KEEPS_MEMORIES, mem0_exports.EXPORT_IGNORES_FILTERS,
             mem0_activity.FEEDBACK_ACCEPTS_UNKNOWN_MEMORY, mem0_projects.OWN_PROJECT_DELETABLE,
             mem0_projects.MEMBER_ADD_OVERWRITES_ROLE, mem0_webhooks.UPDATE_DROPS_EVENT_TYPES}
    catalog = faults.catalog()
    assert names <= set(catalog)
    assert all(catalog[name].family in faults.FAMILIES and catalog[name].description for name in names)


def test_ping_missing_project_id(mem0, server, served):
    """Without the fault the ping names the project and the SDK constructs; with it, project_id is missing."""
    from mem0 import MemoryClient

    def scenario():
        body = mem0.get("/v1/ping/").json()
        try:
            MemoryClient(api_key=SETTINGS.mem0_key, host=served.url)
            constructed = True
        except ValueError:
            constructed = False
        return body.get("project_id"), constructed

    correct, faulty = run_twice(server, mem0_platform.PING_MISSING_PROJECT_ID, scenario)
    assert correct == (SETTINGS.project_id, True)
    assert faulty == (None, False)


def test_users_create_returns_200(mem0, server):
    """Without the fault creating a user is 201 Created; with it, 200."""
    correct, faulty = run_twice(server, mem0_entities.CREATE_RETURNS_200,
                                lambda: mem0.post("/v1/users/", json={"user_id": "alice"}).status_code)
    assert (correct, faulty) == (201, 200)


def test_entity_delete_keeps_memories(mem0, server):
    """Without the fault deleting a user deletes its memories; with it, they stay (and so does the user)."""

    def scenario():
        remember(server, "likes tea", user_id="alice")
        assert mem0.delete("/v2/entities/user/alice/").status_code == 200
        return len(server.store.memories), [e["name"] for e in mem0.get("/v1/entities/").json()["results"]]

    correct, faulty = run_twice(server, mem0_entities.DELETE_KEEPS_MEMORIES, scenario)
    assert correct == (0, [])
    assert faulty == (1, ["alice"])


def test_export_ignores_filters(mem0, server):
    """Without the fault an export for alice holds only her memories; with it, bob's too."""

    def scenario():
        remember(server, "alice's", user_id="alice")
        remember(server, "bob's", user_id="bob")
        export_id = mem0.post("/v1/exports/", json={"schema": {}, "filters": {"user_id": "alice"}}).json()["id"]
        exported = mem0.post("/v1/exports/get/", json={"memory_export_id": export_id}).json()["memories"]
        return [m["memory"] for m in exported]

    correct, faulty = run_twice(server, mem0_exports.EXPORT_IGNORES_FILTERS, scenario)
    assert correct == ["alice's"]
    assert faulty == ["alice's", "bob's"]


def test_feedback_accepts_unknown_memory(mem0, server):
    """Without the fault feedback for an unknown memory is refused (4xx); with it, 200 and stored."""

    def scenario():
        response = mem0.post("/v1/feedback/", json={"memory_id": str(uuid.uuid4()), "feedback": "POSITIVE"})
        return response.status_code // 100, len(server.store.table("feedback"))

    correct, faulty = run_twice(server, mem0_activity.FEEDBACK_ACCEPTS_UNKNOWN_MEMORY, scenario)
    assert correct == (4, 0)
    assert faulty == (2, 1)


def test_own_project_deletable(mem0, server):
    """Without the fault deleting the key's own project is 403 and it stays; with it, 200 and it is gone."""

    def scenario():
        deleted = mem0.delete(PROJECT_PATH).status_code
        return deleted, mem0.get(PROJECT_PATH).status_code

    correct, faulty = run_twice(server, mem0_projects.OWN_PROJECT_DELETABLE, scenario)
    assert correct == (403, 200)
    assert faulty == (200, 404)


def test_project_member_add_overwrites_role(mem0, server):
    """Without the fault adding an existing member is 400 and its role stays; with it, 200 and the role changes."""
    members = PROJECT_PATH + "members/"

    def scenario():
        mem0.post(members, json={"email": "dev@example.com", "role": "READER"})
        again = mem0.post(members, json={"email": "dev@example.com", "role": "OWNER"}).status_code
        roles = {m["username"]: m["role"] for m in mem0.get(members).json()["members"]}
        return again, roles["dev@example.com"]

    correct, faulty = run_twice(server, mem0_projects.MEMBER_ADD_OVERWRITES_ROLE, scenario)
    assert correct == (400, "READER")
    assert faulty == (200, "OWNER")


def test_webhook_update_drops_event_types(mem0, server):
    """Without the fault renaming a webhook keeps its event types; with it, they are cleared."""
    hooks = f"/api/v1/webhooks/projects/{SETTINGS.project_id}/"

    def scenario():
        hook = mem0.post(hooks, json={"url": "https://example.com/h", "event_types": ["memory_delete"]}).json()
        assert mem0.put(f"/api/v1/webhooks/{hook['webhook_id']}/", json={"name": "renamed"}).status_code == 200
        return mem0.get(hooks).json()[0]["event_types"]

    correct, faulty = run_twice(server, mem0_webhooks.UPDATE_DROPS_EVENT_TYPES, scenario)
    assert correct == ["memory_delete"]
    assert faulty == []



def _profiles_on(mem0, **user_settings):
    body = {"enabled": True, **({"entities": {"user": user_settings}} if user_settings else {})}
    assert mem0.post("/v2/profiles/settings/", json=body).status_code == 200


def test_profile_settings_drop_instructions(mem0, server):
    """Without the fault custom_instructions are written and read back; with it, they come back null."""

    def scenario():
        _profiles_on(mem0, custom_instructions="Keep it short.")
        return mem0.get("/v2/profiles/settings/").json()["entities"]["user"]["custom_instructions"]

    correct, faulty = run_twice(server, mem0_profiles.SETTINGS_DROP_INSTRUCTIONS, scenario)
    assert (correct, faulty) == ("Keep it short.", None)


def test_profile_job_idempotency_ignored(mem0, server):
    """Without the fault a repeated Idempotency-Key answers the first job again; with it, a second job is queued."""

    def scenario():
        remember(server, "Drinks green tea", user_id="ana")
        _profiles_on(mem0)
        body = {"operation": "trigger", "entity_type": "user", "entity_id": "ana"}
        first, again = (mem0.post("/v2/profiles/jobs/", json=body, headers={"Idempotency-Key": "k"}).json()
                        for _ in range(2))
        return first["job_id"] == again["job_id"], again["replayed"]

    correct, faulty = run_twice(server, mem0_profiles.IDEMPOTENCY_IGNORED, scenario)
    assert correct == (True, True) and faulty == (False, False)


def test_profile_of_everyone(mem0, server):
    """Without the fault a profile holds the user's own memories; with it, every memory of the project."""

    def scenario():
        remember(server, "Ana drinks green tea", user_id="ana")
        remember(server, "Ben drinks black tea", user_id="ben")
        _profiles_on(mem0, schema={"type": "object", "properties": {"tea": {"type": "array", "description": "drinks"}}})
        mem0.post("/v2/profiles/jobs/", json={"operation": "trigger", "entity_type": "user", "entity_id": "ana"})
        return mem0.get("/v2/entities/user/ana/profile/").json()["profile"]

    correct, faulty = run_twice(server, mem0_profiles.PROFILE_OF_EVERYONE, scenario)
    assert correct == {"tea": ["Ana drinks green tea"]}
    assert faulty == {"tea": ["Ana drinks green tea", "Ben drinks black tea"]}
