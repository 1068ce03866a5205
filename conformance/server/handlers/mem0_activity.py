"""What the store records about activity: events, memory events, statistics and feedback.

Decisions where FACTS.md and the documents are silent (the documents declare no bodies for
the three listings):
- ``GET /v1/events/``: the platform events (queued adds and other background work, each
  ``{id, event_type, status, results, created_at, updated_at}``), newest first, in the
  envelope ``{count, next, previous, results}`` on one page. The query parameters the
  description mentions are not declared, so they are not read.
- ``GET /v1/memories/events/``: the memory changes the history records (ADD, UPDATE, DELETE
  entries of all memories, deleted ones included), newest first, in the same envelope. The
  feed keeps the newest ``ACTIVITY_FEED_SIZE`` entries (a bounded activity log: with no paging
  parameters declared, one page must stay small); each memory's own history stays complete.
  Both listings are bounded the same way.
- ``GET /v1/stats/``: counts derived from the store (see :func:`stats`).
- ``POST /v1/feedback/``: one feedback per memory (a second submission replaces the first and
  keeps its id). The memory must exist: a malformed id is 400; an unknown memory is 404
  ``Memory not found!`` if the effective document declares 404 for the operation, else 400
  (the published document declares only 200, 400 and 401).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from conformance.server import faults
from conformance.server.errors import mem0_error
from conformance.server.handlers import mem0_entities
from conformance.server.registry import Call, Reply, handles
from conformance.server.store import iso, json_copy, new_id, now

FEEDBACK_ACCEPTS_UNKNOWN_MEMORY = faults.declare(
    "feedback-accepts-unknown-memory", "consistency",
    "Feedback for a memory that does not exist is stored and answered 200 instead of being rejected.",
)


ACTIVITY_FEED_SIZE = 200


def _page(results: list[dict[str, Any]]) -> dict[str, Any]:
    results = results[:ACTIVITY_FEED_SIZE]
    return {"count": len(results), "next": None, "previous": None, "results": results}


@handles("events_list")
def list_events(call: Call) -> Reply:
    with call.store.lock:
        events = [event.to_api() for event in reversed(list(call.store.events.values()))]
    return Reply(200, _page(events))


@handles("memories_events_list")
def list_memory_events(call: Call) -> Reply:
    with call.store.lock:
        entries = [entry for history in call.store.history.values() for entry in history]
        moments = [datetime.fromisoformat(entry["created_at"].replace("Z", "+00:00")) for entry in entries]
        order = sorted(range(len(entries)), key=lambda i: (moments[i], i), reverse=True)
        return Reply(200, _page([json_copy(entries[i]) for i in order[:ACTIVITY_FEED_SIZE]]))


@handles("stats_list")
def stats(call: Call) -> Reply:
    """``total_memories`` (stored now), ``total_memories_created`` (ever added),
    ``total_add_events`` / ``total_search_events`` (platform events of kind ADD / SEARCH),
    ``total_events``, and the number of users, agents, apps and runs."""
    with call.store.lock:
        kinds = [event.kind for event in call.store.events.values()]
        created = sum(1 for history in call.store.history.values() for entry in history if entry["event"] == "ADD")
        answer = {
            "total_memories": len(call.store.memories),
            "total_memories_created": created,
            "total_add_events": kinds.count("ADD"),
            "total_search_events": kinds.count("SEARCH"),
            "total_events": len(kinds),
        }
        entities = mem0_entities.collect(call.store)
    for kind in mem0_entities.TYPES:
        answer[f"total_{kind}s"] = sum(1 for (k, _) in entities if k == kind)
    return Reply(200, answer)


def _declares(call: Call, status: int) -> bool:
    operation = call.operation
    responses = operation.document["paths"][operation.path][operation.method.lower()].get("responses", {})
    return str(status) in responses


def _valid_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@handles("submit_feedback")
def submit_feedback(call: Call) -> Reply:
    """200 ``{id, feedback, feedback_reason}``; stored in the ``feedback`` table by memory id."""
    body = call.body
    memory_id = body["memory_id"]
    with call.store.lock:
        known = memory_id in call.store.memories
        if not call.fault(FEEDBACK_ACCEPTS_UNKNOWN_MEMORY):
            if not _valid_uuid(memory_id):
                raise mem0_error(400, "memory_id should be a valid UUID")
            if not known:
                raise mem0_error(404 if _declares(call, 404) else 400, "Memory not found!")
        table = call.store.table("feedback")
        moment = iso(now())
        record = table.setdefault(memory_id, {"id": new_id(), "memory_id": memory_id, "created_at": moment})
        record.update(feedback=body.get("feedback"), feedback_reason=body.get("feedback_reason"), updated_at=moment)
        answer = {key: record[key] for key in ("id", "feedback", "feedback_reason")}
        return Reply(200, answer)
