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

from conformance.suite.machines.mem0_calls import (
    add_memories,
    expect_deleted,
    listed,
    memory_of,
)
from conformance.suite.sources import fading, refused, refused_update
from conformance.suite.support import expect, expect_error
from conformance.verdicts import Severity, fact, require
from conformance.strategies.memories import PHRASES, memory_texts

pytestmark = [pytest.mark.requires("mem0"), pytest.mark.contract("Batch limits and atomicity")]

LIMIT = 1000
CHUNK = 50  # messages per add: one memory each
UPDATE, DELETE = "PUT /v1/batch/", "DELETE /v1/batch/"
OPERATIONS = {"update": UPDATE, "delete": DELETE}


class Pool:
    """The memories of one user, refilled on demand; ``state()`` is the target's view ``{id: text}``."""

    def __init__(self, mem0, user: str) -> None:
        self.mem0 = mem0
        self.user = user
        self.made = 0

    def state(self) -> dict[str, str]:
        return {memory_id: memory.get("memory") for memory_id, memory in listed(self.mem0, {"user_id": self.user}).items()}

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


def _assert_state(pool: Pool, expected: dict[str, str], operation: str, what: str) -> None:
    """The pool is ``expected`` after ``operation`` (``what`` says which batch): else a critical violation."""
    received = pool.state()
    gone = sorted(set(expected) - set(received))
    extra = sorted(set(received) - set(expected))
    changed = sorted(m for m in expected.keys() & received.keys() if expected[m] != received[m])
    counts = {"missing": len(gone), "unexpected": len(extra), "with other text": len(changed)}
    require(not (gone or extra or changed),
            f"{operation} {what} leaves " + ", ".join(f"{n} memories {how}" for how, n in counts.items() if n),
            received={"missing": gone[:3], "unexpected": {m: received[m] for m in extra[:3]},
                      "other text": {m: received[m] for m in changed[:2]}},
            documented={"memories": len(expected), "texts": {m: expected[m] for m in changed[:2]},
                        "rule": "exactly the items of an accepted batch change; a refused batch changes nothing"},
            source=fact("Batch", operation), severity=Severity.CRITICAL)


# --- the boundaries ----------------------------------------------------------------------------

def test_a_batch_update_of_1000_memories_is_applied(mem0, pool):
    """A batch update of exactly 1000 memories is accepted and changes exactly those 1000."""
    before = pool.filled(LIMIT + 1)
    chosen = sorted(before)[:LIMIT]
    items = [{"memory_id": m, "text": f"{before[m]} ✓"} for m in chosen]
    expect(_update(mem0, items), 200, what=f"{UPDATE} of 1000 items", source=fact("Batch", UPDATE))
    _assert_state(pool, {**before, **{item["memory_id"]: item["text"] for item in items}}, UPDATE, "of 1000 items")


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_a_batch_of_1001_memories_is_refused_and_changes_nothing(mem0, pool, operation):
    """A batch update or delete of 1001 memories is refused with 400 and an error body, and changes no memory."""
    before = pool.filled(LIMIT + 1)
    chosen = sorted(before)[:LIMIT + 1]
    if operation == "update":
        response = _update(mem0, [{"memory_id": m, "text": f"{before[m]} ✗"} for m in chosen])
    else:
        response = _delete(mem0, chosen)
    label, source = f"{OPERATIONS[operation]} of 1001 items", fact("Batch", OPERATIONS[operation])
    body = refused(response, 400, what=label, source=source)
    require(body, f"{label} is refused with an empty error body", received=body,
            documented=f'400 {{"error": "Maximum of 1000 memories can be {operation}d in a single request"}}',
            source=source)
    _assert_state(pool, before, OPERATIONS[operation], "of 1001 items (refused)")


def test_a_batch_delete_of_1000_memories_is_applied(mem0, pool):
    """A batch delete of exactly 1000 memories is accepted and deletes exactly those 1000."""
    before = pool.filled(LIMIT + 1)
    chosen = sorted(before)[:LIMIT]
    source = fact("Batch", DELETE)
    expect(_delete(mem0, chosen), 200, 204, what=f"{DELETE} of 1000 items", source=source)
    _assert_state(pool, {m: t for m, t in before.items() if m not in set(chosen)}, DELETE, "of 1000 items")
    expect_deleted(mem0, chosen[0], what=f"GET /v1/memories/{chosen[0]}/ after {DELETE}", source=source)


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
    label = f"{OPERATIONS[operation]} of 4 items, an {bad} memory last"
    (refused_update if bad == "immutable" else expect_error)(response, what=label,
                                                             source=fact("Batch", OPERATIONS[operation]))
    _assert_state(pool, before, OPERATIONS[operation], f"of 4 items, an {bad} memory last (refused)")
    if bad == "immutable":
        memory = memory_of(mem0, bad_id)
        require(memory.get("memory") == "Immutable: mon adresse à Genève", f"{label} changes the immutable memory",
                received=memory,
                documented=fading("the immutable memory unchanged: 'Immutable: mon adresse à Genève'"),
                source=fact("Add", UPDATE), severity=Severity.CRITICAL)


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
            expect(_update(mem0, [{"memory_id": m, "text": t} for m, t in changes.items()]), 200,
                   what=f"{UPDATE} of {size} items", source=fact("Batch", UPDATE))
            expected = {**before, **changes}
        else:
            expect(_delete(mem0, chosen), 200, 204, what=f"{DELETE} of {size} items", source=fact("Batch", DELETE))
            expected = {m: t for m, t in before.items() if m not in set(chosen)}
        _assert_state(pool, expected, OPERATIONS[operation], f"of {size} items")

    check()
