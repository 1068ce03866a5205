"""Each mutant operator changes what the same requests observe, and only on its own operation.

Like the fault tests: one request sequence runs twice on an emptied store, without a mutant (the
contract) and with one planted (the mutant's behaviour); each planted mutant also counts the times
it changed something (its activations).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conformance.server import ServerSettings, create_app
from conformance.server.app import MutantError
from tests.server.test_mem0_memories import add, listed


def both(server, mutant: str, scenario: Callable[[], Any]) -> tuple[Any, Any]:
    """What ``scenario`` observes without a mutant, then with ``mutant`` planted (store emptied before each)."""
    server.store.reset()
    correct = scenario()
    server.store.reset()
    planted = server.set_mutant(mutant)
    try:
        return correct, scenario()
    finally:
        assert planted.activations > 0, f"{mutant} was never activated by the scenario"
        server.set_mutant(None)


def texts(mem0: httpx.Client, user: str) -> list[str]:
    return sorted(listed(mem0, {"user_id": user}))


# --- request --------------------------------------------------------------------------------------

def test_an_ignored_filter_is_read_as_if_not_sent(mem0, server):
    """request.filters.AND:ignored: a v2 list's AND is dropped, so its user filter inside is gone (400)."""
    def scenario():
        add(mem0, "tea", user_id="alice")
        response = mem0.post("/v2/memories/", json={"filters": {"AND": [{"user_id": "alice"}]}})
        return response.status_code

    assert both(server, "memories_list_v2:request.filters.AND:ignored", scenario) == (200, 400)


def test_an_ignored_query_parameter_is_read_as_if_not_sent(mem0, server):
    """request.query.page_size:ignored: a v3 page holds the default 100 items, not page_size."""
    def scenario():
        for n in range(3):
            add(mem0, f"fact {n}")
        response = mem0.post("/v3/memories/", params={"page_size": 1}, json={"filters": {"user_id": "alice"}})
        return len(response.json()["results"])

    assert both(server, "memories_list_v3:request.query.page_size:ignored", scenario) == (1, 3)


def test_an_ignored_item_property_is_dropped_from_every_item(mem0, server):
    """request.memories[].text:ignored: a batch update's texts are not read, so its items change nothing (400)."""
    def scenario():
        memory = add(mem0, "old")
        status = mem0.put("/v1/batch/", json={"memories": [{"memory_id": memory, "text": "new"}]}).status_code
        return status, texts(mem0, "alice")

    assert both(server, "memories_batch_update:request.memories[].text:ignored", scenario) == (
        (200, ["new"]), (400, ["old"]))


def test_an_integer_read_one_higher(mem0, server):
    """request.top_k:off-by-one: a v3 search with top_k 1 finds two memories."""
    def scenario():
        add(mem0, "tea at noon")
        add(mem0, "tea at night")
        response = mem0.post("/v3/memories/search/", json={"query": "tea", "filters": {"user_id": "alice"}, "top_k": 1})
        return len(response.json()["results"])

    assert both(server, "memories_search_v3:request.top_k:off-by-one", scenario) == (1, 2)


@pytest.mark.parametrize(("operator", "size", "expected"), [
    ("maxItems-off-by-one", 1001, (400, 200)),
    ("maxItems-tightened", 1000, (200, 400)),
    ("maxItems-unchecked", 1500, (400, 200)),
])
def test_a_moved_bound(mem0, server, operator, size, expected):
    """The batch limit of 1000 (checked by its handler, read from the document) moves with the mutant."""
    def scenario():
        memory = add(mem0, "x")
        return mem0.put("/v1/batch/", json={"memories": [{"memory_id": memory, "text": "y"}] * size}).status_code

    assert both(server, f"memories_batch_update:request.memories:{operator}", scenario) == expected


