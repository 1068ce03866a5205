"""Mem0 batch update and delete (PUT/DELETE /v1/batch/) and delete-all (DELETE /v1/memories/).

Batches are atomic: every item is checked first (the 1000-item limit, unknown ids, immutable
memories in an update, items that change nothing) and any problem gets 400 with nothing
changed; only then are all items applied.

Decisions where FACTS.md says nothing:
- An unknown or deleted memory id in a batch gets 400 naming the id (the batch operations
  declare no 404).
- A batch-update item must change something (``text`` and/or ``metadata``); the same id twice
  is applied in order; a batch delete naming an id twice deletes it once.
- Delete-all deletes the memories matching every given entity id, ``*`` meaning any non-null
  value; ``*`` for all four ids deletes every memory (FACTS.md "Delete-all"). It answers 200
  ``{"message": "Memories deleted successfully!"}`` and records a DELETE in each history.
  The ``metadata`` filter (a deepObject the server cannot read) is not applied; an ``org_id`` or
  ``project_id`` other than the key's own deletes nothing.
"""

from __future__ import annotations

from typing import Any

from conformance.server import faults
from conformance.server.errors import ApiError
from conformance.server.filters import compile_filters, required_entities
from conformance.server.handlers.mem0_common import (
    IMMUTABLE_MESSAGE,
    MEMORY_NOT_FOUND,
    TOMBSTONES,
    apply_update,
    bad_request,
    find_memory,
    own_scope,
    update_changes,
)
from conformance.server.registry import Call, Reply, handles
from conformance.server.store import ENTITY_KEYS, Memory
from conformance.specs import resolve

BATCH_LIMIT = 1000
DELETE_ALL_REQUIRED = ("At least one filter is required: user_id, agent_id, app_id or run_id "
                       "(all four '*' deletes every memory).")

IMMUTABLE_BATCH_UPDATE_ALLOWED = faults.declare(
    "immutable-batch-update-allowed", "immutability",
    "PUT /v1/batch/ changes immutable memories (only the single PUT refuses).",
)
BATCH_LIMIT_OFF_BY_ONE = faults.declare(
    "batch-limit-off-by-one", "batch", "A batch of 1001 memories is accepted; the limit check is off by one."
)
BATCH_NOT_ATOMIC = faults.declare(
    "batch-not-atomic", "batch",
    "A batch with a bad item answers 400 but keeps the changes made by the items before it.",
)


def declared_limit(call: Call) -> int | None:
    """The ``maxItems`` of the body's ``memories`` in the operation's document (1000), None when it declares none."""
    document = call.operation.document
    schema = resolve(document, call.operation.body_schema or {})
    memories = resolve(document, (schema.get("properties") or {}).get("memories") or {})
    limit = memories.get("maxItems")
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else None


def _check_limit(call: Call, items: list[Any], verb: str) -> None:
    """The documented limit, checked here with the API's own message (FACTS.md "Batch")."""
    limit = declared_limit(call)
    if limit is None:
        return
    if call.fault(BATCH_LIMIT_OFF_BY_ONE):
        limit += 1
    if len(items) > limit:
        raise bad_request(f"Maximum of {BATCH_LIMIT} memories can be {verb} in a single request")


def _batch_memory(call: Call, index: int, memory_id: str) -> Memory:
    try:
        return find_memory(call, memory_id)
    except ApiError:
        raise bad_request(f"memories[{index}]: {MEMORY_NOT_FOUND[:-1]}: {memory_id}") from None


def _checked_update(call: Call, index: int, item: dict[str, Any]) -> tuple[Memory, dict[str, Any]]:
    memory = _batch_memory(call, index, item["memory_id"])
    changes = update_changes({key: item[key] for key in ("text", "metadata") if key in item})
    if not changes:
        raise bad_request(f"memories[{index}]: nothing to update, give text and/or metadata")
    if memory.immutable and not call.fault(IMMUTABLE_BATCH_UPDATE_ALLOWED):
        raise bad_request(f"memories[{index}]: " + IMMUTABLE_MESSAGE.format(id=memory.id))
    return memory, changes


@handles("memories_batch_update", checks=("maxItems",))
def batch_update(call: Call) -> Reply:
    """PUT /v1/batch/: update up to 1000 memories, all or none."""
    items = call.body["memories"]
    _check_limit(call, items, "updated")
    with call.store.lock:
        if call.fault(BATCH_NOT_ATOMIC):
            for index, item in enumerate(items):
                apply_update(call, *_checked_update(call, index, item))
        else:
            checked = [_checked_update(call, index, item) for index, item in enumerate(items)]
            for memory, changes in checked:
                apply_update(call, memory, changes)
    return Reply(200, {"message": f"Successfully updated {len(items)} memories"})


@handles("memories_batch_delete", checks=("maxItems",))
def batch_delete(call: Call) -> Reply:
    """DELETE /v1/batch/: delete up to 1000 memories, all or none."""
    items = call.body["memories"]
    _check_limit(call, items, "deleted")
    with call.store.lock:
        if call.fault(BATCH_NOT_ATOMIC):
            doomed = {}
            for index, item in enumerate(items):
                memory = doomed.get(item["memory_id"]) or _batch_memory(call, index, item["memory_id"])
                if memory.id not in doomed:
                    call.store.delete(memory)
                doomed[memory.id] = memory
        else:
            doomed = {}
            for index, item in enumerate(items):
                memory = doomed.get(item["memory_id"]) or _batch_memory(call, index, item["memory_id"])
                doomed[memory.id] = memory
            for memory in doomed.values():
                call.store.delete(memory)
    return Reply(200, {"message": f"Successfully deleted {len(doomed)} memories"})


@handles("memories_delete_all")
def delete_all(call: Call) -> Reply:
    """DELETE /v1/memories/: delete the memories of the given entity ids (see the module docstring)."""
    given = {key: call.query[key] for key in ENTITY_KEYS if call.query.get(key) is not None}
    if not given:
        raise bad_request(DELETE_ALL_REQUIRED)
    wipe = all(given.get(key) == "*" for key in ENTITY_KEYS)
    predicate = compile_filters(given)
    if not own_scope(call, call.query):  # another organization's or project's memories are none of the key's
        return Reply(200, {"message": "Memories deleted successfully!"})
    with call.store.lock:
        tombstones = call.store.table(TOMBSTONES)
        doomed = call.store.select() if wipe else call.store.select(predicate, **required_entities(given))
        for memory in doomed:
            if tombstones.pop(memory.id, None) is None:
                call.store.delete(memory)
            else:
                call.store.forget(memory.id)
    return Reply(200, {"message": "Memories deleted successfully!"})
