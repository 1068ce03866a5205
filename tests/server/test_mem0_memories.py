"""The reference server's Mem0 memory core: add, read, update, delete, history, list, search, batch."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given, strategies as st

from conformance.server.handlers.mem0_common import newest_first
from conformance.server.store import Memory


def add(mem0: httpx.Client, text: str, user_id: str | None = "alice", **fields) -> str:
    """Store one memory verbatim (sync, infer off) and return its id."""
    body = {"messages": [{"role": "user", "content": text}], "infer": False, "async_mode": False, **fields}
    if user_id is not None:
        body["user_id"] = user_id
    response = mem0.post("/v3/memories/add/", json=body)
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    return result["id"]


def listed(mem0: httpx.Client, filters: dict, **body) -> list[str]:
    """The texts a v3 list answers for ``filters``, in order."""
    response = mem0.post("/v3/memories/", json={"filters": filters, **body})
    assert response.status_code == 200, response.text
    return [m["memory"] for m in response.json()["results"]]


# --- add ---------------------------------------------------------------------------------------

def test_v1_sync_add_answers_a_v1_0_list(mem0):
    """A sync v1 add answers [{id, data: {memory}, event: ADD}] and the memory is readable."""
    body = {"messages": [{"role": "user", "content": "I like tea"}], "user_id": "alice", "async_mode": False}
    response = mem0.post("/v1/memories/", json=body)
    assert response.status_code == 200
    (result,) = response.json()
    assert result["data"] == {"memory": "I like tea"} and result["event"] == "ADD"
    assert mem0.get(f"/v1/memories/{result['id']}/").json()["user_id"] == "alice"


def test_v1_sync_add_in_v1_1_answers_the_results_envelope(mem0):
    """With output_format v1.1 a sync v1 add answers {"results": [{id, memory, event}]}."""
    body = {"messages": [{"role": "user", "content": "I like tea"}], "agent_id": "bot", "async_mode": False,
            "output_format": "v1.1"}
    (result,) = mem0.post("/v1/memories/", json=body).json()["results"]
    assert result["memory"] == "I like tea" and result["event"] == "ADD"


def test_v3_add_takes_entity_ids_at_the_top_or_in_filters(mem0):
    """v3 add reads entity ids at the top level or inside filters; a conflicting pair gets 400."""
    add(mem0, "top", user_id="alice")
    add(mem0, "scoped", user_id=None, filters={"user_id": "alice", "run_id": "r1"})
    assert sorted(listed(mem0, {"user_id": "alice"})) == ["scoped", "top"]
    assert listed(mem0, {"run_id": "r1"}) == ["scoped"]
    body = {"messages": [{"role": "user", "content": "x"}], "user_id": "alice", "filters": {"user_id": "bob"}}
    assert mem0.post("/v3/memories/add/", json=body).status_code == 400


@pytest.mark.parametrize("path", ["/v1/memories/", "/v3/memories/add/"])
def test_add_without_any_entity_id_is_refused(mem0, path):
    """An add with no (or only empty) entity ids gets 400 with an error, and stores nothing."""
    body = {"messages": [{"role": "user", "content": "orphan"}], "user_id": "", "async_mode": False}
    response = mem0.post(path, json=body)
    assert response.status_code == 400 and response.json()["error"]
    assert listed(mem0, {"user_id": "*"}) == []


def test_default_add_is_queued_and_settles_after_the_processing_delay(mem0, server):
    """The default (async) add answers a PENDING event; the memory appears once the event SUCCEEDS."""
    server.store.processing_delay = 0.4
    body = {"messages": [{"role": "user", "content": "I live in Lyon"}], "user_id": "alice"}
    queued = mem0.post("/v3/memories/add/", json=body).json()
    assert queued["status"] == "PENDING" and "queued" in queued["message"]
    assert mem0.get(f"/v1/event/{queued['event_id']}/").json()["status"] == "PENDING"
    assert listed(mem0, {"user_id": "alice"}) == []
    time.sleep(0.5)
    event = mem0.get(f"/v1/event/{queued['event_id']}/").json()
    assert event["status"] == "SUCCEEDED"
    assert [r["memory"] for r in event["results"]] == ["I live in Lyon"]
    assert listed(mem0, {"user_id": "alice"}) == ["I live in Lyon"]


def test_v1_queued_answer_follows_the_output_format(mem0):
    """A queued v1 add answers [event] in v1.0 and {"results": [event]} in v1.1."""
    body = {"messages": [{"role": "user", "content": "x"}], "user_id": "alice"}
    assert mem0.post("/v1/memories/", json=body).json()[0]["status"] == "PENDING"
    envelope = mem0.post("/v1/memories/", json={**body, "output_format": "v1.1"}).json()
    assert envelope["results"][0]["status"] == "PENDING"


def test_infer_keeps_user_facts_and_verbatim_keeps_every_non_system_message(mem0):
    """infer=true stores each non-blank user message; infer=false every non-empty non-system message."""
    messages = [{"role": "system", "content": "be nice"}, {"role": "user", "content": "  I like jazz  "},
                {"role": "assistant", "content": "Noted"}, {"role": "user", "content": "   "}]
    inferred = mem0.post("/v3/memories/add/", json={"messages": messages, "user_id": "a", "async_mode": False})
    assert [r["memory"] for r in inferred.json()["results"]] == ["I like jazz"]
    verbatim = mem0.post("/v3/memories/add/", json={"messages": messages, "user_id": "b", "async_mode": False,
                                                    "infer": False})
    assert [r["memory"] for r in verbatim.json()["results"]] == ["  I like jazz  ", "Noted", "   "]


def test_add_stores_metadata_immutability_expiry_and_custom_categories(mem0):
    """metadata, immutable, expiration_date and matching custom_categories are stored on the memory."""
    memory_id = add(mem0, "My favourite food is ramen", metadata={"source": "chat"}, immutable=True,
                    expiration_date="2999-01-01", custom_categories=[{"food": "Food"}, {"sports": "Sports"}])
    memory = mem0.get(f"/v1/memories/{memory_id}/").json()
    assert memory["metadata"] == {"source": "chat"} and memory["immutable"] is True
    assert memory["expiration_date"] == "2999-01-01" and memory["categories"] == ["food"]


def test_timestamp_sets_created_at(mem0):
    """An add's Unix timestamp becomes the memory's created_at."""
    memory_id = add(mem0, "old news", timestamp=1_700_000_000)
    assert mem0.get(f"/v1/memories/{memory_id}/").json()["created_at"].startswith("2023-11-14T22:13:20")


# --- read, update, delete, history --------------------------------------------------------------

def test_read_answers_400_for_a_malformed_id_and_404_for_an_unknown_one(mem0):
    """A malformed id gets 400 "memory_id should be a valid UUID"; an unknown one 404 "Memory not found!"."""
    assert mem0.get("/v1/memories/123/").json() == {"error": "memory_id should be a valid UUID"}
    response = mem0.get(f"/v1/memories/{uuid.uuid4()}/")
    assert response.status_code == 404 and response.json() == {"error": "Memory not found!"}


def test_an_expired_memory_is_read_by_id_but_not_listed(mem0):
    """An expired memory is still returned by GET, but list and search hide it unless show_expired."""
    memory_id = add(mem0, "stale tea fact", expiration_date="2000-01-01")
    assert mem0.get(f"/v1/memories/{memory_id}/").status_code == 200
    assert listed(mem0, {"user_id": "alice"}) == []
    assert listed(mem0, {"user_id": "alice"}, show_expired=True) == ["stale tea fact"]
    search = {"query": "tea", "filters": {"user_id": "alice"}}
    assert mem0.post("/v3/memories/search/", json=search).json()["results"] == []


def test_update_changes_text_metadata_and_expiration(mem0):
    """PUT changes text and metadata, sets or clears (null) expiration_date, and answers the memory."""
    memory_id = add(mem0, "I like tea")
    response = mem0.put(f"/v1/memories/{memory_id}/", json={"text": "I like coffee", "metadata": {"k": 1},
                                                           "expiration_date": "2999-12-31"})
    assert response.status_code == 200
    assert response.json()["text"] == response.json()["memory"] == "I like coffee"
    assert mem0.get(f"/v1/memories/{memory_id}/").json()["expiration_date"] == "2999-12-31"
    mem0.put(f"/v1/memories/{memory_id}/", json={"expiration_date": None})
    memory = mem0.get(f"/v1/memories/{memory_id}/").json()
    assert memory["expiration_date"] is None and memory["metadata"] == {"k": 1}


def test_update_with_nothing_to_change_is_refused(mem0):
    """A PUT body without text, metadata or expiration_date gets 400."""
    memory_id = add(mem0, "I like tea")
    assert mem0.put(f"/v1/memories/{memory_id}/", json={"colour": "red"}).status_code == 400


def test_an_immutable_memory_cannot_be_updated_but_can_be_deleted(mem0):
    """Updating an immutable memory gets 400 and changes nothing (no history entry); deleting works."""
    memory_id = add(mem0, "fixed fact", immutable=True)
    response = mem0.put(f"/v1/memories/{memory_id}/", json={"text": "changed"})
    assert response.status_code == 400 and "immutable" in response.json()["error"]
    assert mem0.get(f"/v1/memories/{memory_id}/").json()["memory"] == "fixed fact"
    assert [h["event"] for h in mem0.get(f"/v1/memories/{memory_id}/history/").json()] == ["ADD"]
    assert mem0.delete(f"/v1/memories/{memory_id}/").status_code == 200


def test_history_records_add_update_delete_in_order_and_survives_the_delete(mem0):
    """History lists ADD, UPDATE, DELETE with old/new text, and stays readable after the delete."""
    memory_id = add(mem0, "v1")
    mem0.put(f"/v1/memories/{memory_id}/", json={"text": "v2"})
    assert mem0.delete(f"/v1/memories/{memory_id}/").json() == {"message": "Memory deleted successfully!"}
    entries = mem0.get(f"/v1/memories/{memory_id}/history/").json()
    assert [(e["event"], e["old_memory"], e["new_memory"]) for e in entries] == [
        ("ADD", None, "v1"), ("UPDATE", "v1", "v2"), ("DELETE", "v2", "")]
    assert entries[0]["input"] == [{"role": "user", "content": "v1"}]


def test_a_deleted_memory_is_gone_everywhere(mem0):
    """After DELETE the memory answers 404 to GET, PUT and DELETE and is neither listed nor found."""
    memory_id = add(mem0, "ephemeral tea")
    mem0.delete(f"/v1/memories/{memory_id}/")
    assert mem0.get(f"/v1/memories/{memory_id}/").status_code == 404
    assert mem0.put(f"/v1/memories/{memory_id}/", json={"text": "x"}).status_code == 404
    assert mem0.delete(f"/v1/memories/{memory_id}/").status_code == 404
    assert listed(mem0, {"user_id": "alice"}) == []
    assert mem0.post("/v3/memories/search/", json={"query": "tea", "filters": {"user_id": "alice"}}).json() == {
        "results": []}


def test_history_of_an_unknown_memory_is_404(mem0):
    """The history of a memory that never existed answers 404."""
    assert mem0.get(f"/v1/memories/{uuid.uuid4()}/history/").status_code == 404


# --- listing ---------------------------------------------------------------------------------------

def test_lists_are_newest_first_and_scoped_to_the_entity(mem0):
    """Lists show only the named entity's memories, newest first."""
    add(mem0, "first", timestamp=1_600_000_000)
    add(mem0, "second", timestamp=1_700_000_000)
    add(mem0, "bob's", user_id="bob")
    assert listed(mem0, {"user_id": "alice"}) == ["second", "first"]
    assert [m["memory"] for m in mem0.get("/v1/memories/", params={"user_id": "alice"}).json()] == ["second", "first"]


