"""The store: background processing, the index of the memories, the state shared between processes."""

from __future__ import annotations

import copy
import copyreg
import dataclasses
import io
import itertools
import pickle
from datetime import UTC, datetime

import pytest
from hypothesis import given, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conformance.server.store import Memory, Store, json_copy


def test_queued_work_that_raises_fails_its_event_only():
    """An exception in queued work marks that event FAILED; other events still settle."""
    store = Store()

    def broken() -> list:
        raise RuntimeError("boom")

    bad = store.schedule("ADD", broken, delay=0)
    good = store.schedule("ADD", lambda: [{"id": "x"}], delay=0)
    store.settle()
    assert (bad.status, bad.results) == ("FAILED", [{"error": "RuntimeError: boom"}])
    assert (good.status, good.results) == ("SUCCEEDED", [{"id": "x"}])
    store.settle()  # settling again is a no-op, not a second failure
    assert bad.status == "FAILED"


def test_a_history_entry_is_timed_as_the_change_it_records():
    """An add's entry carries the memory's creation time, an update's its new ``updated_at``: one moment per change."""
    store = Store()
    memory = store.add_memory("likes tea", [{"role": "user", "content": "likes tea"}], user_id="alice")
    added = memory.to_api()
    store.update(memory, text="likes coffee")
    updated = memory.to_api()
    assert added["created_at"] == added["updated_at"]
    assert [(entry["event"], entry["created_at"], entry["updated_at"]) for entry in store.history_of(memory.id)] == [
        ("ADD", added["created_at"], added["created_at"]), ("UPDATE", updated["updated_at"], updated["updated_at"])]


def test_events_wait_for_their_processing_delay():
    """An event stays PENDING until its delay has passed."""
    store = Store(processing_delay=3600)
    event = store.schedule("ADD", lambda: [])
    store.settle()
    assert event.status == "PENDING"


@pytest.mark.parametrize(("filters", "required"), [
    ({"user_id": "alice"}, {"user_id": "alice"}),
    ({"AND": [{"user_id": "alice"}, {"agent_id": "bot"}]}, {"user_id": "alice", "agent_id": "bot"}),
    ({"user_id": "*"}, {}),  # any non-null user: nothing to narrow by
    ({"OR": [{"user_id": "alice"}, {"user_id": "bob"}]}, {}),
    ({"NOT": [{"user_id": "alice"}]}, {}),
    ({"user_id": {"in": ["alice", "bob"]}}, {}),
])
def test_the_entities_every_match_must_have_are_read_off_the_filter(filters, required):
    """Listing tests these first (a cheap attribute comparison), then the compiled filter decides."""
    from conformance.server.filters import required_entities

    assert required_entities(filters) == required


def test_two_stores_sharing_one_state_file_see_each_other_s_changes(tmp_path):
    """As two worker processes do (conformance/server/shared.py): each request one transaction on the file."""
    from conformance.server.shared import SharedState

    path = tmp_path / "state.sqlite"
    first, second = Store(), Store()
    one, two = SharedState(path), SharedState(path)
    with one.transaction(first):
        memory = first.add_memory("likes tea", [{"role": "user", "content": "likes tea"}], user_id="alice")
    with two.transaction(second):
        assert second.get(memory.id).memory == "likes tea"
        second.update(second.get(memory.id), text="likes green tea")
    with one.transaction(first):
        assert first.get(memory.id).memory == "likes green tea"
        assert [entry["event"] for entry in first.history_of(memory.id)] == ["ADD", "UPDATE"]
    version = one.version
    with one.transaction(first):  # a request that changes nothing writes nothing
        first.select(lambda m: True)
    assert one.version == version


def test_queued_work_settles_before_the_shared_state_is_written(tmp_path):
    """Queued work cannot wait in a file: it settles when its request ends; work that never settles (a
    planted fault) stays pending, without its callable."""
    import math

    from conformance.server.shared import SharedState

    store, shared = Store(processing_delay=30), SharedState(tmp_path / "state.sqlite")
    with shared.transaction(store):
        soon = store.schedule("ADD", lambda: [{"id": "x"}])
        never = store.schedule("ADD", lambda: [{"id": "y"}], delay=math.inf)
    assert (soon.status, never.status, never.apply) == ("SUCCEEDED", "PENDING", None)