def test_a_moved_bound_of_the_validated_schema(mem0, server):
    """request.top_k:minimum-unchecked: a v3 search with top_k 0 is accepted (else 400 from the schema)."""
    def scenario():
        add(mem0, "tea")
        return mem0.post("/v3/memories/search/", json={"query": "tea", "filters": {"user_id": "alice"},
                                                       "top_k": 0}).status_code

    assert both(server, "memories_search_v3:request.top_k:minimum-unchecked", scenario) == (400, 200)


def test_a_loosened_minimum_length_takes_the_not_blank_pattern_with_it(mem0, server):
    """request.name:minLength-unchecked: an empty organization name is accepted (the overlay's "not blank" pattern
    is the same rule, and goes with the bound); without the mutant, 400."""
    def scenario():
        return mem0.post("/api/v1/orgs/organizations/", json={"name": ""}).status_code

    assert both(server, "create_organization:request.name:minLength-unchecked", scenario) == (400, 201)


# --- state ----------------------------------------------------------------------------------------

def test_no_op_answers_as_usual_and_changes_nothing(mem0, server):
    """state:no-op: an update answers 200 with the new text, and the memory keeps the old one (and its history)."""
    def scenario():
        memory = add(mem0, "old")
        answer = mem0.put(f"/v1/memories/{memory}/", json={"text": "new"})
        history = mem0.get(f"/v1/memories/{memory}/history/").json()
        return answer.status_code, answer.json()["memory"], texts(mem0, "alice"), [entry["event"] for entry in history]

    assert both(server, "memories_update:state:no-op", scenario) == (
        (200, "new", ["new"], ["ADD", "UPDATE"]), (200, "new", ["old"], ["ADD"]))


def test_no_op_of_queued_work(mem0, server):
    """state:no-op on a queued add: the event settles, and no memory appears."""
    def scenario():
        answer = mem0.post("/v3/memories/add/", json={"messages": [{"role": "user", "content": "tea"}],
                                                      "user_id": "alice", "infer": False}).json()
        time.sleep(0.01)
        event = mem0.get(f"/v1/event/{answer['event_id']}/").json()
        return event["status"], texts(mem0, "alice")

    assert both(server, "memories_add_v3:state:no-op", scenario) == (("SUCCEEDED", ["tea"]), ("SUCCEEDED", []))


def test_partial_leaves_the_last_change_out(mem0, server):
    """state:partial: a batch update of two memories changes only the first."""
    def scenario():
        first, second = add(mem0, "a"), add(mem0, "b")
        mem0.put("/v1/batch/", json={"memories": [{"memory_id": first, "text": "a2"}, {"memory_id": second, "text": "b2"}]})
        return texts(mem0, "alice")

    assert both(server, "memories_batch_update:state:partial", scenario) == (["a2", "b2"], ["a2", "b"])


def test_extra_repeats_the_change_on_another_record(mem0, server):
    """state:extra: deleting one user's memory also deletes the newest memory of another user."""
    def scenario():
        doomed = add(mem0, "mine", user_id="alice")
        add(mem0, "theirs", user_id="bob")
        mem0.delete(f"/v1/memories/{doomed}/")
        return texts(mem0, "alice"), texts(mem0, "bob")

    assert both(server, "memories_delete:state:extra", scenario) == (([], ["theirs"]), ([], []))


def test_extra_of_a_sandbox_change(klavis, server):
    """state:extra: releasing one sandbox also releases another."""
    def scenario():
        first, second = (klavis.post("/sandbox/mem0", json={}).json()["sandbox_id"] for _ in range(2))
        klavis.delete(f"/sandbox/mem0/{second}")
        return [klavis.get(f"/sandbox/mem0/{s}").json()["status"] for s in (first, second)]

    assert both(server, "release_mem0_sandbox:state:extra", scenario) == (["occupied", "idle"], ["idle", "idle"])


# --- answer ---------------------------------------------------------------------------------------

