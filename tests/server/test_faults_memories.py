"""Each planted fault of the Mem0 memory core changes what the same requests observe.

Every test runs one request sequence twice: without faults (the correct behaviour) and with
the one fault switched on (the wrong behaviour), on an emptied store each time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from conformance.server.handlers.mem0_batch import (
    BATCH_LIMIT_OFF_BY_ONE,
    BATCH_NOT_ATOMIC,
    IMMUTABLE_BATCH_UPDATE_ALLOWED,
)
from conformance.server.handlers.mem0_common import (
    HISTORY_MISSING_UPDATE,
    UNICODE_MANGLED,
)
from conformance.server.handlers.mem0_listing import (
    EXPIRED_MEMORIES_LISTED,
    FILTER_LEAKS_OTHER_USERS,
    MISSING_ENTITY_FILTER_ACCEPTED,
    PAGINATION_OVERLAP,
    SEARCH_ANSWERS_BARE_LIST,
)
from conformance.server.handlers.mem0_memories import (
    DELETED_MEMORY_STILL_LISTED,
    EVENT_NEVER_SETTLES,
    IMMUTABLE_UPDATE_ALLOWED,
)
from tests.server.test_mem0_memories import add, listed


def both(server, fault: str, scenario: Callable[[], Any]) -> tuple[Any, Any]:
    """What ``scenario`` observes without faults, then with ``fault`` on (store emptied before each)."""
    server.store.reset()
    correct = scenario()
    server.store.reset()
    server.set_faults({fault})
    try:
        return correct, scenario()
    finally:
        server.set_faults(set())


def test_immutable_update_allowed(mem0: httpx.Client, server):
    """immutable-update-allowed: PUT on an immutable memory answers 200 and changes it (else 400, unchanged)."""
    def scenario():
        memory_id = add(mem0, "fixed", immutable=True)
        status = mem0.put(f"/v1/memories/{memory_id}/", json={"text": "changed"}).status_code
        return status, mem0.get(f"/v1/memories/{memory_id}/").json()["memory"]

    assert both(server, IMMUTABLE_UPDATE_ALLOWED, scenario) == ((400, "fixed"), (200, "changed"))


def test_immutable_batch_update_allowed(mem0, server):
    """immutable-batch-update-allowed: a batch update changes an immutable memory (else 400, unchanged)."""
    def scenario():
        memory_id = add(mem0, "fixed", immutable=True)
        status = mem0.put("/v1/batch/", json={"memories": [{"memory_id": memory_id, "text": "changed"}]}).status_code
        return status, mem0.get(f"/v1/memories/{memory_id}/").json()["memory"]

    assert both(server, IMMUTABLE_BATCH_UPDATE_ALLOWED, scenario) == ((400, "fixed"), (200, "changed"))


def test_batch_limit_off_by_one(mem0, server):
    """batch-limit-off-by-one: a batch of 1001 items is accepted (else 400 with the documented message)."""
    def scenario():
        memory_id = add(mem0, "x")
        response = mem0.put("/v1/batch/", json={"memories": [{"memory_id": memory_id, "text": "y"}] * 1001})
        return response.status_code

    assert both(server, BATCH_LIMIT_OFF_BY_ONE, scenario) == (400, 200)


def test_batch_not_atomic(mem0, server):
    """batch-not-atomic: a batch failing on its second item keeps the first item's change (else nothing)."""
    def scenario():
        memory_id = add(mem0, "before")
        items = [{"memory_id": memory_id, "text": "after"}, {"memory_id": str(uuid.uuid4()), "text": "x"}]
        status = mem0.put("/v1/batch/", json={"memories": items}).status_code
        return status, mem0.get(f"/v1/memories/{memory_id}/").json()["memory"]

    assert both(server, BATCH_NOT_ATOMIC, scenario) == ((400, "before"), (400, "after"))


def test_batch_not_atomic_delete(mem0, server):
    """batch-not-atomic: a batch delete failing on its second item has deleted the first (else kept)."""
    def scenario():
        memory_id = add(mem0, "keep me")
        items = [{"memory_id": memory_id}, {"memory_id": str(uuid.uuid4())}]
        status = mem0.request("DELETE", "/v1/batch/", json={"memories": items}).status_code
        return status, mem0.get(f"/v1/memories/{memory_id}/").status_code

    assert both(server, BATCH_NOT_ATOMIC, scenario) == ((400, 200), (400, 404))


def test_history_missing_update(mem0, server):
    """history-missing-update: after an update the history lacks the UPDATE entry."""
    def scenario():
        memory_id = add(mem0, "v1")
        mem0.put(f"/v1/memories/{memory_id}/", json={"text": "v2"})
        return [entry["event"] for entry in mem0.get(f"/v1/memories/{memory_id}/history/").json()]

    assert both(server, HISTORY_MISSING_UPDATE, scenario) == (["ADD", "UPDATE"], ["ADD"])


