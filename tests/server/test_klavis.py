"""The Klavis mem0 sandbox API of the reference server: lifecycle, initialize, dump, mapping."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.server.sandbox_mapping import default_data_set
from conformance.specs import effective

INITIALIZE = "/sandbox/mem0/{}/initialize"
DUMP = "/sandbox/mem0/{}/dump"
OUTPUT_ONLY = ("id", "created_at", "updated_at")


# --- helpers shared with test_faults_klavis ---------------------------------------------------


def acquire(klavis: httpx.Client, **body: Any) -> str:
    response = klavis.post("/sandbox/mem0", json=body)
    assert response.status_code == 201, response.text
    return response.json()["sandbox_id"]


def initialize(klavis: httpx.Client, sandbox_id: str, body: Any = None, **query: Any) -> dict[str, Any]:
    params = {k: str(v).lower() for k, v in query.items()}
    response = klavis.post(INITIALIZE.format(sandbox_id), json=body, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def dump(klavis: httpx.Client, sandbox_id: str) -> list[dict[str, Any]]:
    response = klavis.get(DUMP.format(sandbox_id))
    assert response.status_code == 200, response.text
    return response.json()["data"]["memory_list"]


def normalised(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dump items without the fields the server assigns (ids and times)."""
    return [{k: v for k, v in item.items() if k not in OUTPUT_ONLY} for item in items]


def item(content: str, *, role: str = "user", **fields: Any) -> dict[str, Any]:
    return {"message_list": [{"role": role, "content": content}], "background_processing": False, **fields}


# --- acquire, details, list -----------------------------------------------------------------------


def test_acquire_answers_201_occupied_and_keeps_metadata(klavis):
    """Acquire answers 201 {sandbox_id, server_name mem0, status occupied, message}; details show the metadata."""
    response = klavis.post("/sandbox/mem0", json={"tag": "ci", "ttl_seconds": 600, "benchmark": "MCP_Atlas",
                                                  "test_account_email": "qa@example.com"})
    assert response.status_code == 201
    body = response.json()
    assert body["server_name"] == "mem0" and body["status"] == "occupied" and body["message"]
    info = klavis.get(f"/sandbox/mem0/{body['sandbox_id']}").json()
    assert info["status"] == "occupied" and info["server_name"] == "mem0" and info["tags"] == ["ci"]
    meta = info["metadata"]
    assert (meta["tag"], meta["ttl_seconds"], meta["benchmark"], meta["test_account_email"]) == (
        "ci", 600, "MCP_Atlas", "qa@example.com")


def test_acquire_without_body_uses_default_ttl_and_null_means_never(klavis):
    """No body means ttl_seconds 7200; ttl_seconds null means the sandbox never expires."""
    response = klavis.post("/sandbox/mem0")
    assert response.status_code == 201
    default = klavis.get(f"/sandbox/mem0/{response.json()['sandbox_id']}").json()["metadata"]
    assert default["ttl_seconds"] == 7200 and default["expires_at"] is not None
    never = klavis.get(f"/sandbox/mem0/{acquire(klavis, ttl_seconds=None)}").json()["metadata"]
    assert never["ttl_seconds"] is None and never["expires_at"] is None


def test_every_acquire_gives_a_new_sandbox(klavis):
    """Two acquires give two distinct occupied sandboxes."""
    assert acquire(klavis) != acquire(klavis)