def test_dropped_leaves_a_property_out(mem0, server):
    """response.200.metadata:dropped: GET of a memory has no metadata."""
    def scenario():
        memory = add(mem0, "tea", metadata={"k": 1})
        return "metadata" in mem0.get(f"/v1/memories/{memory}/").json()

    assert both(server, "memories_read:response.200.metadata:dropped", scenario) == (True, False)


def test_other_takes_another_record_s_value(mem0, server):
    """response.200.memory:other: the second GET answers the first memory's text."""
    def scenario():
        first, second = add(mem0, "first"), add(mem0, "second")
        return [mem0.get(f"/v1/memories/{m}/").json()["memory"] for m in (first, second)]

    assert both(server, "memories_read:response.200.memory:other", scenario) == (["first", "second"],
                                                                                 ["first", "first"])


def test_other_of_a_nested_property_takes_another_record_s_value(mem0, server):
    """response.200[].data.memory:other: ``data`` belongs to the result that holds it, so the second add (of the
    same user, one request after another) answers the first memory's text."""
    def scenario():
        return [mem0.post("/v1/memories/", json={"messages": [{"role": "user", "content": text}], "user_id": "u",
                                                 "infer": False, "async_mode": False, "output_format": "v1.0"}
                          ).json()[0]["data"]["memory"] for text in ("alpha", "beta")]

    assert both(server, "memories_create:response.200[].data.memory:other", scenario) == (["alpha", "beta"],
                                                                                        ["alpha", "alpha"])


def test_before_answers_the_value_from_before_the_request(mem0, server):
    """response.200.memory:before: an update answers the old text (the record's own GET just before)."""
    def scenario():
        memory = add(mem0, "old")
        return mem0.put(f"/v1/memories/{memory}/", json={"text": "new"}).json()["memory"]

    assert both(server, "memories_update:response.200.memory:before", scenario) == ("new", "old")


def test_lose_last_and_gain_foreign(mem0, server):
    """An array answer loses its last item, or gains an item an answer of another scope held."""
    def scenario():
        add(mem0, "a1", user_id="alice")
        add(mem0, "b1", user_id="bob")
        return [sorted(m["memory"] for m in mem0.post("/v2/memories/", json={"filters": {"user_id": user}}).json())
                for user in ("bob", "alice")]

    assert both(server, "memories_list_v2:response.200:lose-last", scenario) == ([["b1"], ["a1"]], [[], []])
    assert both(server, "memories_list_v2:response.200:gain-foreign", scenario) == ([["b1"], ["a1"]],
                                                                                    [["b1"], ["a1", "b1"]])


def test_emptied_refusals_say_nothing(mem0, server):
    """response.4xx:emptied: a refused GET of an unknown memory answers 404 with an empty body."""
    def scenario():
        response = mem0.get("/v1/memories/00000000-0000-4000-8000-000000000000/")
        return response.status_code, response.content

    assert both(server, "memories_read:response.4xx:emptied", scenario) == ((404, b'{"error":"Memory not found!"}'),
                                                                           (404, b""))


# --- scope ----------------------------------------------------------------------------------------

def test_a_mutant_changes_nothing_of_other_operations(mem0, server):
    """A planted mutant leaves every other operation as it is, and is not activated by them."""
    planted = server.set_mutant("memories_update:state:no-op")
    memory = add(mem0, "tea")
    assert mem0.get(f"/v1/memories/{memory}/").json()["memory"] == "tea"
    assert texts(mem0, "alice") == ["tea"]
    assert planted.activations == 0


def test_a_mutant_needs_the_in_memory_state(tmp_path):
    """A mutant cannot be planted in a server whose state is shared through SQLite: one sentence says so."""
    with pytest.raises(MutantError, match="in-memory state"):
        create_app(ServerSettings(mutant="memories_update:state:no-op", state=str(tmp_path / "state.sqlite")))


def test_an_unknown_mutant_is_refused():
    """An unknown mutant id is refused, naming the catalogue."""
    with pytest.raises(MutantError, match="mutants list"):
        create_app(ServerSettings(mutant="memories_update:nothing:ignored"))
