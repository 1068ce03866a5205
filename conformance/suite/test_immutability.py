"""Immutable memories: never updated, by PUT or batch; deleted and re-added instead.

FACTS.md "Add": immutable memories (``immutable: true`` on add) must be deleted and re-added,
never updated; the platform returns a descriptive error (a 4xx with a non-empty body), and the
memory is unchanged afterwards.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.suite.machines.mem0_calls import add_memories
from conformance.suite.support import expect, expect_error
from strategies.memories import memory_texts, metadatas

pytestmark = pytest.mark.requires("mem0")

CHANGES = st.one_of(
    st.builds(lambda text: {"text": text}, memory_texts()),
    st.builds(lambda metadata: {"metadata": metadata}, metadatas(empty=False)),
    st.builds(lambda text, metadata: {"text": text, "metadata": metadata}, memory_texts(), metadatas()),
)


def _add_immutable(mem0, user, text, metadata):
    ((memory_id, _),) = add_memories(mem0, [text], user_id=user, metadata=metadata, immutable=True)
    return memory_id


def _assert_unchanged(mem0, memory_id, text, metadata):
    memory = expect(mem0.get(f"/v1/memories/{memory_id}/"), 200)
    assert (memory["memory"], memory.get("metadata") or {}) == (text, metadata), (
        f"the immutable memory changed: received {(memory['memory'], memory.get('metadata'))}, "
        f"documented unchanged {(text, metadata)}"
    )
    assert memory.get("immutable") is True, f"the memory lost its immutable flag: {memory}"
    history = expect(mem0.get(f"/v1/memories/{memory_id}/history/"), 200)
    assert [entry["event"] for entry in history] == ["ADD"], f"history of an unchanged memory: {history}"


def test_put_on_an_immutable_memory_is_refused_and_changes_nothing(mem0, new_user):
    """PUT /v1/memories/{id}/ on an immutable memory answers a 4xx with an error body and leaves it unchanged."""
    user = new_user()

    @settings(settings())
    @given(text=memory_texts(), metadata=metadatas(), change=CHANGES)
    def check(text, metadata, change):
        memory_id = _add_immutable(mem0, user, text, metadata)
        expect_error(mem0.put(f"/v1/memories/{memory_id}/", json=change), what="PUT on an immutable memory")
        _assert_unchanged(mem0, memory_id, text, metadata)

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
        expect_error(mem0.put("/v1/batch/", json={"memories": items}), what="batch update with an immutable memory")
        _assert_unchanged(mem0, memory_id, text, metadata)
        for other, old in others:
            assert expect(mem0.get(f"/v1/memories/{other}/"), 200)["memory"] == old, (
                f"a refused batch changed the mutable memory {other} before the immutable item"
            )

    check()


def test_an_immutable_memory_is_deleted_and_re_added(mem0, new_user):
    """An immutable memory can be deleted (then 404) and its text added again as a new immutable memory."""
    user = new_user()

    @settings(settings())
    @given(text=memory_texts(), metadata=metadatas())
    def check(text, metadata):
        memory_id = _add_immutable(mem0, user, text, metadata)
        expect(mem0.delete(f"/v1/memories/{memory_id}/"), 200, 204)
        expect(mem0.get(f"/v1/memories/{memory_id}/"), 404, what="GET of the deleted immutable memory")
        again = _add_immutable(mem0, user, text, metadata)
        assert again != memory_id, "the re-added memory reuses the deleted id"
        memory = expect(mem0.get(f"/v1/memories/{again}/"), 200)
        assert (memory["memory"], memory.get("metadata") or {}, memory.get("immutable")) == (text, metadata, True)

    check()
