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
    users = [f"{request.node.name}-user-{n}" for n in range(3)]  # each test its own users on the shared server
    yield MemoryLifecycle(mem0=mem0, users=users, entities={}, register=lambda kind, name: None, patience=Patience(2))
    mem0.close()


def add(machine: MemoryLifecycle, text: str) -> str:
    """The id of the memory the machine's add rule made of ``text`` (first user, v1, synchronous)."""
    before = set(machine.model)
    machine.add(user=0, texts=[text], metadata=None, mode="v1-sync", v1_format="v1.1", scope={}, immutable=False)
    (added,) = set(machine.model) - before
    return added


def test_a_large_text_is_searched_by_whole_words():
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