@given(st.lists(st.integers(0, 3), max_size=12))
def test_newest_first_puts_ties_in_the_reverse_of_creation_order(days):
    """Lists show the newest memory first; memories made at the same moment, the later made first."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    memories = [Memory(id=str(n), memory="m", input=[], created_at=start + timedelta(days=day))
                for n, day in enumerate(days)]
    expected = sorted(range(len(days)), key=lambda n: (days[n], n), reverse=True)
    assert [int(memory.id) for memory in newest_first(memories)] == expected


def test_v2_list_is_a_bare_array_unless_paged_and_v3_is_always_a_page(mem0):
    """v2 without page parameters answers an array, with them {count, next, previous, results}; v3 a page."""
    add(mem0, "one")
    assert isinstance(mem0.post("/v2/memories/", json={"filters": {"user_id": "alice"}}).json(), list)
    paged = mem0.post("/v2/memories/", params={"page": 1}, json={"filters": {"user_id": "alice"}}).json()
    assert paged["count"] == 1 and paged["next"] is None and paged["previous"] is None
    assert set(mem0.post("/v3/memories/", json={"filters": {"user_id": "alice"}}).json()) == {
        "count", "next", "previous", "results"}


def test_pages_partition_the_set_and_link_to_each_other(mem0):
    """Pages of size 2 over 5 memories are disjoint, cover everything, and next/previous link them."""
    ids = {add(mem0, f"fact {i}") for i in range(5)}
    seen, url = [], "/v3/memories/?page=1&page_size=2"
    while url:
        page = mem0.post(url, json={"filters": {"user_id": "alice"}}).json()
        assert page["count"] == 5
        seen += [m["id"] for m in page["results"]]
        url = page["next"]
    assert len(seen) == 5 and set(seen) == ids
    last = mem0.post("/v3/memories/", params={"page": 3, "page_size": 2}, json={"filters": {"user_id": "alice"}})
    assert last.json()["previous"].endswith("page=2&page_size=2")


def test_a_page_past_the_end_is_404_but_page_one_of_nothing_is_empty(mem0):
    """Page 2 of one memory answers 404 "Invalid page."; page 1 of no memories an empty page."""
    empty = mem0.post("/v3/memories/", json={"filters": {"user_id": "alice"}}).json()
    assert empty == {"count": 0, "next": None, "previous": None, "results": []}
    add(mem0, "only")
    response = mem0.post("/v3/memories/", params={"page": 2}, json={"filters": {"user_id": "alice"}})
    assert response.status_code == 404 and response.json() == {"detail": "Invalid page."}
    assert mem0.get("/v1/memories/", params={"user_id": "alice", "page": 0}).status_code == 404


@pytest.fixture
def people(mem0):
    """Four memories across users, agents, runs, metadata and categories."""
    add(mem0, "Alice likes tea", metadata={"mood": "happy", "level": 3},
        custom_categories=[{"tea": "Drinks"}, {"food": "Meals"}],
        timestamp=1_719_835_200)  # 2024-07-01T12:00Z
    add(mem0, "Bob likes coffee", user_id="bob", agent_id="barista", metadata={"mood": "sad", "level": 7},
        timestamp=1_722_513_600)  # 2024-08-01T12:00Z
    add(mem0, "Carol plays chess", user_id="carol", run_id="r1", timestamp=1_725_192_000)  # 2024-09-01
    add(mem0, "An agent-only note", user_id=None, agent_id="barista", timestamp=1_727_784_000)  # 2024-10-01


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"OR": [{"user_id": "alice"}, {"user_id": "carol"}]}, ["Carol plays chess", "Alice likes tea"]),
        ({"AND": [{"agent_id": "barista"}, {"user_id": "bob"}]}, ["Bob likes coffee"]),
        ({"agent_id": "barista", "NOT": [{"user_id": "bob"}]}, ["An agent-only note"]),
        ({"user_id": {"in": ["alice", "bob"]}}, ["Bob likes coffee", "Alice likes tea"]),
        ({"user_id": ["alice", "bob"]}, ["Bob likes coffee", "Alice likes tea"]),
        ({"user_id": "*", "run_id": "*"}, ["Carol plays chess"]),
        ({"user_id": {"ne": "alice"}, "agent_id": "*"}, ["An agent-only note", "Bob likes coffee"]),
        ({"user_id": "*", "created_at": {"gte": "2024-07-01", "lte": "2024-07-31"}}, ["Alice likes tea"]),
        ({"user_id": "*", "created_at": {"gt": "2024-08-01"}}, ["Carol plays chess"]),
        ({"user_id": "*", "created_at": {"lt": "2024-08-01T12:00:00Z"}}, ["Alice likes tea"]),
        ({"user_id": "*", "metadata": {"mood": "sad"}}, ["Bob likes coffee"]),
        ({"user_id": "*", "metadata": {"level": {"gte": 5}}}, ["Bob likes coffee"]),
        ({"user_id": "*", "categories": {"in": ["tea"]}}, ["Alice likes tea"]),
        ({"user_id": "*", "categories": {"contains": "te"}}, ["Alice likes tea"]),
        ({"user_id": "*", "keywords": {"icontains": "CHESS"}}, ["Carol plays chess"]),
        ({"user_id": "*", "keywords": {"contains": "CHESS"}}, []),
        ({"user_id": {"gte": "bob", "lt": "carol"}}, ["Bob likes coffee"]),
    ],
    ids=["or", "and", "not", "in", "list", "wildcard", "ne", "date-range", "gt-day", "lt-instant", "metadata",
         "metadata-op", "categories-in", "categories-contains", "icontains", "contains", "string-range"],
)
def test_filter_language(mem0, people, filters, expected):
    """The v2/v3 filter language selects exactly the expected memories (newest first)."""
    assert listed(mem0, filters) == expected
    v2 = mem0.post("/v2/memories/", json={"filters": filters}).json()
    assert [m["memory"] for m in v2] == expected


@pytest.mark.parametrize(
    "filters",
    [{"user_id": "alice", "colour": "red"}, {"user_id": {"eq": "alice"}}, {"AND": {"user_id": "alice"}},
     {"user_id": "alice", "created_at": "last week"}, {"user_id": "alice", "categories": {"gt": "a"}},
     {"user_id": {"ne": {}}}, {"AND": [{"user_id": [{"a": 1}]}]}, {"AND": [{"user_id": None}]}],
    ids=["unknown-key", "unknown-operator", "and-not-a-list", "bad-date", "order-on-categories",
         "object-operand", "object-in-list", "null-condition"],
)
def test_malformed_filters_get_400(mem0, filters):
    """Unknown keys, unknown operators and malformed conditions get 400 with an error."""
    for path in ("/v2/memories/", "/v3/memories/"):
        response = mem0.post(path, json={"filters": filters})
        assert response.status_code == 400 and response.json()["error"], path
    search = mem0.post("/v3/memories/search/", json={"query": "x", "filters": filters})
    assert search.status_code == 400


@pytest.mark.parametrize("path", ["/v2/memories/", "/v3/memories/", "/v2/memories/search/", "/v3/memories/search/"])
def test_a_filter_without_entity_id_gets_the_documented_400(mem0, path):
    """Filters that name no entity id get 400 {"message": "One of the filters: ... is required!"}."""
    response = mem0.post(path, json={"query": "tea", "filters": {"created_at": {"gte": "2024-01-01"}}})
    assert response.status_code == 400
    assert response.json() == {"message": "One of the filters: app_id, user_id, agent_id, run_id is required!"}


def test_an_entity_id_nested_in_or_counts_as_the_entity_filter(mem0):
    """An entity id inside an OR satisfies the entity-filter rule."""
    add(mem0, "hello")
    assert listed(mem0, {"OR": [{"user_id": "alice"}]}) == ["hello"]


def test_v1_list_takes_query_parameters_and_requires_an_entity(mem0, people):
    """GET /v1/memories/ filters by entity, keywords, categories and dates; without an entity it is 400."""
    texts = lambda **q: [m["memory"] for m in mem0.get("/v1/memories/", params=q).json()]  # noqa: E731
    assert texts(user_id="bob") == ["Bob likes coffee"]
    assert texts(user_id="*", keywords="LIKES") == ["Bob likes coffee", "Alice likes tea"]
    assert texts(user_id="*", categories="tea") == ["Alice likes tea"]
    assert texts(user_id="*", start_date="2024-08-01", end_date="2024-09-01") == ["Carol plays chess",
                                                                                  "Bob likes coffee"]
    response = mem0.get("/v1/memories/")
    assert response.status_code == 400 and "is required" in response.json()["message"]


def test_fields_keeps_the_named_fields_and_the_required_ones(mem0):
    """fields=[metadata] answers id, memory, created_at, updated_at and metadata only."""
    add(mem0, "tea", metadata={"a": 1})
    (memory,) = mem0.post("/v3/memories/", json={"filters": {"user_id": "alice"}, "fields": ["metadata"]}).json()[
        "results"]
    assert set(memory) == {"id", "memory", "created_at", "updated_at", "metadata"}


def test_entity_memories_lists_one_entity_and_rejects_unknown_types(mem0, people):
    """GET /v1/memories/agent/barista/ lists that agent's memories; entity type 'robot' gets 400."""
    assert [m["memory"] for m in mem0.get("/v1/memories/agent/barista/").json()] == [
        "An agent-only note", "Bob likes coffee"]
    assert mem0.get("/v1/memories/user/nobody/").json() == []
    assert mem0.get("/v1/memories/robot/x/").status_code == 400