def test_list_filters_by_tag_and_server_name_case_insensitively(klavis):
    """List shows every sandbox in creation order; tag filters exactly, server_name ignores case."""
    first, second = acquire(klavis, tag="a"), acquire(klavis, tag="b")
    listed = klavis.get("/sandbox").json()
    assert [s["sandbox_id"] for s in listed["sandboxes"]] == [first, second] and listed["total_count"] == 2
    assert [s["sandbox_id"] for s in klavis.get("/sandbox", params={"tag": "b"}).json()["sandboxes"]] == [second]
    assert klavis.get("/sandbox", params={"server_name": "MEM0"}).json()["total_count"] == 2
    assert klavis.get("/sandbox", params={"server_name": "jira"}).json() == {"sandboxes": [], "total_count": 0}


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/sandbox/mem0/{}"), ("DELETE", "/sandbox/mem0/{}"), ("POST", "/sandbox/mem0/{}/reset"),
    ("POST", INITIALIZE), ("GET", DUMP),
])
def test_an_unknown_sandbox_gets_404_with_detail(klavis, method, path):
    """Every operation on an unknown sandbox id answers 404 {"detail": "..."}."""
    response = klavis.request(method, path.format("no-such-sandbox"))
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


# --- release, TTL, reset ----------------------------------------------------------------------------


def test_release_sets_idle_and_empties_the_sandbox(klavis, server):
    """Release answers 200 idle; details show idle; the sandbox's memories are gone from the store."""
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("I like tea")]})
    response = klavis.delete(f"/sandbox/mem0/{sandbox_id}")
    assert response.status_code == 200 and response.json()["status"] == "idle"
    assert klavis.get(f"/sandbox/mem0/{sandbox_id}").json()["status"] == "idle"
    assert server.store.select(lambda m: m.sandbox_id == sandbox_id) == []
    again = klavis.delete(f"/sandbox/mem0/{sandbox_id}")
    assert again.status_code == 200 and again.json()["status"] == "idle"


@pytest.mark.parametrize(("method", "path"), [("POST", INITIALIZE), ("GET", DUMP), ("POST", "/sandbox/mem0/{}/reset")])
def test_a_released_sandbox_cannot_be_used(klavis, server, method, path):
    """Initialize, dump and reset of a released sandbox answer 404 and change nothing."""
    sandbox_id = acquire(klavis)
    klavis.delete(f"/sandbox/mem0/{sandbox_id}")
    response = klavis.request(method, path.format(sandbox_id), json={"memory_list": [item("x")]} if "init" in path
                              else None)
    assert response.status_code == 404 and "not occupied" in response.json()["detail"]
    assert klavis.get(f"/sandbox/mem0/{sandbox_id}").json()["status"] == "idle"
    assert server.store.select(lambda m: m.sandbox_id == sandbox_id) == []


def test_a_ttl_release_for_another_instance_is_skipped(klavis):
    """is_ttl with a stale instance_id leaves the sandbox occupied; with its own instance_id it releases."""
    sandbox_id = acquire(klavis)
    instance_id = klavis.get(f"/sandbox/mem0/{sandbox_id}").json()["metadata"]["instance_id"]
    skipped = klavis.delete(f"/sandbox/mem0/{sandbox_id}", params={"is_ttl": "true", "instance_id": "stale"})
    assert skipped.status_code == 200 and skipped.json()["status"] == "occupied"
    assert klavis.get(f"/sandbox/mem0/{sandbox_id}").json()["status"] == "occupied"
    released = klavis.delete(f"/sandbox/mem0/{sandbox_id}", params={"is_ttl": "true", "instance_id": instance_id})
    assert released.json()["status"] == "idle"


def test_an_expired_sandbox_is_released_on_the_next_request(klavis, server):
    """Past acquired_at + ttl_seconds, the sandbox is idle and emptied at the next Klavis request."""
    sandbox_id = acquire(klavis, ttl_seconds=60)
    initialize(klavis, sandbox_id, {"memory_list": [item("I like tea")]})
    server.store.sandboxes[sandbox_id]["expires_at"] = datetime.now(UTC) - timedelta(seconds=1)
    assert klavis.get(f"/sandbox/mem0/{sandbox_id}").json()["status"] == "idle"
    assert server.store.select(lambda m: m.sandbox_id == sandbox_id) == []


