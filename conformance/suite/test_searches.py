"""Every way of searching memories finds exactly the memories it asks for, each whole and as the client made it.

The population of :mod:`conformance.suite.test_reads` (two users; an agent, an app and a run; metadata,
categories, dates) searched through v1 (output formats 1.0 and 1.1), v2 and v3: the scope of entity ids,
the filter language, side filters, ``top_k``, ``fields`` and ``threshold``. Each answer is compared
whole with the model (:mod:`machines.views`).

(FACTS.md: Search, List/search filters; the parameters' descriptions in the effective document.)
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.suite.machines.mem0_calls import results_of
from conformance.suite.machines.population import Population, categories_of, filter_cases
from conformance.suite.sources import FILTERS
from conformance.suite.support import expect
from conformance.verdicts import fact, operation_source, require

pytestmark = [pytest.mark.requires("mem0"), pytest.mark.contract("Reading memories")]

V3 = pytest.mark.requires("v3")


# --- searches --------------------------------------------------------------------------------------------

SEARCHES = {"v1.0": ("/v1/memories/search/", None), "v1.1": ("/v1/memories/search/", "v1.1"),
            "v2": ("/v2/memories/search/", None), "v3": ("/v3/memories/search/", None)}


def _search(mem0, population: Population, how: str, query: str, scope: dict[str, Any], **extra: Any):
    path, output = SEARCHES[how]
    body = {"query": query, **extra}
    if how.startswith("v1"):
        body.update(scope)
        if output:
            body["output_format"] = output
    else:
        body["filters"] = scope
    operation = f"POST {path}"
    answer = expect(mem0.post(path, json=body), 200, source=operation_source(operation))
    envelope = {"v1.0": False, "v1.1": True, "v2": False, "v3": True}[how]
    items = results_of(answer, what=f"{operation} ({how})", source=fact(FILTERS, operation), envelope=envelope)
    scores = [item.get("score") for item in items if "fields" not in extra or "score" in item]
    require(all(isinstance(s, int | float) and not isinstance(s, bool) and 0 <= s <= 1 for s in scores)
            and scores == sorted(scores, reverse=True), f"{operation} ({how}) scores {scores}", received=scores,
            documented="a score in [0, 1] for every result, best first", source=operation_source(operation))
    return items, f"{operation} ({how}, {body})", operation


HOWS = ["v1.0", "v1.1", "v2", pytest.param("v3", marks=V3)]


@pytest.mark.parametrize("how", HOWS)
def test_a_search_finds_within_its_scope(mem0, population, how):
    """A search whose query is a memory's text finds it first, and only memories of its scope, each whole
    (a search of each user's memories)."""
    for user, short in (("user", "nurse"), ("user2", "chess")):
        target = population.ids[short]
        query = population.model[target].memory + " every"  # one word of another memory too
        items, label, operation = _search(mem0, population, how, query, {"user_id": population.names[user]}, top_k=100)
        require(items and items[0]["id"] == target, f"{label} does not find first the memory whose text is its query",
                received=[i.get("id") for i in items], documented=f"{target} first", source=operation_source(operation))
        scores = [item.get("score") for item in items[:2]]
        require(len(scores) < 2 or scores[0] > scores[1], f"{label} scores the memory whose text is most of its query "
                f"no higher than one that shares a word of it", received=scores,
                documented="the closest match scores highest", source=operation_source(operation))
        population.check(items, population.of("user_id", user), label, fact(FILTERS, operation), within=True)


SEARCH_SCOPES = {
    "agent": (lambda n: {"user_id": n["user"], "agent_id": n["agent"]}, "nurse"),
    "run": (lambda n: {"user_id": n["user"], "run_id": n["run"]}, "peanuts"),
    "app": (lambda n: {"user_id": n["user2"], "app_id": n["app"]}, "chess"),
}


@pytest.mark.parametrize("scope", list(SEARCH_SCOPES))
@pytest.mark.parametrize("how", HOWS)
def test_a_search_by_two_entity_ids_finds_only_their_memories(mem0, population, how, scope):
    """A search scoped by a user and an agent (run, app) finds only memories of both, whatever the query matches."""
    make, short = SEARCH_SCOPES[scope]
    entities = make(population.names)
    query = " ".join(population.model[mid].memory for mid in population.where(lambda e: True))
    loose = {} if how.startswith("v1") else {"threshold": 0}  # v2's documented default threshold is 0.3
    items, label, operation = _search(mem0, population, how, query, entities, top_k=100, **loose)
    wanted = population.where(lambda e: all(getattr(e, key) == value for key, value in entities.items()))
    population.check(items, wanted, label, fact(FILTERS, operation))


@pytest.mark.parametrize("case", ["AND", "OR", "NOT", "metadata", "in", "ne", "any"])
@pytest.mark.parametrize("version", ["v2", pytest.param("v3", marks=V3)])
def test_the_filter_language_in_a_search(mem0, population, version, case):
    """A search with one construct of the filter language finds only the memories it selects; a query naming
    every memory's words finds all of them."""
    filters, test = filter_cases(population)[case]
    query = " ".join(population.model[mid].memory for mid in population.where(lambda e: True))
    items, label, operation = _search(mem0, population, version, query, filters, top_k=100, threshold=0)
    users = (population.names["user"], population.names["user2"])
    population.check(items, population.where(lambda e: test(e) and e.user_id in users), label, fact(FILTERS, operation))


@pytest.mark.parametrize("case", ["categories", "metadata"])
@pytest.mark.parametrize("how", ["v1.0", "v1.1"])
def test_v1_search_side_filters(mem0, population, how, case):
    """v1 search's categories and metadata narrow what it finds to the memories that have them."""
    user = population.names["user"]
    query = " ".join(population.model[mid].memory for mid in population.where(lambda e: True))
    if case == "categories":
        chosen = (categories_of(mem0, population, "tea") or ["(none)"])[0]
        extra = {"categories": [chosen]}
        wanted = {population.ids["tea"]} if chosen != "(none)" else set()
    else:
        extra, wanted = {"metadata": {"topic": "work"}}, {population.ids["nurse"]}
    items, label, operation = _search(mem0, population, how, query, {"user_id": user}, top_k=100, **extra)
    population.check(items, wanted, label, fact(FILTERS, operation))


@pytest.mark.parametrize("how", HOWS)
def test_top_k_and_fields_bound_a_search(mem0, population, how):
    """``top_k`` bounds the number of results (the best ones); ``fields`` projects each."""
    user = population.names["user"]
    target = population.ids["peanuts"]
    query = population.model[target].memory + " every morning night"  # shares words with the other memories
    everything, _, operation = _search(mem0, population, how, query, {"user_id": user}, top_k=100)
    require(len(everything) >= 2, f"POST {SEARCHES[how][0]} of a query sharing words with 3 memories finds "
            f"{len(everything)}", received=[i.get("id") for i in everything], documented="at least 2 of them",
            source=operation_source(operation))
    one, label, _ = _search(mem0, population, how, query, {"user_id": user}, top_k=1)
    require([i.get("id") for i in one] == [everything[0]["id"]], f"{label} answers {len(one)} results",
            received=[i.get("id") for i in one], documented=f"top_k 1: the best one, {everything[0]['id']}",
            source=operation_source(operation))
    projected, label, _ = _search(mem0, population, how, query, {"user_id": user}, top_k=100, fields=["memory"])
    population.check(projected, {i["id"] for i in everything}, label, operation_source(operation), fields=["memory"])


@pytest.mark.parametrize("version", ["v2", pytest.param("v3", marks=V3)])
def test_a_threshold_keeps_only_results_that_score_at_least_it(mem0, population, version):
    """``threshold``: every result scores at least it; the memory whose text most of the query is stays."""
    target = population.ids["nurse"]
    query = population.model[target].memory + " every morning and evening"  # a few words of another memory too
    items, label, operation = _search(mem0, population, version, query, {"user_id": population.names["user"]},
                                      top_k=100, threshold=0.5)
    scores = {i["id"]: i.get("score") for i in items}
    require(target in scores and all(isinstance(s, int | float) and s >= 0.5 for s in scores.values()),
            f"{label} answers scores {scores}", received=scores,
            documented=f"only scores of at least 0.5, {target} among them", source=operation_source(operation))


@pytest.mark.requires("v3")
@pytest.mark.parametrize("case", ["categories", "metadata", "show_expired"])
def test_v3_search_side_filters(mem0, population, case):
    """v3 search's categories, metadata and show_expired narrow (or widen) what it finds."""
    user2 = population.names["user2"]
    if case == "categories":
        chosen = (categories_of(mem0, population, "tea") or ["(none)"])[0]
        extra, scope = {"categories": [chosen]}, population.names["user"]
        wanted = {population.ids["tea"]} if chosen != "(none)" else set()
        query = "green tea nurse peanuts"
    elif case == "metadata":
        extra, scope, wanted, query = {"metadata": {"topic": "hobby"}}, user2, {population.ids["chess"]}, "chess tomatoes"
    else:
        extra, scope = {"show_expired": True}, user2
        wanted, query = {population.ids["chess"], population.ids["old"]}, "Plays chess Lived in Paris"
    items, label, operation = _search(mem0, population, "v3", query, {"user_id": scope}, top_k=100, **extra)
    population.check(items, wanted, label, fact(FILTERS, operation))


