"""Batch update and delete (PUT / DELETE /v1/batch/): 1..1000 items applied, 1001 refused, all or nothing.

FACTS.md "Batch": at most 1000 items; 1001 gets 400 ``{"error": "Maximum of 1000 memories can
be updated in a single request"}`` (or "deleted"). A refused batch changes nothing, a batch
with a bad item (an unknown or immutable memory) included.

The memories come from a pool of one run-prefixed user, filled by adds of many messages with
``infer: false`` (one memory per message) and shared by the tests of this module. Each test
reads the pool's state from the target before it acts and compares after, so one test's
failure does not spill into the next.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.suite.machines.mem0_calls import add_memories, listed
from conformance.suite.support import expect, expect_error
from strategies.memories import PHRASES, memory_texts

pytestmark = pytest.mark.requires("mem0")

LIMIT = 1000
CHUNK = 50  # messages per add: one memory each


class Pool:
    """The memories of one user, refilled on demand; ``state()`` is the target's view ``{id: text}``."""

    def __init__(self, mem0, user: str) -> None:
        self.mem0 = mem0
        self.user = user
        self.made = 0

    def state(self) -> dict[str, str]:
        return {memory_id: memory["memory"] for memory_id, memory in listed(self.mem0, {"user_id": self.user}).items()}

    def filled(self, size: int) -> dict[str, str]:
        """The pool's state, holding at least ``size`` memories."""
        current = self.state()
        while len(current) < size:
            texts = [f"{PHRASES[(self.made + n) % len(PHRASES)]} · n°{self.made + n}" for n in range(CHUNK)]
            self.made += CHUNK
            current.update(add_memories(self.mem0, texts, user_id=self.user))
        return current


@pytest.fixture(scope="module")
def pool(mem0, new_user) -> Pool:
    return Pool(mem0, new_user())


def _update(mem0, items):
    return mem0.put("/v1/batch/", json={"memories": items})


def _delete(mem0, memory_ids):
    return mem0.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": m} for m in memory_ids]})


def _assert_state(pool: Pool, expected: dict[str, str], what: str) -> None:
    received = pool.state()
    gone = sorted(set(expected) - set(received))
    extra = sorted(set(received) - set(expected))
    changed = sorted(m for m in expected.keys() & received.keys() if expected[m] != received[m])
    assert not (gone or extra or changed), (
        f"{what}: {len(gone)} memories missing (e.g. {gone[:3]}), {len(extra)} unexpected (e.g. {extra[:3]}), "
        f"{len(changed)} with other text (e.g. {[(m, received[m], expected[m]) for m in changed[:2]]})"
    )


# --- the boundaries ----------------------------------------------------------------------------

def test_a_batch_update_of_1000_memories_is_applied(mem0, pool):
    """A batch update of exactly 1000 memories is accepted and changes exactly those 1000."""
    before = pool.filled(LIMIT + 1)
    chosen = sorted(before)[:LIMIT]
    items = [{"memory_id": m, "text": f"{before[m]} ✓"} for m in chosen]
    expect(_update(mem0, items), 200, what="batch update of 1000 items")
    _assert_state(pool, {**before, **{item["memory_id"]: item["text"] for item in items}}, "after a 1000-item update")


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_a_batch_of_1001_memories_is_refused_and_changes_nothing(mem0, pool, operation):
    """A batch update or delete of 1001 memories is refused with 400 and an error body, and changes no memory."""
    before = pool.filled(LIMIT + 1)
    chosen = sorted(before)[:LIMIT + 1]
    if operation == "update":
        response = _update(mem0, [{"memory_id": m, "text": f"{before[m]} ✗"} for m in chosen])
    else:
        response = _delete(mem0, chosen)
    assert response.status_code == 400, f"a 1001-item batch {operation}: expected 400, got {response.status_code}"
    assert expect_error(response)
    _assert_state(pool, before, f"after a refused 1001-item batch {operation}")


def test_a_batch_delete_of_1000_memories_is_applied(mem0, pool):
    """A batch delete of exactly 1000 memories is accepted and deletes exactly those 1000."""
    before = pool.filled(LIMIT + 1)
    chosen = sorted(before)[:LIMIT]
    expect(_delete(mem0, chosen), 200, 204, what="batch delete of 1000 items")
    _assert_state(pool, {m: t for m, t in before.items() if m not in set(chosen)}, "after a 1000-item delete")
    expect(mem0.get(f"/v1/memories/{chosen[0]}/"), 404, what="GET of a batch-deleted memory")


# --- atomicity ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("operation", "bad"), [("update", "unknown"), ("update", "immutable"), ("delete", "unknown")])
def test_a_batch_with_a_bad_last_item_changes_nothing(mem0, pool, new_user, operation, bad):
    """A batch whose last item names an unknown (or, for update, immutable) memory is refused with a 4xx and changes nothing."""
    if bad == "immutable":
        ((bad_id, _),) = add_memories(mem0, ["Immutable: mon adresse à Genève"], user_id=new_user(), immutable=True)
    else:
        bad_id = str(uuid.uuid4())  # no memory has this id: nothing outside the run is named
    before = pool.filled(4)
    chosen = sorted(before)[:3]
    if operation == "update":
        response = _update(mem0, [{"memory_id": m, "text": f"{before[m]} ✗"} for m in chosen]
                           + [{"memory_id": bad_id, "text": "changed"}])
    else:
        response = _delete(mem0, [*chosen, bad_id])
    expect_error(response, what=f"batch {operation} with an {bad} memory last")
    _assert_state(pool, before, f"after a refused batch {operation} with an {bad} item")
    if bad == "immutable":
        memory = expect(mem0.get(f"/v1/memories/{bad_id}/"), 200)
        assert memory["memory"] == "Immutable: mon adresse à Genève", "the refused batch changed the immutable memory"


# --- sizes in between --------------------------------------------------------------------------

def test_batches_of_1_to_999_memories_change_exactly_their_items(mem0, pool):
    """A batch update or delete of 1..999 memories is accepted and changes exactly its items, no other memory."""

    @given(operation=st.sampled_from(["update", "delete"]),
           size=st.one_of(st.integers(1, 10), st.integers(11, LIMIT - 1)),
           start=st.integers(0, LIMIT), text=memory_texts(large=False))
    def check(operation, size, start, text):
        before = pool.filled(size + 1)
        ordered = sorted(before)
        offset = start % (len(ordered) - size + 1)
        chosen = ordered[offset:offset + size]
        if operation == "update":
            changes = {m: f"{text} #{n}" for n, m in enumerate(chosen)}
            expect(_update(mem0, [{"memory_id": m, "text": t} for m, t in changes.items()]), 200)
            expected = {**before, **changes}
        else:
            expect(_delete(mem0, chosen), 200, 204)
            expected = {m: t for m, t in before.items() if m not in set(chosen)}
        _assert_state(pool, expected, f"after a {size}-item batch {operation}")

    check()