# --- search ---------------------------------------------------------------------------------------

def test_search_ranks_by_word_overlap_then_recency(mem0):
    """Search scores by the share of query words in the memory, best first, with a score, up to top_k."""
    add(mem0, "I like green tea", timestamp=1_600_000_000)
    add(mem0, "I like black tea", timestamp=1_700_000_000)
    add(mem0, "Cats are great")
    results = mem0.post("/v3/memories/search/", json={"query": "green tea", "filters": {"user_id": "alice"}}).json()[
        "results"]
    assert [(r["memory"], r["score"]) for r in results] == [("I like green tea", 1.0), ("I like black tea", 0.5)]
    top = mem0.post("/v3/memories/search/", json={"query": "tea", "filters": {"user_id": "alice"}, "top_k": 1})
    assert [r["memory"] for r in top.json()["results"]] == ["I like black tea"]


def test_v2_search_applies_its_default_threshold(mem0):
    """v2 search drops matches below its declared default threshold 0.3; an explicit 0.2 keeps them."""
    add(mem0, "tea")
    body = {"query": "do you know if I like tea", "filters": {"user_id": "alice"}}
    assert mem0.post("/v2/memories/search/", json=body).json() == []
    assert [r["memory"] for r in mem0.post("/v2/memories/search/", json={**body, "threshold": 0.1}).json()] == ["tea"]


