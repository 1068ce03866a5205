"""Immutable memories: never updated, by PUT or batch; deleted and re-added instead.

FACTS.md "Add": immutable memories (``immutable: true`` on add) must be deleted and re-added,
never updated; the platform returns a descriptive error (a 4xx with a non-empty body), and the
memory is unchanged afterwards.

The vendored documents show ``immutable`` in memory objects; newer published ones no longer do
(FACTS.md "Upstream drift"). A memory that leaves it out passes while the behaviour holds; one
that shows another value than true fails; a failure of the behaviour says that the documents
drifted (``sources.IMMUTABLE_FADING``).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.suite.machines.mem0_calls import (
    add_memories,
    expect_deleted,
    history_of,
    memory_of,
)
from conformance.suite.sources import fading, refused_update, shows_immutable
from conformance.suite.support import expect
from conformance.verdicts import Severity, fact, require
from conformance.strategies.memories import memory_texts, metadatas

pytestmark = [pytest.mark.requires("mem0"), pytest.mark.contract("Immutability")]

PUT, BATCH = "PUT /v1/memories/{memory_id}/", "PUT /v1/batch/"

CHANGES = st.one_of(
    st.builds(lambda text: {"text": text}, memory_texts()),
    st.builds(lambda metadata: {"metadata": metadata}, metadatas(empty=False)),
    st.builds(lambda text, metadata: {"text": text, "metadata": metadata}, memory_texts(), metadatas()),
)


def _add_immutable(mem0, user, text, metadata):
    ((memory_id, _),) = add_memories(mem0, [text], user_id=user, metadata=metadata, immutable=True)
    return memory_id


def _assert_unchanged(mem0, memory_id, text, metadata, operation):
    """After a refused ``operation`` the immutable memory has its text, metadata, flag (true, or
    left out) and one ADD."""
    source, after = fact("Add", operation), f"after a refused {operation}"
    memory = memory_of(mem0, memory_id)
    require((memory.get("memory"), memory.get("metadata") or {}) == (text, metadata),
            f"GET /v1/memories/{memory_id}/ {after} shows the immutable memory changed",
            received=(memory.get("memory"), memory.get("metadata")), documented=fading((text, metadata)),
            source=source, severity=Severity.CRITICAL)
    require(shows_immutable(memory), f"GET /v1/memories/{memory_id}/ {after} shows immutable "
            f"{memory.get('immutable')!r}", received=memory,
            documented="immutable: true, as added (or no immutable field, as newer published documents show)",
            source=source, severity=Severity.CRITICAL)
    events = [entry["event"] for entry in history_of(mem0, memory_id)]
    require(events == ["ADD"], f"GET /v1/memories/{memory_id}/history/ {after} holds {len(events)} events ({events})",
            received=events, documented=fading(["ADD"]), source=source, severity=Severity.CRITICAL)


def test_put_on_an_immutable_memory_is_refused_and_changes_nothing(mem0, new_user):
    """PUT /v1/memories/{id}/ on an immutable memory answers a 4xx with an error body and leaves it unchanged."""
    user = new_user()

    @settings(settings())
    @given(text=memory_texts(), metadata=metadatas(), change=CHANGES)
    def check(text, metadata, change):
        memory_id = _add_immutable(mem0, user, text, metadata)
        refused_update(mem0.put(f"/v1/memories/{memory_id}/", json=change),
                       what=f"PUT /v1/memories/{memory_id}/ of an immutable memory", source=fact("Add", PUT))
        _assert_unchanged(mem0, memory_id, text, metadata, PUT)

    check()


def test_batch_update_of_an_immutable_memory_is_refused_and_changes_nothing(mem0, new_user):
    """PUT /v1/batch/ naming an immutable memory answers a 4xx with an error body and changes no memory of the batch."""
    user = new_user()

    @settings(settings())
    @given(text=memory_texts(), metadata=metadatas(), change=CHANGES, mutable_before=st.integers(0, 3))
    def check(text, metadata, change, mutable_before):
        memory_id = _add_immutable(mem0, user, text, metadata)
        others = add_memories(mem0, [f"mutable n°{n}: {text[:50]}" for n in range(mutable_before)], user_id=user) \
            if mutable_before else []
        items = [{"memory_id": other, "text": f"{old} — changed"} for other, old in others]
        items.append({"memory_id": memory_id, **change})
        label = f"{BATCH} of {len(items)} items, an immutable memory last"
        refused_update(mem0.put("/v1/batch/", json={"memories": items}), what=label, source=fact("Add", BATCH))
        _assert_unchanged(mem0, memory_id, text, metadata, BATCH)
        for other, old in others:
            memory = memory_of(mem0, other)
            require(memory.get("memory") == old, f"the refused {label} changes the mutable memory {other} before it",
                    received=memory.get("memory"), documented=f"unchanged (a refused batch changes nothing): {old!r}",
                    source=fact("Batch", BATCH), severity=Severity.CRITICAL)

    check()


def test_an_immutable_memory_is_deleted_and_re_added(mem0, new_user):
    """An immutable memory can be deleted (then 404) and its text added again as a new immutable memory."""
    user = new_user()

    @settings(settings())
    @given(text=memory_texts(), metadata=metadatas())
    def check(text, metadata):
        memory_id = _add_immutable(mem0, user, text, metadata)
        source = fact("Add", "POST /v1/memories/")
        expect(mem0.delete(f"/v1/memories/{memory_id}/"), 200, 204, source=source)
        expect_deleted(mem0, memory_id, what=f"GET /v1/memories/{memory_id}/ of the deleted immutable memory",
                       source=source)
        again = _add_immutable(mem0, user, text, metadata)
        require(again != memory_id, f"POST /v1/memories/ re-adds the deleted immutable memory under its id {again}",
                received=again, documented="a new memory with a new id", source=source)
        memory = memory_of(mem0, again)
        received = (memory.get("memory"), memory.get("metadata") or {}, memory.get("immutable", "(no field)"))
        require(received[:2] == (text, metadata) and shows_immutable(memory), f"GET /v1/memories/{again}/ shows the "
                "re-added immutable memory changed", received=received,
                documented=f"{(text, metadata, True)!r} (or no immutable field, as newer published documents show)",
                source=source, severity=Severity.CRITICAL)

    check()
