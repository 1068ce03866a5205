"""Entities: the users, agents, apps and runs of the key's project.

An entity exists while memories carry its id (``user_id``, ``agent_id``, ``app_id`` or
``run_id``) or after it was created explicitly with ``POST /v1/users/`` (``/agents/``,
``/apps/``, ``/runs/``), which keeps it in the ``entities`` table with its metadata (and
name). Its ``total_memories`` counts the stored memories carrying its id (expired ones too).

Decisions where FACTS.md and the documents are silent:
- An entity's ``id`` is a UUID derived from its type and name, so it is stable; the v1 paths
  accept either that id or the name as ``{entity_id}``.
- Creating an entity that exists answers 201 again and replaces its metadata (and display name;
  agents, apps and runs take a ``name``, kept but not listed: an Entity's ``name`` is its id).
- Listing answers the paginated envelope (the SDK reads ``results``), every entity on one
  page, ordered user, agent, app, run and by name. ``org_id`` / ``project_id`` other than the
  key's own select nothing (the memories belong to the key's project).
- Deleting an entity deletes every memory carrying its id (history records DELETE) and the
  explicit record, synchronously; v1 and v2 both answer 200 ``{"message": ...}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from conformance.server import faults
from conformance.server.errors import mem0_error
from conformance.server.handlers.mem0_common import own_scope
from conformance.server.registry import Call, Reply, handles
from conformance.server.store import Store, iso, now

TYPES = ("user", "agent", "app", "run")
KEY = {"user": "user_id", "agent": "agent_id", "app": "app_id", "run": "run_id"}
_NAMESPACE = uuid.UUID("4f1d5e0c-6a55-4c1b-9d0e-3f1c2a7b8e90")

CREATE_RETURNS_200 = faults.declare(
    "users-create-returns-200", "status-codes", "POST /v1/users/ answers 200 where 201 Created is documented.",
)
DELETE_KEEPS_MEMORIES = faults.declare(
    "entity-delete-keeps-memories", "deletion",
    "Deleting an entity removes the entity record but leaves the memories that carry its id.",
)


def entity_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}"))


def collect(store: Store, only: tuple[str, str] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Every entity (or ``only`` the one of that type and name), keyed by (type, name):
    {count, created_at, updated_at, record}."""
    with store.lock:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        kinds = TYPES if only is None else (only[0],)
        memories = store.memories.values() if only is None else store.select(**{KEY[only[0]]: only[1]})
        for memory in memories:
            for kind in kinds:
                name = getattr(memory, KEY[kind])
                if not name:
                    continue
                info = found.setdefault((kind, name), {"count": 0, "created_at": memory.created_at,
                                                       "updated_at": memory.updated_at, "record": None})
                info["count"] += 1
                info["created_at"] = min(info["created_at"], memory.created_at)
                info["updated_at"] = max(info["updated_at"], memory.updated_at)
        records = store.table("entities")
        if only is not None:
            records = {key: records[key] for key in (f"{only[0]}:{only[1]}",) if key in records}
        for record in records.values():
            info = found.setdefault((record["type"], record["name"]), {
                "count": 0, "created_at": record["created_at"], "updated_at": record["updated_at"], "record": None})
            info["record"] = record
            info["created_at"] = min(info["created_at"], record["created_at"])
            info["updated_at"] = max(info["updated_at"], record["updated_at"])
        return found


def view(call: Call, kind: str, name: str, info: dict[str, Any]) -> dict[str, Any]:
    """An entity as ``components/schemas/Entity``."""
    record = info["record"] or {}
    return {
        "id": entity_id(kind, name), "name": name, "type": kind,
        "created_at": iso(info["created_at"]), "updated_at": iso(info["updated_at"]),
        "total_memories": info["count"], "owner": call.settings.user_email,
        "organization": call.settings.org_id, "metadata": record.get("metadata"),
    }


def _create(call: Call, kind: str) -> Reply:
    body, key = call.body, KEY[kind]
    name = body[key]
    with call.store.lock:
        table = call.store.table("entities")
        moment = now()
        record = table.setdefault(f"{kind}:{name}", {"type": kind, "name": name, "created_at": moment})
        record["updated_at"] = moment
        record["metadata"] = body.get("metadata")
        record["label"] = body.get("name")
    answer: dict[str, Any] = {key: name}
    if "name" in body:
        answer["name"] = body["name"]
    if "metadata" in body:
        answer["metadata"] = body["metadata"]
    status = 200 if kind == "user" and call.fault(CREATE_RETURNS_200) else 201
    return Reply(status, answer)


@handles("users_create")
def create_user(call: Call) -> Reply:
    return _create(call, "user")


@handles("agents_create")
def create_agent(call: Call) -> Reply:
    return _create(call, "agent")


@handles("apps_create")
def create_app(call: Call) -> Reply:
    return _create(call, "app")


@handles("runs_create")
def create_run(call: Call) -> Reply:
    return _create(call, "run")


@handles("entities_list")
def list_entities(call: Call) -> Reply:
    """``{count, next, previous, results}`` with every entity of the key's project."""
    found = collect(call.store) if own_scope(call, call.query) else {}
    ordered = sorted(found.items(), key=lambda item: (TYPES.index(item[0][0]), item[0][1]))
    results = [view(call, kind, name, info) for (kind, name), info in ordered]
    return Reply(200, {"count": len(results), "next": None, "previous": None, "results": results})


@handles("entities_filters_list")
def list_entity_filters(call: Call) -> Reply:
    """The values an entity filter can take: the names of each entity type, sorted.

    Undocumented (the document declares no body); the answer is
    ``{"users": [...], "agents": [...], "apps": [...], "runs": [...]}``.
    """
    found = collect(call.store)
    return Reply(200, {f"{kind}s": sorted(name for (k, name) in found if k == kind) for kind in TYPES})


def find(call: Call, kind: str, ident: str) -> tuple[str, dict[str, Any]]:
    """The entity of this type named ``ident`` (or whose id is ``ident``), or 404; the store's index
    finds it by name, the names of its type by id."""
    store = call.store
    found = collect(store, (kind, ident))
    if (kind, ident) in found:
        return ident, found[(kind, ident)]
    with store.lock:
        names = {*store.memories.values_of(KEY[kind]),
                 *(record["name"] for record in store.table("entities").values() if record["type"] == kind)}
    for name in names:
        if entity_id(kind, name) == ident:
            return name, collect(store, (kind, name))[(kind, name)]
    raise mem0_error(404, f"Entity not found: no {kind} {ident!r}")


@handles("entities_read")
def read_entity(call: Call) -> Reply:
    with call.store.lock:
        name, info = find(call, call.path["entity_type"], call.path["entity_id"])
        return Reply(200, view(call, call.path["entity_type"], name, info))


def delete_entity(call: Call, kind: str, ident: str) -> Reply:
    """Delete the entity's memories (through the store, so history records DELETE) and record."""
    with call.store.lock:
        name, _ = find(call, kind, ident)
        if not call.fault(DELETE_KEEPS_MEMORIES):
            for memory in call.store.select(**{KEY[kind]: name}):
                call.store.delete(memory)
        call.store.table("entities").pop(f"{kind}:{name}", None)
    return Reply(200, {"message": "Entity deleted successfully!"})


@handles("entities_delete")
def delete_entity_v1(call: Call) -> Reply:
    return delete_entity(call, call.path["entity_type"], call.path["entity_id"])


@handles("entities_delete_v2")
def delete_entity_v2(call: Call) -> Reply:
    return delete_entity(call, call.path["entity_type"], call.path["entity_name"])
