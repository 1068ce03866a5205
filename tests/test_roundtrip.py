"""The ≈ normaliser of Klavis round trips (conformance/suite/roundtrip.py), without a network."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.suite import roundtrip
from conformance.suite.roundtrip import (
    assert_equivalent,
    differences,
    normalise_dump,
    normalise_initialize,
)
from conformance.strategies.sandbox import memory_lists

PREFIX = "mct-unit-main"


def _message(content: str, role: str = "user") -> dict[str, str]:
    return {"role": role, "content": content}


def _dumped(item: dict, **server: object) -> dict:
    """A dump item for ``item`` as a server would give it: server fields set, defaults spelled out."""
    return {"id": "0b6f", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:01Z",
            "auto_infer": True, "background_processing": True, "read_only": False, "response_format": "v1.1",
            **{k: v for k, v in item.items() if v is not None}, **server}


def test_defaults_come_from_the_mem0memory_schema():
    """The defaults are the effective document's: auto_infer and background true, read_only false, v1.1."""
    assert roundtrip.klavis_defaults() == {"auto_infer": True, "background_processing": True,
                                           "read_only": False, "response_format": "v1.1"}


def test_verbatim_item_expands_to_one_record_per_stored_message():
    """auto_infer=false: one record per non-system, non-empty message, content kept exactly."""
    item = {"message_list": [_message(" padded "), _message("réponse", "assistant"), _message("rules", "system"),
                             _message("")], "user_id": "u", "auto_infer": False, "metadata": {"a": [1, {"b": None}]}}
    normalised = normalise_initialize([item])
    contents = [json.loads(record)["content_text"] for record in normalised.verbatim]
    assert sorted(contents) == sorted([" padded ", "réponse"])
    assert not normalised.inferred


def test_dump_of_verbatim_items_is_equivalent_regardless_of_server_fields_defaults_and_order():
    """Ids, times, spelled-out defaults and order do not matter; the dump's items are one memory each."""
    item = {"message_list": [_message("un"), _message("deux", "assistant")], "user_id": "u", "agent_id": None,
            "auto_infer": False, "read_only": None, "metadata": {"k": "v"}}
    dump = [_dumped({**item, "message_list": [_message("deux", "assistant")], "content_text": "deux"}, id="2"),
            _dumped({**item, "message_list": [_message("un")], "content_text": "un"}, id="1")]
    assert differences(normalise_dump(dump), normalise_initialize([item])) == []


@pytest.mark.parametrize("change", [
    {"content_text": "Un"}, {"metadata": None}, {"metadata": {"k": "w"}}, {"user_id": "other"},
    {"read_only": True}, {"agent_id": "a"},
])
def test_a_changed_verbatim_field_is_a_difference(change):
    """Content, metadata, entity ids and read_only of a verbatim item must round-trip exactly."""
    item = {"message_list": [_message("un")], "user_id": "u", "auto_infer": False, "metadata": {"k": "v"}}
    dump = [_dumped({**item, "content_text": "un", **change})]
    with pytest.raises(AssertionError, match="not ≈"):
        assert_equivalent(normalise_dump(dump), normalise_initialize([item]))


def test_a_duplicated_verbatim_memory_is_a_difference():
    """Verbatim records compare as a multiset: an initialize that appended shows up."""
    item = {"message_list": [_message("un")], "user_id": "u", "auto_infer": False}
    dump = [_dumped({**item, "content_text": "un"})] * 2
    assert differences(normalise_dump(dump), normalise_initialize([item])) == [
        f"unexpected {normalise_initialize([item]).verbatim[0]} (x1)"]


def test_inferred_items_keep_entity_ids_and_metadata_but_not_text():
    """auto_infer=true: any number of memories with any text, carrying the item's ids and metadata."""
    item = {"message_list": [_message("I like tea and coffee")], "user_id": "u", "metadata": {"m": 1}}
    two = [_dumped({**item, "content_text": "Likes tea"}), _dumped({**item, "content_text": "Likes coffee"})]
    assert differences(normalise_dump(two), normalise_initialize([item])) == []
    assert differences(normalise_dump([]), normalise_initialize([item])) == []
    wrong = [_dumped({**item, "metadata": None, "content_text": "Likes tea"})]
    assert differences(normalise_dump(wrong), normalise_initialize([item]))


def test_unsettled_background_items_may_be_missing_but_nothing_else():
    """settled=False tolerates missing background records only; settled=True requires them."""
    now = {"message_list": [_message("now")], "user_id": "u", "auto_infer": False, "background_processing": False}
    later = {"message_list": [_message("later")], "user_id": "u", "auto_infer": False}
    expected = normalise_initialize([now, later])
    only_now = normalise_dump([_dumped({**now, "content_text": "now"})])
    assert differences(only_now, expected, settled=False) == []
    assert differences(only_now, expected, settled=True)
    only_later = normalise_dump([_dumped({**later, "content_text": "later"})])
    assert differences(only_later, expected, settled=False)


def test_memory_list_reads_the_dump_envelope():
    """memory_list takes data.memory_list of a dump answer and refuses other shapes."""
    assert roundtrip.memory_list({"sandbox_id": "s", "dumped_at": "t", "data": {"memory_list": [{"id": 1}]}}) == [{"id": 1}]
    with pytest.raises(AssertionError):
        roundtrip.memory_list({"data": None})


@given(memory_lists(run_prefix=PREFIX))
def test_a_faithful_dump_of_generated_items_is_equivalent(items):
    """A dump that stores each stored message of every item as one memory is ≈ the items."""
    dump = []
    for item in items:
        messages = roundtrip.stored_messages(item.get("message_list"))
        if item.get("auto_infer") in (True, None):
            messages = [m for m in messages if m["role"] == "user"]
        dump += [_dumped({**item, "message_list": [m], "content_text": m["content"]}) for m in messages]
    assert differences(normalise_dump(dump), normalise_initialize(items)) == []
    assert all(uid.startswith(PREFIX) for item in items for uid in [item["user_id"]])


@given(memory_lists(run_prefix=PREFIX, auto_infer=st.just(False)).filter(
    lambda items: any(roundtrip.stored_messages(i["message_list"]) for i in items)))
def test_dropping_any_verbatim_memory_is_a_difference(items):
    """Every verbatim memory counts: a dump missing one is not ≈."""
    expected = normalise_initialize(items)
    actual = roundtrip.Normalised(expected.verbatim[1:], expected.inferred)
    assert differences(actual, expected)