def test_reset_empties_the_sandbox_and_keeps_it_occupied(klavis):
    """Reset answers 200 occupied; the dump is empty afterwards and the sandbox is still held."""
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("I like tea"), item("I like coffee")]})
    response = klavis.post(f"/sandbox/mem0/{sandbox_id}/reset")
    assert response.status_code == 200 and response.json()["status"] == "occupied"
    assert dump(klavis, sandbox_id) == []
    assert klavis.get(f"/sandbox/mem0/{sandbox_id}").json()["status"] == "occupied"


# --- initialize and dump ----------------------------------------------------------------------------


def test_initialize_answers_occupied_with_records_created(klavis):
    """Initialize answers 200 {sandbox_id, status occupied, message, records_created.memories}."""
    sandbox_id = acquire(klavis)
    answer = initialize(klavis, sandbox_id, {"memory_list": [item("I like tea"), item("I like coffee")]})
    assert answer["sandbox_id"] == sandbox_id and answer["status"] == "occupied" and answer["message"]
    assert answer["records_created"] == {"memories": 2}


def test_initialize_replaces_so_it_is_idempotent(klavis):
    """Initializing twice with the same body leaves the same data as initializing once."""
    sandbox_id = acquire(klavis)
    body = {"memory_list": [item("I like tea", user_id="alice")]}
    initialize(klavis, sandbox_id, body)
    once = normalised(dump(klavis, sandbox_id))
    initialize(klavis, sandbox_id, body)
    assert normalised(dump(klavis, sandbox_id)) == once and len(once) == 1


@pytest.mark.parametrize("body", [None, {}, {"memory_list": []}], ids=["null", "empty-object", "empty-list"])
def test_an_empty_initialize_empties_the_sandbox(klavis, body):
    """A null body, {} or an empty memory_list leaves the sandbox without memories."""
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("I like tea")]})
    answer = initialize(klavis, sandbox_id, body)
    assert answer["records_created"] == {"memories": 0}
    assert dump(klavis, sandbox_id) == []


def test_default_data_is_the_example_body_and_wins_over_the_body(klavis):
    """init_default_data=true loads the initialize example (the body is ignored): one memory per user message."""
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("ignored")]}, init_default_data=True)
    dumped = dump(klavis, sandbox_id)
    expected = default_data_set()["memory_list"]
    assert {d["content_text"] for d in dumped} == {i["message_list"][0]["content"] for i in expected}
    assert "ignored" not in {d["content_text"] for d in dumped}
    by_text = {d["content_text"]: d for d in dumped}
    for source in expected:
        got = by_text[source["message_list"][0]["content"]]
        assert got["metadata"] == source["metadata"] and got["user_id"] == source["user_id"]
        assert got["category_definitions"] == source["category_definitions"]
        assert got["read_only"] is source.get("read_only", False)


def test_the_default_data_set_comes_from_the_effective_document():
    """The default data set equals the initialize operation's example body in the effective document."""
    operation = effective("klavis")["paths"]["/sandbox/mem0/{sandbox_id}/initialize"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["examples"]["default"]["value"]
    assert default_data_set() == example


def test_background_items_appear_only_once_settled(klavis, server):
    """background_processing items are missing from a dump until processing_delay has passed."""
    server.store.processing_delay = 0.3
    sandbox_id = acquire(klavis)
    answer = initialize(klavis, sandbox_id, {"memory_list": [
        item("now", background_processing=False), item("later", background_processing=True)]})
    assert answer["records_created"] == {"memories": 1}
    assert [d["content_text"] for d in dump(klavis, sandbox_id)] == ["now"]
    time.sleep(0.4)
    assert [d["content_text"] for d in dump(klavis, sandbox_id)] == ["now", "later"]


def test_reset_cancels_pending_background_items(klavis, server):
    """Background items still pending when the sandbox is reset never appear."""
    server.store.processing_delay = 0.2
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("later", background_processing=True)]})
    klavis.post(f"/sandbox/mem0/{sandbox_id}/reset")
    time.sleep(0.3)
    assert dump(klavis, sandbox_id) == []