def test_v1_search_takes_entity_ids_and_answers_both_formats(mem0):
    """v1 search scopes by body ids, answers a list (v1.0) or {"results"} (v1.1), and needs an id."""
    add(mem0, "I like tea")
    add(mem0, "Bob likes tea", user_id="bob")
    plain = mem0.post("/v1/memories/search/", json={"query": "tea", "user_id": "alice"}).json()
    assert [r["memory"] for r in plain] == ["I like tea"]
    wrapped = mem0.post("/v1/memories/search/", json={"query": "tea", "user_id": "bob", "output_format": "v1.1"})
    assert [r["memory"] for r in wrapped.json()["results"]] == ["Bob likes tea"]
    assert mem0.post("/v1/memories/search/", json={"query": "tea"}).status_code == 400


# --- delete-all and batch ---------------------------------------------------------------------------

def test_delete_all_needs_a_filter_and_deletes_only_the_matching_memories(mem0):
    """DELETE /v1/memories/ without ids is 400; with user_id it deletes that user's memories only."""
    kept = add(mem0, "bob's", user_id="bob")
    gone = add(mem0, "alice's")
    assert mem0.delete("/v1/memories/").status_code == 400
    assert mem0.delete("/v1/memories/", params={"user_id": "alice"}).status_code == 200
    assert mem0.get(f"/v1/memories/{gone}/").status_code == 404
    assert mem0.get(f"/v1/memories/{kept}/").status_code == 200
    assert mem0.get(f"/v1/memories/{gone}/history/").json()[-1]["event"] == "DELETE"