def test_a_shared_state_keeps_the_creation_order_and_a_deleted_memory_s_history(tmp_path):
    from conformance.server.shared import SharedState

    path = tmp_path / "state.sqlite"
    first, second = Store(), Store()
    one, two = SharedState(path), SharedState(path)
    with one.transaction(first):
        a = first.add_memory("a", [], user_id="u")
    with two.transaction(second):
        b = second.add_memory("b", [], user_id="u")
        second.delete(second.get(a.id))
    with one.transaction(first):
        c = first.add_memory("c", [], user_id="u")
        assert [m.memory for m in first.select(lambda m: True)] == ["b", "c"]
        assert [entry["event"] for entry in first.history_of(a.id)] == ["ADD", "DELETE"]
    fresh = Store()
    with SharedState(path).transaction(fresh):  # a worker started later reads it all, in order
        assert [m.id for m in fresh.select(lambda m: True)] == [b.id, c.id]
        assert [entry["event"] for entry in fresh.history_of(a.id)] == ["ADD", "DELETE"]


# --- the index of the memories ------------------------------------------------------------------
USERS, AGENTS, SANDBOXES = ("ann", "bo", "cy"), ("bot", None), ("s1", None)


class MemoryTableMachine(RuleBasedStateMachine):
    """Every way in and out of the store's memory table (adds, in-place updates through the store, replacing a
    memory as a mutant's revert does, pop, del, clear, a shared state's reload), against a plain dict: every
    lookup the index answers equals a scan of the dict, in the dict's (creation) order."""

    def __init__(self) -> None:
        super().__init__()
        self.store = Store()
        self.counter = 0

    @rule(user=st.sampled_from(USERS), agent=st.sampled_from(AGENTS), sandbox=st.sampled_from(SANDBOXES))
    def add(self, user, agent, sandbox):
        self.counter += 1
        self.store.add_memory(f"m{self.counter}", [], user_id=user, agent_id=agent, sandbox_id=sandbox)

    @precondition(lambda self: self.store.memories)
    @rule(data=st.data(), user=st.sampled_from(USERS), agent=st.sampled_from(AGENTS))
    def update(self, data, user, agent):
        memory = data.draw(st.sampled_from(list(self.store.memories.values())))
        self.store.update(memory, text="changed", user_id=user, agent_id=agent)

    @precondition(lambda self: self.store.memories)
    @rule(data=st.data(), user=st.sampled_from(USERS))
    def replace_with_a_copy(self, data, user):
        key = data.draw(st.sampled_from(list(self.store.memories)))
        self.store.memories[key] = dataclasses.replace(self.store.memories[key], user_id=user)

    @precondition(lambda self: self.store.memories)
    @rule(data=st.data(), how=st.sampled_from(["delete", "pop", "del", "forget"]))
    def remove(self, data, how):
        memory = data.draw(st.sampled_from(list(self.store.memories.values())))
        if how == "delete":
            self.store.delete(memory)
        elif how == "pop":
            self.store.memories.pop(memory.id)
        elif how == "del":
            del self.store.memories[memory.id]
        else:
            self.store.forget(memory.id)

    @rule()
    def reload(self):  # what a shared state does when it reads everything again, and what a copy holds
        self.store.memories = copy.deepcopy(self.store.memories)

    @rule()
    def clear(self):
        self.store.memories.clear()

    @invariant()
    def lookups_equal_a_scan(self):
        held = list(dict.values(self.store.memories))
        for user, agent, sandbox in itertools.product((*USERS, None), AGENTS, SANDBOXES):
            required = {key: value for key, value in (("user_id", user), ("agent_id", agent), ("sandbox_id", sandbox))
                        if value is not None}
            scanned = [m for m in held if all(getattr(m, key) == value for key, value in required.items())]
            # The same objects, not equal copies: the index holds the memories themselves, never one replaced.
            assert [id(m) for m in self.store.select(**required)] == [id(m) for m in scanned], required
        assert sorted(self.store.memories.values_of("user_id")) == sorted({m.user_id for m in held})


