"""Mem0 memory core: add (v1, v3), read, update, delete, history, and the events of queued adds.

Listing and search live in :mod:`mem0_listing`, batch operations and delete-all in
:mod:`mem0_batch`; importing this module registers all three.

Decisions where FACTS.md says nothing:
- Add needs at least one non-empty entity id (user_id, agent_id, app_id, run_id); an empty
  string counts as absent. v3 takes them at the top level (as mem0ai 2.2.1 ``add(user_id=...)``
  sends them) or inside ``filters`` (``AddMemoryOptions.filters``); the same key with two
  different values gets 400.
- Memories come from the messages by ``store.extract`` (no LLM); every extracted text becomes a
  new memory (event ADD), never a merge with an existing one.
- Categories: a memory gets each ``custom_categories`` name that occurs in its text as a word
  (case-insensitive, ``_`` read as a space); without custom categories it gets none.
- ``timestamp`` (Unix seconds) sets the memory's ``created_at`` and ``updated_at``.
- The queued answer follows the output format: v1 ``v1.0`` a list holding the queued event,
  v1 ``v1.1`` ``{"results": [event]}``, v3 the bare event. Any output_format other than
  ``v1.1`` is read as the default ``v1.0``.
- History ``input`` is the add's user and assistant messages with text content.
- A deleted memory's history stays readable (its last entry is the DELETE).
- Updating an immutable memory gets 400 with a message saying to delete and re-add it.
- An update's ``timestamp`` (Unix seconds or an ISO 8601 date-time) re-dates the memory: its
  ``created_at`` becomes that moment, ``updated_at`` the moment of the update; history records
  an UPDATE with the text unchanged. An update with ``timestamp`` alone is valid.
"""

from __future__ import annotations

import math
import re
from typing import Any

from conformance.server import faults
from conformance.server.errors import mem0_error
from conformance.server.handlers import mem0_batch, mem0_listing  # noqa: F401  (registers their handlers)
from conformance.server.handlers.mem0_common import (
    IMMUTABLE_MESSAGE,
    MEMORY_NOT_FOUND,
    TOMBSTONES,
    apply_update,
    bad_request,
    check_nesting,
    entity_ids,
    find_memory,
    from_timestamp,
    stored_text,
    update_changes,
)
from conformance.server.registry import Call, Reply, handles
from conformance.server.store import ENTITY_KEYS, NotFound, extract

QUEUED_MESSAGE = "Memory processing has been queued for background execution"
ADD_ENTITY_REQUIRED = "At least one of user_id, agent_id, app_id or run_id is required."
NOTHING_TO_UPDATE = "Nothing to update: give at least one of text, metadata or expiration_date."
OPTION_KEYS = ("includes", "excludes", "custom_categories", "custom_instructions")

IMMUTABLE_UPDATE_ALLOWED = faults.declare(
    "immutable-update-allowed", "immutability",
    "PUT /v1/memories/{id}/ changes an immutable memory instead of refusing.",
)
DELETED_MEMORY_STILL_LISTED = faults.declare(
    "deleted-memory-still-listed", "deletion",
    "DELETE /v1/memories/{id}/ only flags the memory: GET answers 404 but list and search still show it.",
)
EVENT_NEVER_SETTLES = faults.declare(
    "event-never-settles", "consistency", "A queued add stays PENDING forever and its memories never appear."
)


# --- add --------------------------------------------------------------------------------------

@handles("memories_create")
def add_v1(call: Call) -> Reply:
    """POST /v1/memories/: sync answer in output format v1.0 (a list) or v1.1 (an envelope)."""
    body = call.body
    envelope = body.get("output_format") == "v1.1"
    results = _add(call, body, entity_ids(body))
    if isinstance(results, dict):  # queued
        return Reply(200, {"results": [results]} if envelope else [results])
    if envelope:
        return Reply(200, {"results": results})
    return Reply(200, [{"id": r["id"], "data": {"memory": r["memory"]}, "event": r["event"]} for r in results])


@handles("memories_add_v3")
def add_v3(call: Call) -> Reply:
    """POST /v3/memories/add/: sync answer ``{"results": [...]}``, queued answer the bare event."""
    body = call.body
    results = _add(call, body, _v3_entities(body))
    return Reply(200, results if isinstance(results, dict) else {"results": results})


def _v3_entities(body: dict[str, Any]) -> dict[str, str]:
    top = entity_ids(body)
    scoped = body.get("filters") or {}
    for key in ENTITY_KEYS:
        value = scoped.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise bad_request(f"filters.{key} must be a string")
        if top.get(key, value) != value:
            raise bad_request(f"{key} is given twice with different values ({top[key]!r} and filters {value!r})")
        top[key] = value
    return top