def test_dump_shape_defaults_and_order(klavis):
    """Dump answers {sandbox_id, server_name, dumped_at, data.memory_list}; items have Klavis defaults, in order."""
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [
        {"message_list": [{"role": "user", "content": "first"}], "auto_infer": None, "read_only": None,
         "background_processing": False},
        item("second", metadata={"k": [1, 2]}, user_id="u", agent_id="a", app_id="p", run_id="r"),
    ]})
    response = klavis.get(DUMP.format(sandbox_id)).json()
    assert response["sandbox_id"] == sandbox_id and response["server_name"] == "mem0"
    datetime.fromisoformat(response["dumped_at"].replace("Z", "+00:00"))
    first, second = response["data"]["memory_list"]
    assert first["content_text"] == "first" and first["message_list"] == [{"role": "user", "content": "first"}]
    assert (first["auto_infer"], first["background_processing"], first["read_only"], first["response_format"]) == (
        True, False, False, "v1.1")
    assert second["metadata"] == {"k": [1, 2]}
    assert (second["user_id"], second["agent_id"], second["app_id"], second["run_id"]) == ("u", "a", "p", "r")


def test_auto_infer_false_stores_each_message_verbatim(klavis):
    """With auto_infer false every non-system message becomes one memory, content and ids unchanged."""
    sandbox_id = acquire(klavis)
    messages = [{"role": "user", "content": "  spaced  "}, {"role": "assistant", "content": "noted"},
                {"role": "system", "content": "ignored"}]
    initialize(klavis, sandbox_id, {"memory_list": [{"message_list": messages, "auto_infer": False, "user_id": "u",
                                                     "metadata": {"m": 1}, "background_processing": False}]})
    dumped = dump(klavis, sandbox_id)
    assert [d["content_text"] for d in dumped] == ["  spaced  ", "noted"]
    assert [d["message_list"] for d in dumped] == [[messages[0]], [messages[1]]]
    assert all(d["user_id"] == "u" and d["metadata"] == {"m": 1} for d in dumped)


def test_auto_infer_true_keeps_user_messages_only(klavis):
    """With auto_infer true (the default) each non-blank user message becomes one memory, trimmed."""
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [{"message_list": [
        {"role": "user", "content": " I like tea "}, {"role": "assistant", "content": "noted"},
        {"role": "user", "content": "   "}], "background_processing": False}]})
    assert [d["content_text"] for d in dump(klavis, sandbox_id)] == ["I like tea"]


def test_options_round_trip_through_dump(klavis):
    """The Klavis-only options (preferences, categories, instructions, format) come back in the dump."""
    sandbox_id = acquire(klavis)
    options = {"include_preferences": "inc", "exclude_preferences": "exc", "category_definitions": [{"c": "d"}],
               "processing_instructions": "pi", "response_format": "v1.0", "auto_infer": False}
    initialize(klavis, sandbox_id, {"memory_list": [item("x", **options)]})
    (dumped,) = dump(klavis, sandbox_id)
    assert {k: dumped[k] for k in options} == options


def test_timestamp_sets_created_at_and_round_trips(klavis):
    """timestamp becomes created_at and comes back unchanged; an unrepresentable one is kept, not rejected."""
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("old", timestamp=1_700_000_000),
                                                    item("odd", timestamp=10**20)]})
    old, odd = dump(klavis, sandbox_id)
    assert old["timestamp"] == 1_700_000_000 and old["created_at"].startswith("2023-11-14T22:13:20")
    assert odd["timestamp"] == 10**20


