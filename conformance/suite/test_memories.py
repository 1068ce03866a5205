"""The Mem0 memory lifecycle: the rule machine against a model, and the example checks beside it.

FACTS.md: Add, List/search filters, Pagination, History, expiration_date.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from conformance.suite.machines.mem0_calls import (
    add_memories,
    history_of,
    listed,
    memory_of,
    pages,
    results_of,
)
from conformance.suite.machines.memories import MemoryLifecycle
from conformance.suite.sources import FILTERS, refused
from conformance.suite.support import Patience, expect, track_entity
from conformance.verdicts import Severity, fact, require

pytestmark = [pytest.mark.contract("Memory lifecycle")]

STEPS = 12
NO_ENTITY = {"created_at": {"gte": "2000-01-01"}}
V3 = pytest.mark.requires("v3")


@pytest.mark.requires("mem0")
def test_memory_lifecycle_matches_a_plain_model(mem0, ids, cleanup, target):
    """Adds, updates, deletes, batches, delete-alls, lists, pages, searches and histories always agree with a plain
    model of the memories, every field of every answer included (through v3 where the target offers it, else
    through the seed's v1 add and v2 list and search)."""
    patience = Patience(mem0.wait)
    run_state_machine_as_test(
        lambda: MemoryLifecycle(mem0=mem0, users=[ids.new("user") for _ in range(3)],
                                entities={"agent_id": [ids.new("agent") for _ in range(2)], "app_id": [ids.new("app")],
                                          "run_id": [ids.new("run") for _ in range(2)]},
                                register=lambda kind, name: track_entity(cleanup, mem0, kind, name),
                                patience=patience, capabilities=target.mem0.capabilities),
        settings=settings(settings(), stateful_step_count=STEPS),
    )


@pytest.mark.requires("mem0")
@pytest.mark.parametrize("version", ["v2", pytest.param("v3", marks=V3)])
def test_an_or_of_users_lists_only_those_users(mem0, new_user, version):
    """A list whose filter is an OR of two users shows exactly those users' memories, never a third's."""
    alice, bob, carol = new_user(), new_user(), new_user()
    mine = {memory_id for user in (alice, bob) for memory_id, _ in add_memories(mem0, [f"note of {user}"], user_id=user)}
    add_memories(mem0, ["Carol's secret: 私の秘密"], user_id=carol)
    found = {m["id"] for page in pages(mem0, version, {"OR": [{"user_id": alice}, {"user_id": bob}]}, 100) for m in page}
    strangers, missing = found - mine, mine - found
    require(found == mine, f"POST /{version}/memories/ with an OR of 2 users lists {len(strangers)} other memories "
            f"and misses {len(missing)} of their {len(mine)}", received=sorted(found), documented=sorted(mine),
            source=fact(FILTERS, f"POST /{version}/memories/"),
            severity=Severity.CRITICAL if strangers else Severity.NORMAL)


@pytest.mark.requires("mem0")
@pytest.mark.parametrize(("version", "page_size"), [("v2", 1), pytest.param("v3", 2, marks=V3)])
def test_pages_partition_the_listing(mem0, new_user, version, page_size):
    """Walking the pages of a list yields every memory exactly once: no overlap, no gap."""
    user = new_user()
    created = {memory_id for memory_id, _ in add_memories(mem0, [f"fact {n} — Faktum {n}" for n in range(5)], user_id=user)}
    walked = [m["id"] for page in pages(mem0, version, {"user_id": user}, page_size) for m in page]
    label, source = f"POST /{version}/memories/ pages (page_size {page_size})", fact("Pagination", f"POST /{version}/memories/")
    require(len(walked) == len(set(walked)), f"{label} repeat {len(walked) - len(set(walked))} memories",
            received=walked, documented="each memory on exactly one page", source=source)
    strangers, missing = set(walked) - created, created - set(walked)
    require(set(walked) == created, f"{label} hold {len(strangers)} other memories and miss {len(missing)} "
            f"of the user's {len(created)}", received=sorted(walked), documented=sorted(created), source=source,
            severity=Severity.CRITICAL if strangers else Severity.NORMAL)


@pytest.mark.requires("mem0")
@pytest.mark.parametrize("version", ["v2", pytest.param("v3", marks=V3)])
def test_expired_memories_are_hidden_from_list_and_search_but_readable(mem0, new_user, version):
    """A memory whose expiration_date has passed is not listed or found by search, but GET by id returns it."""
    user = new_user()
    ((expired, _),) = add_memories(mem0, ["Expired: Urlaub in Österreich"], user_id=user, expiration_date="2001-01-01")
    ((live, _),) = add_memories(mem0, ["Current: Urlaub in Österreich"], user_id=user)
    shown = sorted(listed(mem0, {"user_id": user}, version=version))
    require(shown == [live], f"POST /{version}/memories/ of a user with 1 live and 1 expired memory lists {len(shown)} "
            "memories", received={"listed": shown, "expired": expired}, documented=[live],
            source=fact("expiration_date", f"POST /{version}/memories/"))
    search = f"POST /{version}/memories/search/"
    answer = expect(mem0.post(f"/{version}/memories/search/", json={"query": "Urlaub in Österreich",
                                                                  "filters": {"user_id": user}}), 200)
    found = [m["id"] for m in results_of(answer, what=search, source=fact(FILTERS, search), envelope=version == "v3")]
    require(expired not in found, f"{search} finds the memory {expired} past its expiration_date", received=found,
            documented=f"expired memories hidden from search: not {expired}", source=fact("expiration_date", search))
    text = memory_of(mem0, expired).get("memory")
    require(text == "Expired: Urlaub in Österreich", f"GET /v1/memories/{expired}/ of an expired memory shows another text",
            received=text, documented="Expired: Urlaub in Österreich (GET by id still returns expired memories)",
            source=fact("expiration_date", "GET /v1/memories/{memory_id}/"), severity=Severity.CRITICAL)


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
    label, source = f"{method} {path} without an entity filter", fact(FILTERS, f"{method} {path}")
    answer = refused(response, 400, what=label, source=source)
    require(answer, f"{label} is refused with an empty error body", received=answer,
            documented='400 {"message": "One of the filters: app_id, user_id, agent_id, run_id is required!"}',
            source=source)


@pytest.mark.requires("mem0")
@pytest.mark.parametrize("form", ["unix", "iso"])
def test_an_update_of_the_timestamp_alone_re_dates_the_memory_and_keeps_its_text(mem0, new_user, form):
    """``PUT /v1/memories/{id}/`` with only ``timestamp`` (Unix seconds or ISO 8601, as the update page and both
    SDKs allow) is accepted, makes that moment the memory's created_at, keeps its text and records an UPDATE."""
    [(memory_id, text)] = add_memories(mem0, ["Prefers green tea in the morning"], user_id=new_user())
    moment = datetime(2024, 5, 17, 8, 30, tzinfo=UTC)
    value = int(moment.timestamp()) if form == "unix" else moment.isoformat().replace("+00:00", "Z")
    path, source = f"/v1/memories/{memory_id}/", fact("Add", "PUT /v1/memories/{memory_id}/")
    expect(mem0.put(path, json={"timestamp": value}), 200, what=f"PUT {path} with timestamp {value!r} alone",
           source=source)
    memory = memory_of(mem0, memory_id)
    created = memory.get("created_at")
    try:
        dated = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        dated = None
    require(dated == moment, f"PUT {path} with timestamp {value!r} leaves created_at at {created}",
            received=created, documented=f"created_at {moment.isoformat()} (the timestamp dates the memory)",
            source=source, severity=Severity.CRITICAL)
    require(memory.get("memory") == text, f"PUT {path} with timestamp alone changes the text", received=memory.get("memory"),
            documented=text, source=source, severity=Severity.CRITICAL)
    events = [entry.get("event") for entry in history_of(mem0, memory_id)]
    require(events == ["ADD", "UPDATE"], f"the history of {memory_id} after a timestamp update holds {events}",
            received=events, documented="ADD, UPDATE (history records every change)",
            source=fact("History", "GET /v1/memories/{memory_id}/history/"))