def _add(call: Call, body: dict[str, Any], entities: dict[str, str]) -> list[dict[str, Any]] | dict[str, Any]:
    """Validate, then store now (sync) or schedule (async). Returns the results or the queued event."""
    if not entities:
        raise bad_request(ADD_ENTITY_REQUIRED)
    fields: dict[str, Any] = {
        **entities,
        "metadata": check_nesting(body.get("metadata"), "metadata"),
        "immutable": bool(body.get("immutable", False)),
        "expiration_date": body.get("expiration_date"),
        "options": {key: body[key] for key in OPTION_KEYS if body.get(key) is not None},
    }
    if body.get("timestamp") is not None:
        fields["created_at"] = fields["updated_at"] = from_timestamp(body["timestamp"])
    messages = body.get("messages") or []
    texts = [stored_text(call, text) for text, _ in extract(messages, infer=body.get("infer", True) is not False)]
    conversation = [{"role": m["role"], "content": m["content"]} for m in messages
                    if m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)]
    categories = body.get("custom_categories") or []

    def apply() -> list[dict[str, Any]]:
        created = call.store.add_memories(
            [(text, {**fields, "categories": _categorise(text, categories)}) for text in texts], conversation)
        return [{"id": m.id, "memory": m.memory, "event": "ADD"} for m in created]

    if body.get("async_mode", True) is False:
        return apply()
    delay = math.inf if call.fault(EVENT_NEVER_SETTLES) else None
    event = call.store.schedule("ADD", apply, delay=delay)
    return {"message": QUEUED_MESSAGE, "status": event.status, "event_id": event.id}


def _categorise(text: str, custom_categories: list[dict[str, str]]) -> list[str]:
    names = [name for category in custom_categories for name in category]
    found = []
    for name in names:
        words = name.replace("_", " ").strip()
        if words and name not in found and re.search(rf"(?<!\w){re.escape(words)}(?!\w)", text, re.IGNORECASE):
            found.append(name)
    return found


# --- read, update, delete, history -------------------------------------------------------------

@handles("memories_read")
def read(call: Call) -> Reply:
    """GET /v1/memories/{id}/: the memory, expired or not."""
    return Reply(200, find_memory(call, call.path["memory_id"]).to_api())


@handles("memories_update")
def update(call: Call) -> Reply:
    """PUT /v1/memories/{id}/: change text, metadata, timestamp and/or expiration_date (null clears it)."""
    body = call.body
    changes = update_changes(body)
    if not changes:
        raise bad_request(NOTHING_TO_UPDATE)
    with call.store.lock:
        memory = find_memory(call, call.path["memory_id"])
        if memory.immutable and not call.fault(IMMUTABLE_UPDATE_ALLOWED):
            raise bad_request(IMMUTABLE_MESSAGE.format(id=memory.id))
        apply_update(call, memory, changes)
        return Reply(200, {**memory.to_api(), "text": memory.memory})


@handles("memories_delete")
def delete(call: Call) -> Reply:
    """DELETE /v1/memories/{id}/: gone from GET, list and search; history keeps a DELETE entry."""
    with call.store.lock:
        memory = find_memory(call, call.path["memory_id"])
        if call.fault(DELETED_MEMORY_STILL_LISTED):
            call.store.table(TOMBSTONES)[memory.id] = {"id": memory.id}
            call.store.record(memory, "DELETE", old=memory.memory, new=None)
        else:
            call.store.delete(memory)
    return Reply(200, {"message": "Memory deleted successfully!"})


@handles("memories_history_list")
def history(call: Call) -> Reply:
    """GET /v1/memories/{id}/history/: ADD, UPDATE and DELETE entries, oldest first."""
    try:
        entries = call.store.history_of(call.path["memory_id"])
    except NotFound:
        raise mem0_error(404, MEMORY_NOT_FOUND) from None
    shown: dict[int, list[dict[str, Any]]] = {}  # a memory's entries share one input (the add's): filtered once
    return Reply(200, [history_entry(entry, shown) for entry in entries])


def history_entry(entry: dict[str, Any], shown: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    """One history entry as the effective document declares it.

    The document requires ``new_memory`` and ``user_id`` to be strings, so a DELETE entry's
    absent new text and a memory without a user id are shown as ``""`` (the store keeps null);
    ``input`` shows the user and assistant messages with text content (its items allow no other).
    ``shown`` keeps the conversations already filtered in this answer, by the identity of the input they
    were filtered from (alive as long as the entries that hold it); each entry gets a list of its own.
    """
    source = entry["input"]
    conversation = shown.get(id(source))
    if conversation is None:
        conversation = shown[id(source)] = [m for m in source if m.get("role") in ("user", "assistant")
                                            and isinstance(m.get("content"), str)]
    return {**entry, "input": list(conversation), "new_memory": entry["new_memory"] or "", "user_id": entry["user_id"] or ""}


# --- events ------------------------------------------------------------------------------------

@handles("event_read")
def event_read(call: Call) -> Reply:
    """GET /v1/event/{id}/: PENDING until the queued work settles, then SUCCEEDED with results."""
    with call.store.lock:
        event = call.store.events.get(call.path["event_id"])
        if event is None:
            raise mem0_error(404, "Event not found!")
        return Reply(200, event.to_api())