TestMemoryTable = MemoryTableMachine.TestCase


def test_a_memory_pickled_by_an_earlier_version_still_loads():
    """A state file written before memories had slots holds each memory's ``__dict__``: it still loads."""
    memory = Store().add_memory("kept", [], user_id="ann")
    state = {name: getattr(memory, name) for name in memory.__slots__}

    class Earlier(pickle.Pickler):  # pickles a memory as the earlier version did: __newobj__ and its dict
        def reducer_override(self, obj):
            return (copyreg.__newobj__, (Memory,), state) if isinstance(obj, Memory) else NotImplemented

    written = io.BytesIO()
    Earlier(written, protocol=pickle.HIGHEST_PROTOCOL).dump(memory)
    restored = pickle.loads(written.getvalue())
    assert restored == memory
    assert pickle.loads(pickle.dumps(memory)) == memory


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                    max_leaves=20)


@given(JSON)
def test_a_json_copy_is_equal_and_shares_nothing_that_can_change(value):
    """What answers show of stored metadata is a copy: changing the answer (a mutant's answer operators do) leaves the
    store alone."""
    copied = json_copy(value)
    assert copied == value and type(copied) is type(value)
    pending = [(value, copied)]
    while pending:
        original, twin = pending.pop()
        if isinstance(original, (dict, list)):
            assert twin is not original
            pending.extend(zip(original.values(), twin.values()) if isinstance(original, dict) else zip(original, twin))


def test_a_memory_names_its_entity_ids_as_the_apis_do():
    """A memory's answer and its dump item spell the entity ids out: they are ``ENTITY_KEYS``, in that order, each
    read off its own field."""
    from conformance.apis import ENTITY_KEYS
    from conformance.server.sandbox_mapping import dump_item

    memory = Memory(id="m", memory="text", input=[], **{key: f"{key}-value" for key in ENTITY_KEYS})
    for shown in (memory.to_api(), dump_item(memory)):
        named = [(key, value) for key, value in shown.items() if key in ENTITY_KEYS]
        assert named == [(key, f"{key}-value") for key in ENTITY_KEYS]


def test_new_ids_are_random_version_4_uuids_in_canonical_text():
    """``new_id`` spells a version 4, RFC 4122 UUID as ``str(uuid.UUID(...))`` would; over a few thousand ids the
    variant's nibble takes its four values and every random nibble its sixteen (none is stuck)."""
    import uuid

    from conformance.server.store import new_id

    ids = [new_id() for _ in range(4000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
    assert {text[19] for text in ids} == set("89ab")
    stuck = [place for place in range(36) if place not in (8, 13, 14, 18, 19, 23) and len({t[place] for t in ids}) < 16]
    assert stuck == []


def test_a_memo_answers_its_function_s_results_and_holds_at_most_its_size():
    from conformance.server.store import ISO_OF, Memo, iso

    calls: list[int] = []
    square = Memo(lambda n: calls.append(n) or n * n, 3)
    assert [square[n] for n in (2, 3, 2, 4)] == [4, 9, 4, 16]
    assert calls == [2, 3, 4]  # a result asked again is not made again
    assert square[5] == 25 and len(square) == 1  # full: forgotten at once, then the new one kept
    moment = datetime(2026, 12, 5, 13, 21, 15, 123456, tzinfo=UTC)
    assert ISO_OF[moment] == iso(moment) == "2026-12-05T13:21:15.123456Z"


def test_a_memory_is_made_and_last_changed_at_one_moment_until_it_changes():
    store = Store()
    first, second = store.add_memories([("tea", {"user_id": "ann"}), ("coffee", {"user_id": "ann"})], [])
    assert first.created_at == first.updated_at == second.created_at  # one add, one moment
    assert first.created_at is first.updated_at  # one object: a stored memory holds one time, not two equal ones
    store.update(first, text="green tea")
    assert first.updated_at >= first.created_at and first.updated_at is not first.created_at
