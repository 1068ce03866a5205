"""The Mem0 memory lifecycle: the rule machine against a model, and the example checks beside it.

FACTS.md: Add, List/search filters, Pagination, History, expiration_date.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from conformance.suite.machines.mem0_calls import add_memories, listed, pages
from conformance.suite.machines.memories import MemoryLifecycle
from conformance.suite.support import Patience, expect, expect_error, track_entity

STEPS = 12
NO_ENTITY = {"created_at": {"gte": "2000-01-01"}}
V3 = pytest.mark.requires("v3")


@pytest.mark.requires("mem0", "v3")
def test_memory_lifecycle_matches_a_plain_model(mem0, ids, cleanup):
    """Adds, updates, deletes, lists, pages, searches and histories always agree with a plain model of the memories."""
    patience = Patience(mem0.wait)
    run_state_machine_as_test(
        lambda: MemoryLifecycle(mem0=mem0, users=[ids.new("user") for _ in range(3)],
                                register=lambda user: track_entity(cleanup, mem0, "user", user),
                                patience=patience),
        settings=settings(settings(), stateful_step_count=STEPS),
    )


@pytest.mark.requires("mem0", "v3")
@pytest.mark.parametrize("version", ["v2", "v3"])
def test_an_or_of_users_lists_only_those_users(mem0, new_user, version):
    """A list whose filter is an OR of two users shows exactly those users' memories, never a third's."""
    alice, bob, carol = new_user(), new_user(), new_user()
    mine = {memory_id for user in (alice, bob) for memory_id, _ in add_memories(mem0, [f"note of {user}"], user_id=user)}
    add_memories(mem0, ["Carol's secret: 私の秘密"], user_id=carol)
    found = {m["id"] for page in pages(mem0, version, {"OR": [{"user_id": alice}, {"user_id": bob}]}, 100) for m in page}
    assert found == mine, f"received {sorted(found)}, expected only {sorted(mine)}"


@pytest.mark.requires("mem0", "v3")
@pytest.mark.parametrize(("version", "page_size"), [("v2", 1), ("v3", 2)])
def test_pages_partition_the_listing(mem0, new_user, version, page_size):
    """Walking the pages of a list yields every memory exactly once: no overlap, no gap."""
    user = new_user()
    created = {memory_id for memory_id, _ in add_memories(mem0, [f"fact {n} — Faktum {n}" for n in range(5)], user_id=user)}
    walked = [m["id"] for page in pages(mem0, version, {"user_id": user}, page_size) for m in page]
    assert len(walked) == len(set(walked)), f"pages repeat memories: {walked}"
    assert set(walked) == created


@pytest.mark.requires("mem0", "v3")
def test_expired_memories_are_hidden_from_list_and_search_but_readable(mem0, new_user):
    """A memory whose expiration_date has passed is not listed or found by search, but GET by id returns it."""
    user = new_user()
    ((expired, _),) = add_memories(mem0, ["Expired: Urlaub in Österreich"], user_id=user, expiration_date="2001-01-01")
    ((live, _),) = add_memories(mem0, ["Current: Urlaub in Österreich"], user_id=user)
    assert set(listed(mem0, {"user_id": user})) == {live}
    found = expect(mem0.post("/v3/memories/search/", json={"query": "Urlaub in Österreich", "filters": {"user_id": user}}), 200)
    assert expired not in {m["id"] for m in found["results"]}, "search finds a memory past its expiration_date"
    assert expect(mem0.get(f"/v1/memories/{expired}/"), 200)["memory"] == "Expired: Urlaub in Österreich"


@pytest.mark.requires("mem0")
@pytest.mark.parametrize(("method", "path", "body"), [
    pytest.param("GET", "/v1/memories/", None, id="v1-list"),
    pytest.param("POST", "/v2/memories/", {"filters": NO_ENTITY}, id="v2-list"),
    pytest.param("POST", "/v3/memories/", {"filters": NO_ENTITY}, id="v3-list", marks=V3),
    pytest.param("POST", "/v1/memories/search/", {"query": "tea"}, id="v1-search"),
    pytest.param("POST", "/v2/memories/search/", {"query": "tea", "filters": NO_ENTITY}, id="v2-search"),
    pytest.param("POST", "/v3/memories/search/", {"query": "tea", "filters": NO_ENTITY}, id="v3-search", marks=V3),
])
def test_a_list_or_search_without_an_entity_filter_is_refused(mem0, method, path, body):
    """A list or search naming no user_id, agent_id, app_id or run_id is refused with 400 and a message."""
    response = mem0.request(method, path, json=body) if body is not None else mem0.request(method, path)
    assert response.status_code == 400, f"expected 400, got {response.status_code}: {response.text[:300]}"
    assert expect_error(response)