def test_delete_all_with_four_wildcards_wipes_everything(mem0):
    """All four ids '*' delete every memory, including those with only an agent id."""
    add(mem0, "a")
    add(mem0, "b", user_id=None, agent_id="x")
    wildcards = {key: "*" for key in ("user_id", "agent_id", "app_id", "run_id")}
    assert mem0.delete("/v1/memories/", params=wildcards).json() == {"message": "Memories deleted successfully!"}
    assert mem0.get("/v1/memories/agent/x/").json() == [] and listed(mem0, {"user_id": "*"}) == []


def test_batch_update_and_delete_apply_every_item(mem0):
    """PUT /v1/batch/ updates text and metadata of each item; DELETE /v1/batch/ deletes each."""
    first, second = add(mem0, "one"), add(mem0, "two")
    response = mem0.put("/v1/batch/", json={"memories": [{"memory_id": first, "text": "uno"},
                                                         {"memory_id": second, "metadata": {"n": 2}}]})
    assert response.json() == {"message": "Successfully updated 2 memories"}
    assert mem0.get(f"/v1/memories/{first}/").json()["memory"] == "uno"
    assert mem0.get(f"/v1/memories/{second}/").json()["metadata"] == {"n": 2}
    deleted = mem0.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": first}, {"memory_id": second}]})
    assert deleted.json() == {"message": "Successfully deleted 2 memories"}
    assert listed(mem0, {"user_id": "alice"}) == []


