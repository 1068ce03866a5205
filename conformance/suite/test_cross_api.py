"""Klavis sandbox data seen through the Mem0 API, on targets whose two APIs share one store.

The mapping is FACTS.md "Mem0Memory field mapping": ``content_text`` is the Mem0 ``memory``,
``read_only`` is ``immutable``, entity ids and ``metadata`` keep their names, and a dump item's
``id`` is the Mem0 memory id ("set by Mem0"). A sandbox's memories are found through the Mem0
API by the (run-prefixed) entity ids its items carry. Newer published Mem0 documents no longer
show ``immutable`` in answers: a memory that leaves it out is compared without it (its behaviour,
a refused update, is tested on its own).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from conformance.suite import roundtrip
from conformance.suite.machines.mem0_calls import memory_of, results_of
from conformance.suite.machines.sandbox import BASE
from conformance.suite.sources import (
    DUMP,
    MAPPING,
    ROUNDTRIP,
    fading,
    refused_update,
    roundtrip_source,
)
from conformance.suite.support import eventually, expect
from conformance.verdicts import Severity, fact, require

pytestmark = [pytest.mark.requires("klavis", "mem0", "shared_data"),
              pytest.mark.contract("Shared store with Mem0", api="klavis")]

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


def _shown(memory: dict[str, Any]) -> str:
    """A Mem0 memory's compared fields, without ``immutable`` when it leaves the field out."""
    return roundtrip.canonical({key: memory.get(key) for key in MEM0_FIELDS if key in memory or key != "immutable"})


def _unmatched(documented: Counter[str], found: list[dict[str, Any]]) -> tuple[Counter[str], Counter[str]]:
    """The documented records no memory matches, and the memories no record matches. A memory that
    leaves ``immutable`` out (as newer published documents show memories) matches on the other fields."""
    shown = Counter(_shown(memory) for memory in found if "immutable" in memory)
    missing, other = documented - shown, shown - documented
    for bare in (_shown(memory) for memory in found if "immutable" not in memory):
        match = next((record for record in missing
                      if _shown({k: v for k, v in json.loads(record).items() if k != "immutable"}) == bare), None)
        if match is None:
            other[bare] += 1
        else:
            missing -= Counter([match])
    return missing, other


def _mem0_memories(mem0, user_id: str) -> list[dict[str, Any]]:
    source = fact(MAPPING, "GET /v1/memories/")
    body = expect(mem0.get("/v1/memories/", params={"user_id": user_id}), 200, source=source)
    return results_of(body, what=f"GET /v1/memories/?user_id={user_id}", source=source)


def _dumped(initialized: dict[str, Any]) -> list[dict[str, Any]]:
    """The dump's items, each an object with an id."""
    items = roundtrip.memory_list(initialized["dump"])
    require(all(isinstance(item, dict) and item.get("id") for item in items),
            f"{DUMP} holds items without an id", received=items, documented="Mem0Memory items with the id set by Mem0",
            source=fact(MAPPING, DUMP))
    return items


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
        require(count == len(expected.verbatim), f"GET {BASE}/{sandbox_id}/dump holds {count} memories, not the "
                f"{len(expected.verbatim)} initialized", received=count,
                documented=f"{len(expected.verbatim)} memories: one per stored message ({ROUNDTRIP})",
                source=roundtrip_source(), severity=Severity.CRITICAL)
        return dump

    dump = eventually(settled, within=klavis.wait, what="the initialized items appear in the dump")
    return {"sandbox_id": sandbox_id, "user_id": user_id, "items": items, "expected": expected, "dump": dump}


def test_initialized_memories_are_mem0_memories_with_the_mapped_fields(mem0, initialized):
    """Each memory initialized through Klavis is a Mem0 memory of its user: content_text is memory,
    read_only is immutable (unless the memory leaves the field out), entity ids and metadata are the
    same (FACTS.md field mapping)."""
    documented = Counter(map(_as_mem0, initialized["expected"].verbatim))

    def visible() -> None:
        found = _mem0_memories(mem0, initialized["user_id"])
        missing, other = _unmatched(documented, found)
        require(not (missing or other), f"GET /v1/memories/ of the sandbox's user misses {missing.total()} of the "
                f"{documented.total()} initialized memories (with their mapped fields) and shows {other.total()} "
                "unexpected ones", received={"unexpected": sorted(other.elements()), "shown": len(found)},
                documented={"missing": sorted(missing.elements()), "initialized": documented.total()},
                source=fact(MAPPING, "GET /v1/memories/"), severity=Severity.CRITICAL)

    eventually(visible, within=mem0.wait, what="the sandbox's memories are visible through the Mem0 API")


def test_dump_ids_are_the_mem0_memory_ids(mem0, initialized):
    """A dump item's id is the id of the Mem0 memory it is ("Memory ID, set by Mem0")."""
    dumped = {item["id"]: item.get("content_text") for item in _dumped(initialized)}

    def same() -> None:
        found = {memory["id"]: memory.get("memory") for memory in _mem0_memories(mem0, initialized["user_id"])}
        require(found == dumped, f"GET /v1/memories/ of the sandbox's user shows {len(found)} memories (ids, texts) "
                f"where the dump has {len(dumped)}, {len(found.keys() & dumped.keys())} of them with the same ids",
                received=found, documented=f"the dump's ids and texts: {dumped}",
                source=fact(MAPPING, "GET /v1/memories/"), severity=Severity.CRITICAL)

    eventually(same, within=mem0.wait, what="the dumped memories are listed through the Mem0 API")


def test_read_only_memory_refuses_a_mem0_update(mem0, initialized):
    """A memory initialized read_only is immutable through Mem0: PUT gets a 4xx with a body and
    changes nothing (FACTS.md: immutable memories are never updated)."""
    texts = {message["content"] for item in initialized["items"] if item.get("read_only")
             for message in item["message_list"]}
    read_only = [item for item in _dumped(initialized) if item.get("content_text") in texts]
    require(read_only, f"GET {BASE}/{initialized['sandbox_id']}/dump holds no memory with the read_only item's text",
            received=[item.get("content_text") for item in roundtrip.memory_list(initialized["dump"])],
            documented=f"a memory with the text {sorted(texts)} ({ROUNDTRIP})", source=roundtrip_source(),
            severity=Severity.CRITICAL)
    source = fact("Add", "PUT /v1/memories/{memory_id}/")
    for item in read_only:
        before = memory_of(mem0, item["id"])
        label = f"PUT /v1/memories/{item['id']}/ of a read_only sandbox memory"
        refused_update(mem0.put(f"/v1/memories/{item['id']}/", json={"text": "changed through Mem0",
                                                                      "metadata": {"changed": True}}),
                       what=label, source=source)
        after = memory_of(mem0, item["id"])
        require((after.get("memory"), after.get("metadata")) == (before.get("memory"), before.get("metadata")),
                f"GET /v1/memories/{item['id']}/ after the refused {label} shows it changed",
                received=after, documented=fading(f"unchanged: {before!r}"), source=source, severity=Severity.CRITICAL)
        require(after.get("memory") == item["content_text"], f"GET /v1/memories/{item['id']}/ shows another text than "
                "the dump's content_text", received=after.get("memory"), documented=item["content_text"],
                source=fact(MAPPING, "GET /v1/memories/{memory_id}/"), severity=Severity.CRITICAL)
