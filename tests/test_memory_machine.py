"""The memory lifecycle machine's search oracle, against a real reference server on 127.0.0.1.

A search whose query is a memory's text must find that memory, unless other memories that match the query as
well take every place top_k gives: the machine's rule says no more and no less.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance.client import ApiClient, Recorder
from conformance.server import ServerSettings, ServerThread, create_app
from conformance.suite.machines.memories import QUERY_LENGTH, MemoryLifecycle, search_query, tied_out, words
from conformance.suite.support import Patience
from conformance.targets import ApiTarget
from conformance.verdicts import ContractViolation

KEY = "m0-machine-key"
HIKING = "Loves hiking 🥾 and camping ⛺ with the dog 🐕"  # one of PHRASES: repeated, its 500th character falls in "and"


class Chosen:
    """What ``st.data()`` gives a rule, drawing the one value a test names (no Hypothesis run around the call)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def draw(self, strategy: Any, label: str | None = None) -> Any:  # noqa: ARG002 - st.data()'s signature
        return self.value


@pytest.fixture(scope="module")
def served() -> Iterator[ServerThread]:
    with ServerThread(create_app(ServerSettings(mem0_key=KEY))) as thread:
        yield thread


@pytest.fixture
def machine(served: ServerThread, request: pytest.FixtureRequest) -> Iterator[MemoryLifecycle]:
    mem0 = ApiClient(ApiTarget("mem0", served.url, KEY, timeout=10, consistency_wait=2), Recorder())
    yield lifecycle(mem0, [f"{request.node.name}-user-{n}" for n in range(3)])  # each test its own users
    mem0.close()


def lifecycle(mem0: ApiClient, users: list[str]) -> MemoryLifecycle:
    """The machine as the suite makes it, for these users, with no cleanup to register."""
    return MemoryLifecycle(mem0=mem0, users=users, entities={}, register=lambda kind, name: None, patience=Patience(2))


def add(machine: MemoryLifecycle, text: str) -> str:
    """The id of the memory the machine's add rule made of ``text`` (first user, v1, synchronous)."""
    before = set(machine.model)
    machine.add(user=0, texts=[text], metadata=None, mode="v1-sync", v1_format="v1.1", scope={}, immutable=False)
    (added,) = set(machine.model) - before
    return added


def test_a_large_text_is_searched_by_whole_words():
    """A text longer than a query may be is searched by its beginning cut back to a whole word, so that every word
    of the query is one of the text's; a text short enough is its own query."""
    text = " ".join([HIKING] * 20)
    query = search_query(text)
    assert len(query) <= QUERY_LENGTH < len(text)
    assert words(query) <= words(text)  # text[:500] ends in "a", a word the text does not hold
    assert not words(text[:QUERY_LENGTH]) <= words(text)
    assert search_query(HIKING) == HIKING


def test_a_memory_tied_out_of_top_k_by_the_same_phrase_repeated_is_no_failure(machine: MemoryLifecycle):
    """Two memories of one phrase repeated (the generator's large texts) match the older one's query alike: the
    reference server answers the newer one first, and top_k 1 has room for one."""
    older = add(machine, " ".join([HIKING] * 20))
    add(machine, " ".join([HIKING] * 30))
    machine.search(data=Chosen(older), scope="own", version="v2", top_k=1)
    machine.search(data=Chosen(older), scope="own", version="v2", top_k=2)


def test_a_search_that_misses_its_memory_for_a_weaker_match_fails(machine: MemoryLifecycle):
    """The oracle stays strict: a memory that lacks a word of the query takes no place from one that holds them all.
    Here the target lost the memory behind the model's back, and answers the weaker match instead."""
    assert tied_out("Prefers green tea", ["b"], 1, {"b": "Prefers green tea in the morning"})
    assert not tied_out("Prefers green tea", ["b"], 1, {"b": "Prefers black tea"})
    assert not tied_out("Prefers green tea", ["b"], 2, {"b": "Prefers green tea in the morning"})  # a place left
    assert not tied_out("Prefers green tea", ["z"], 1, {"b": "Prefers green tea"})  # not a memory of the model
    target = add(machine, "Prefers green tea and long walks")
    add(machine, "Prefers green tea")
    assert machine.mem0.delete(f"/v1/memories/{target}/").status_code == 200
    with pytest.raises(ContractViolation, match="does not find the memory whose text is its query"):
        machine.search(data=Chosen(target), scope="own", version="v2", top_k=1)


def test_rules_draw_memories_in_the_order_they_were_made_not_by_their_random_ids(served: ServerThread):
    """Hypothesis replays a program by drawing the same places again, and the target gives each replay new random
    ids: the memories a rule draws from stand in the order the machine made (or deleted) them in every replay.
    Sorted by id, a place would name another memory in the replay, and Hypothesis could neither shrink the failure
    nor print its program ("inconsistent data generation")."""
    mem0 = ApiClient(ApiTarget("mem0", served.url, KEY, timeout=10), Recorder())
    texts = ["one", "two", "three", "four"]
    for ids in (["d", "c", "b", "a"], ["a", "b", "c", "d"]):  # what two replays of one program may get back
        machine = lifecycle(mem0, ["u0", "u1", "u2"])
        machine.created(list(zip(ids, texts, strict=True)), {"user_id": "u0"})
        machine.gone([ids[3], ids[0]])
        shown = {memory_id: text for memory_id, text in zip(ids, texts, strict=True)}
        assert [shown[m] for m in machine.live()] == [shown[m] for m in machine.mutable()] == ["two", "three"], ids
        assert [shown[m] for m in machine.deleted] == ["four", "one"], ids
    mem0.close()


def test_the_platform_machine_draws_resources_in_the_order_it_made_them():
    """The same for the platform machine's organizations, projects and members (their ids are the target's too)."""
    from conformance.suite.machines.platform import PlatformMachine
    from conformance.suite.machines.platform_reads import Thing

    for ids in (["z-org", "a-org", "y-project", "b-project"], ["a-org", "z-org", "b-project", "y-project"]):
        machine = PlatformMachine(mem0=None, prefix="p", new_name=str, cleanup=None, account=("o", "p", "me@x"),
                                  webhooks=False, destructive=False)
        machine.orgs = {ids[0]: Thing({}, {"zoe@x": "READER", "me@x": "OWNER", "al@x": "READER"}), ids[1]: Thing({})}
        machine.projects = {ids[2]: Thing({}), ids[3]: Thing({})}
        assert machine._holders() == [("org", ids[0]), ("org", ids[1]), ("project", ids[2]), ("project", ids[3])]
        assert machine._others() == [("org", ids[0], "zoe@x"), ("org", ids[0], "al@x")]
