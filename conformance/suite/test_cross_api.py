"""Klavis sandbox data seen through the Mem0 API, on targets whose two APIs share one store.

The mapping is FACTS.md "Mem0Memory field mapping": ``content_text`` is the Mem0 ``memory``,
``read_only`` is ``immutable``, entity ids and ``metadata`` keep their names, and a dump item's
``id`` is the Mem0 memory id ("set by Mem0"). A sandbox's memories are found through the Mem0
API by the (run-prefixed) entity ids its items carry.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from conformance.suite import roundtrip
from conformance.suite.machines.sandbox import BASE
from conformance.suite.support import eventually, expect, expect_error

pytestmark = pytest.mark.requires("klavis", "mem0", "shared_data")

MEM0_FIELDS = ("memory", "user_id", "agent_id", "app_id", "run_id", "metadata", "immutable")


def _items(user_id: str, agent_id: str, run_id: str) -> list[dict[str, Any]]:
    """Verbatim (auto_infer=false) items: non-ASCII, nested and empty metadata, a long text,
    a read-only one, and one processed in the background."""
    return [
        {"message_list": [{"role": "user", "content": "Ich trinke morgens immer grünen Tee 🍵"},
                          {"role": "assistant", "content": "  Noted — grüner Tee, jeden Morgen.  "}],
         "user_id": user_id, "agent_id": agent_id, "auto_infer": False, "background_processing": False,
         "metadata": {"category": "santé", "nested": {"levels": [1, {"deep": True}], "empty": {}}}},
        {"message_list": [{"role": "user", "content": "My email is jane.doe+test@example.com"}],
         "user_id": user_id, "run_id": run_id, "auto_infer": False, "background_processing": False,
         "read_only": True, "metadata": {}},
        {"message_list": [{"role": "user", "content": " ".join(["私は毎朝ジョギングをします。"] * 80)}],
         "user_id": user_id, "auto_infer": False, "background_processing": True, "read_only": None,
         "metadata": None},
    ]


def _as_mem0(record: str) -> str:
    """A verbatim ≈ record as the Mem0 memory it maps to (the compared fields only)."""
    fields = json.loads(record)
    mem0 = {key: fields[key] for key in roundtrip.ENTITY_KEYS} | {
        "memory": fields["content_text"], "metadata": fields["metadata"], "immutable": fields["read_only"]}
    return roundtrip.canonical(mem0)


def _mem0_memories(mem0, user_id: str) -> list[dict[str, Any]]:
    body = expect(mem0.get("/v1/memories/", params={"user_id": user_id}), 200)
    return body["results"] if isinstance(body, dict) else body


@pytest.fixture(scope="module")
def initialized(klavis, new_sandbox, new_user, ids) -> dict[str, Any]:
    """A sandbox initialized with :func:`_items` for a fresh run-prefixed user, once its dump
    holds every item (what the dump says is test_sandbox.py's concern, not checked here)."""
    sandbox_id, user_id = new_sandbox(), new_user()
    items = _items(user_id, ids.new("agent"), ids.new("run"))
    expect(klavis.post(f"{BASE}/{sandbox_id}/initialize", json={"memory_list": items}), 200)
    expected = roundtrip.normalise_initialize(items)

    def settled() -> dict[str, Any]:
        dump = expect(klavis.get(f"{BASE}/{sandbox_id}/dump"), 200)
        count = len(roundtrip.memory_list(dump))
        assert count == len(expected.verbatim), f"Received {count} dumped memories / Documented {len(expected.verbatim)}"
        return dump

    dump = eventually(settled, within=klavis.wait, what="the initialized items appear in the dump")
    return {"sandbox_id": sandbox_id, "user_id": user_id, "items": items, "expected": expected, "dump": dump}


def test_initialized_memories_are_mem0_memories_with_the_mapped_fields(mem0, initialized):
    """Each memory initialized through Klavis is a Mem0 memory of its user: content_text is memory,
    read_only is immutable, entity ids and metadata are the same (FACTS.md field mapping)."""
    documented = Counter(map(_as_mem0, initialized["expected"].verbatim))

    def visible() -> None:
        found = _mem0_memories(mem0, initialized["user_id"])
        received = Counter(roundtrip.canonical({key: memory.get(key) for key in MEM0_FIELDS}) for memory in found)
        assert received == documented, (
            f"Received through Mem0: {sorted(received.elements())}\nDocumented: {sorted(documented.elements())}")

    eventually(visible, within=mem0.wait, what="the sandbox's memories are visible through the Mem0 API")


def test_dump_ids_are_the_mem0_memory_ids(mem0, initialized):
    """A dump item's id is the id of the Mem0 memory it is ("Memory ID, set by Mem0")."""
    dumped = {item["id"]: item.get("content_text") for item in roundtrip.memory_list(initialized["dump"])}

    def same() -> None:
        found = {memory["id"]: memory.get("memory") for memory in _mem0_memories(mem0, initialized["user_id"])}
        assert found == dumped, f"Received through Mem0: {found}\nDocumented (the dump): {dumped}"

    eventually(same, within=mem0.wait, what="the dumped memories are listed through the Mem0 API")


def test_read_only_memory_refuses_a_mem0_update(mem0, initialized):
    """A memory initialized read_only is immutable through Mem0: PUT gets a 4xx with a body and
    changes nothing (FACTS.md: immutable memories are never updated)."""
    texts = {message["content"] for item in initialized["items"] if item.get("read_only")
             for message in item["message_list"]}
    read_only = [item for item in roundtrip.memory_list(initialized["dump"]) if item.get("content_text") in texts]
    assert read_only, f"Received no dumped memory with the read_only item's text / Documented {texts}"
    for item in read_only:
        before = expect(mem0.get(f"/v1/memories/{item['id']}/"), 200)
        expect_error(mem0.put(f"/v1/memories/{item['id']}/", json={"text": "changed through Mem0",
                                                                    "metadata": {"changed": True}}),
                     what="PUT of a read_only sandbox memory")
        after = expect(mem0.get(f"/v1/memories/{item['id']}/"), 200)
        assert (after["memory"], after.get("metadata")) == (before["memory"], before.get("metadata")), (
            f"Received after the refused PUT: {after!r} / Documented unchanged: {before!r}")
        assert after["memory"] == item["content_text"], f"Received {after['memory']!r} / Documented {item['content_text']!r}"