@pytest.mark.parametrize(("method", "verb"), [("PUT", "updated"), ("DELETE", "deleted")])
def test_batch_limit_is_1000(mem0, method, verb):
    """A batch of 1000 is accepted; 1001 gets 400 "Maximum of 1000 memories can be <verb> ..."."""
    memory_id = add(mem0, "x")
    item = {"memory_id": memory_id, "text": "y"} if method == "PUT" else {"memory_id": memory_id}
    assert mem0.request(method, "/v1/batch/", json={"memories": [item] * 1000}).status_code == 200
    if method == "DELETE":
        memory_id = add(mem0, "x")
        item = {"memory_id": memory_id}
    response = mem0.request(method, "/v1/batch/", json={"memories": [item] * 1001})
    assert response.status_code == 400
    assert response.json() == {"error": f"Maximum of 1000 memories can be {verb} in a single request"}


def test_a_batch_with_a_bad_item_changes_nothing(mem0):
    """An unknown id, a malformed id or an immutable memory anywhere in a batch: 400, nothing applied."""
    good, fixed = add(mem0, "good"), add(mem0, "fixed", immutable=True)
    for bad in ({"memory_id": str(uuid.uuid4()), "text": "x"}, {"memory_id": "nope", "text": "x"},
                {"memory_id": fixed, "text": "x"}):
        response = mem0.put("/v1/batch/", json={"memories": [{"memory_id": good, "text": "changed"}, bad]})
        assert response.status_code == 400 and response.json()["error"]
    assert mem0.get(f"/v1/memories/{good}/").json()["memory"] == "good"
    assert [h["event"] for h in mem0.get(f"/v1/memories/{good}/history/").json()] == ["ADD"]
    response = mem0.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": good},
                                                                       {"memory_id": str(uuid.uuid4())}]})
    assert response.status_code == 400
    assert mem0.get(f"/v1/memories/{good}/").status_code == 200