def test_read_only_memories_are_immutable_in_the_store(klavis, server):
    """read_only true maps to immutable on the stored memory, and dumps as read_only true."""
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("fixed", read_only=True), item("free")]})
    stored = {m.memory: m.immutable for m in server.store.select(lambda m: m.sandbox_id == sandbox_id)}
    assert stored == {"fixed": True, "free": False}
    assert [d["read_only"] for d in dump(klavis, sandbox_id)] == [True, False]


def test_a_read_only_memory_cannot_be_updated_through_mem0(klavis, mem0):
    """A memory initialized read_only refuses a Mem0 update with a 4xx and stays unchanged."""
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("fixed", read_only=True, user_id="u")]})
    (memory,) = dump(klavis, sandbox_id)
    response = mem0.put(f"/v1/memories/{memory['id']}/", json={"text": "changed"})
    assert 400 <= response.status_code < 500 and response.content
    assert mem0.get(f"/v1/memories/{memory['id']}/").json()["memory"] == "fixed"
    assert dump(klavis, sandbox_id)[0]["content_text"] == "fixed"


def test_sandboxes_do_not_share_data(klavis):
    """Each sandbox's dump shows only its own memories."""
    first, second = acquire(klavis), acquire(klavis)
    initialize(klavis, first, {"memory_list": [item("mine")]})
    initialize(klavis, second, {"memory_list": [item("yours")]})
    assert [d["content_text"] for d in dump(klavis, first)] == ["mine"]
    assert [d["content_text"] for d in dump(klavis, second)] == ["yours"]


def test_a_rejected_initialize_changes_nothing(klavis):
    """An invalid body gets 422 in FastAPI's shape and the sandbox keeps its data."""
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("kept")]})
    before = dump(klavis, sandbox_id)
    response = klavis.post(INITIALIZE.format(sandbox_id), json={"memory_list": [{"message_list": "not a list"}]})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][0] == "body"
    assert dump(klavis, sandbox_id) == before


# --- the round-trip property ------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_message = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "tool"]), "content": _text})
_optional_bool = st.none() | st.booleans()
_item = st.fixed_dictionaries({"message_list": st.lists(_message, max_size=3)}, optional={
    "user_id": st.none() | _text, "agent_id": st.none() | _text, "app_id": st.none() | _text,
    "run_id": st.none() | _text,
    "metadata": st.none() | st.dictionaries(_text, st.integers() | _text | st.booleans(), max_size=2),
    "auto_infer": _optional_bool, "read_only": _optional_bool, "background_processing": _optional_bool,
    "include_preferences": st.none() | _text, "category_definitions": st.none() | st.lists(
        st.dictionaries(_text, _text, max_size=1), max_size=1),
    "response_format": st.none() | st.sampled_from(["v1.0", "v1.1"]), "timestamp": st.none() | st.integers(0, 2**31),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(memory_list=st.lists(_item, max_size=4))
def test_initialize_of_a_dump_is_a_fixpoint(klavis, server, memory_list):
    """initialize(dump(initialize(x))) dumps the same normalised data as initialize(x)."""
    server.store.reset()
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": copy.deepcopy(memory_list)})
    first = dump(klavis, sandbox_id)
    initialize(klavis, sandbox_id, {"memory_list": first})
    assert normalised(dump(klavis, sandbox_id)) == normalised(first)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(memory_list=st.lists(_item, max_size=4))
def test_auto_infer_false_round_trips_content_ids_and_metadata(klavis, server, memory_list):
    """With auto_infer false, each non-system, non-empty message comes back with its item's ids and metadata."""
    server.store.reset()
    memory_list = [{**i, "auto_infer": False, "background_processing": False} for i in memory_list]
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": copy.deepcopy(memory_list)})
    keys = ("user_id", "agent_id", "app_id", "run_id", "metadata")
    expected = [(m["content"], *(i.get(k) for k in keys)) for i in memory_list for m in i["message_list"]
                if m["role"] != "system" and m["content"] != ""]
    assert [(d["content_text"], *(d[k] for k in keys)) for d in dump(klavis, sandbox_id)] == expected