def test_deleted_memory_still_listed(mem0, server):
    """deleted-memory-still-listed: a deleted memory answers 404 to GET but is still listed and found."""
    def scenario():
        memory_id = add(mem0, "gone tea")
        mem0.delete(f"/v1/memories/{memory_id}/")
        found = mem0.post("/v3/memories/search/", json={"query": "tea", "filters": {"user_id": "alice"}})
        return (mem0.get(f"/v1/memories/{memory_id}/").status_code, listed(mem0, {"user_id": "alice"}),
                len(found.json()["results"]))

    assert both(server, DELETED_MEMORY_STILL_LISTED, scenario) == ((404, [], 0), (404, ["gone tea"], 1))


def test_filter_leaks_other_users(mem0, server):
    """filter-leaks-other-users: an OR of two users also returns a third user's memories."""
    def scenario():
        for user in ("alice", "bob", "carol"):
            add(mem0, f"{user}'s secret", user_id=user)
        return sorted(listed(mem0, {"OR": [{"user_id": "alice"}, {"user_id": "bob"}]}))

    correct, faulty = both(server, FILTER_LEAKS_OTHER_USERS, scenario)
    assert correct == ["alice's secret", "bob's secret"]
    assert "carol's secret" in faulty


def test_search_answers_bare_list(mem0, server):
    """search-answers-bare-list: v3 search answers [...] instead of {"results": [...]}; v2 search keeps its array."""
    def scenario():
        add(mem0, "likes green tea")
        query = {"query": "tea", "filters": {"user_id": "alice"}}
        v3 = mem0.post("/v3/memories/search/", json=query).json()
        v2 = mem0.post("/v2/memories/search/", json=query).json()
        return type(v3).__name__, [m["memory"] for m in (v3["results"] if isinstance(v3, dict) else v3)], type(v2).__name__

    correct, faulty = both(server, SEARCH_ANSWERS_BARE_LIST, scenario)
    assert correct == ("dict", ["likes green tea"], "list")
    assert faulty == ("list", ["likes green tea"], "list")


def test_pagination_overlap(mem0, server):
    """pagination-overlap: page 2 repeats the last memory of page 1 (else pages are disjoint)."""
    def scenario():
        for index in range(4):
            add(mem0, f"fact {index}")
        pages = [mem0.post("/v3/memories/", params={"page": page, "page_size": 2},
                           json={"filters": {"user_id": "alice"}}).json()["results"] for page in (1, 2)]
        return [m["memory"] for m in pages[0]], [m["memory"] for m in pages[1]]

    (first, second), (faulty_first, faulty_second) = both(server, PAGINATION_OVERLAP, scenario)
    assert not set(first) & set(second)
    assert faulty_second[0] == faulty_first[-1]


def test_event_never_settles(mem0, server):
    """event-never-settles: a queued add stays PENDING and its memory never appears (else SUCCEEDED)."""
    def scenario():
        server.store.processing_delay = 0.05
        body = {"messages": [{"role": "user", "content": "queued fact"}], "user_id": "alice"}
        event_id = mem0.post("/v3/memories/add/", json=body).json()["event_id"]
        time.sleep(0.1)
        return mem0.get(f"/v1/event/{event_id}/").json()["status"], listed(mem0, {"user_id": "alice"})

    assert both(server, EVENT_NEVER_SETTLES, scenario) == (("SUCCEEDED", ["queued fact"]), ("PENDING", []))


def test_unicode_mangled(mem0, server):
    """unicode-mangled: non-ASCII text comes back ASCII-folded (else unchanged)."""
    def scenario():
        memory_id = add(mem0, "Café crème — 我喜欢茶")
        return mem0.get(f"/v1/memories/{memory_id}/").json()["memory"]

    assert both(server, UNICODE_MANGLED, scenario) == ("Café crème — 我喜欢茶", "Cafe creme  ")


def test_expired_memories_listed(mem0, server):
    """expired-memories-listed: a memory past its expiration_date is still listed (else hidden)."""
    def scenario():
        add(mem0, "stale", expiration_date="2000-01-01")
        add(mem0, "fresh", expiration_date="2999-01-01")
        return sorted(listed(mem0, {"user_id": "alice"}))

    assert both(server, EXPIRED_MEMORIES_LISTED, scenario) == (["fresh"], ["fresh", "stale"])


def test_missing_entity_filter_accepted(mem0, server):
    """missing-entity-filter-accepted: a list without any entity filter answers 200 (else 400)."""
    def scenario():
        add(mem0, "anything")
        response = mem0.post("/v2/memories/", json={"filters": {"created_at": {"gte": "2000-01-01"}}})
        return response.status_code

    assert both(server, MISSING_ENTITY_FILTER_ACCEPTED, scenario) == (400, 200)