# --- events ----------------------------------------------------------------------------------------

def test_event_ids_are_checked(mem0):
    """An unknown event id answers 404, a malformed one 400."""
    assert mem0.get(f"/v1/event/{uuid.uuid4()}/").status_code == 404
    assert mem0.get("/v1/event/nope/").json() == {"error": "event_id should be a valid UUID"}


def test_metadata_nested_too_deeply_is_refused(mem0):
    """Metadata nesting deeper than 100 levels gets 400 on add and update, and nothing changes."""
    deep: object = "leaf"
    for _ in range(100):
        deep = [deep]
    body = {"messages": [{"role": "user", "content": "x"}], "user_id": "alice", "metadata": {"a": deep}}
    assert mem0.post("/v3/memories/add/", json={**body, "async_mode": False}).status_code == 400
    assert mem0.post("/v3/memories/add/", json=body).status_code == 400
    memory_id = add(mem0, "shallow")
    assert mem0.put(f"/v1/memories/{memory_id}/", json={"metadata": {"a": deep}}).status_code == 400
    assert mem0.get(f"/v1/memories/{memory_id}/").json()["metadata"] is None


def test_an_add_shares_one_input_record_among_its_memories_and_their_history(mem0, server):
    """The conversation of an add is stored once: memory grows with what is stored, not with its square."""
    messages = [{"role": "user", "content": f"fact {n}"} for n in range(300)]
    answer = mem0.post("/v1/memories/", json={"messages": messages, "user_id": "alice", "infer": False,
                                              "async_mode": False, "output_format": "v1.1"})
    assert answer.status_code == 200
    ids = [result["id"] for result in answer.json()["results"]]
    store = server.store
    inputs = {id(store.memories[memory_id].input) for memory_id in ids}
    inputs |= {id(entry["input"]) for memory_id in ids for entry in store.history[memory_id]}
    assert len(ids) == 300 and len(inputs) == 1
    history = mem0.get(f"/v1/memories/{ids[0]}/history/").json()
    assert [message["content"] for message in history[0]["input"]] == [m["content"] for m in messages]


def test_an_add_that_fails_partway_stores_nothing_and_the_server_keeps_answering(mem0, server, monkeypatch):
    """An add whose storing fails at its third memory (here: memory runs out) leaves no memory of it behind."""
    from conformance.server import store as store_module

    original, calls = store_module.Store.record, []

    def out_of_memory_at_the_third(self, memory, event, **kwargs):  # stands in for a MemoryError partway
        calls.append(memory.id)
        if len(calls) == 3:
            raise MemoryError("simulated")
        return original(self, memory, event, **kwargs)

    monkeypatch.setattr(store_module.Store, "record", out_of_memory_at_the_third)
    queued = mem0.post("/v1/memories/", json={"messages": [{"role": "user", "content": f"n{n}"} for n in range(5)],
                                              "user_id": "alice", "infer": False})
    (event_id,) = [event["event_id"] for event in queued.json()]
    assert mem0.get("/v1/ping/").status_code == 200  # the next request settles the queued add, which fails
    monkeypatch.setattr(store_module.Store, "record", original)
    assert len(calls) == 3
    event = mem0.get(f"/v1/event/{event_id}/").json()
    assert event["status"] == "FAILED" and "MemoryError" in event["results"][0]["error"]
    assert listed(mem0, {"user_id": "alice"}) == []
    assert server.store.memories == {} and server.store.history == {}
    assert mem0.get("/v1/ping/").status_code == 200
