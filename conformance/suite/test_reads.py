"""Every way of reading memories shows exactly the memories it asks for, each whole and as the client made it.

One population of memories (two users; an agent, an app and a run; metadata, an immutable one, one
dated in the past by ``timestamp``, one with a future and one with a past expiration date, one
updated) is read through every read operation and every documented parameter: GET by id, v1 lists
(query parameters, with and without pages), v2 and v3 lists (the filter language, projections,
side filters), v1/v2/v3 searches (``top_k``, ``threshold``, ``fields``, output formats), an
entity's memories, histories, and the answers and events of adds in every output format. Each
answer is compared whole: exactly the expected memories, every field as the model has it, the
server's own fields the same in every answer (:mod:`machines.views`).

(FACTS.md: Add, List/search filters, Pagination, History, expiration_date; the parameters'
descriptions in the effective document.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from conformance.suite.machines.mem0_calls import history_of, memory_of, pages, results_of, settle
from conformance.suite.machines.population import DATED, categories_of, filter_cases
from conformance.suite.machines.views import Expected, Views
from conformance.suite.sources import FILTERS
from conformance.suite.support import expect
from conformance.verdicts import Severity, fact, operation_source, require

pytestmark = [pytest.mark.requires("mem0"), pytest.mark.contract("Reading memories")]

V3 = pytest.mark.requires("v3")


# --- by id, history, an entity's memories ------------------------------------------------------------

def test_get_shows_each_memory_as_it_was_made(mem0, population):
    """GET by id shows every memory of the population whole, an expired one included."""
    for memory_id, expected in population.model.items():
        path = f"/v1/memories/{memory_id}/"
        population.views.check(memory_of(mem0, memory_id), expected, where=f"GET {path}",
                               source=operation_source("GET /v1/memories/{memory_id}/"))


def test_a_timestamp_dates_the_memory(mem0, population):
    """A memory added with ``timestamp`` (Unix seconds) was created then: its created_at is that moment."""
    memory = memory_of(mem0, population.dated)
    shown = _instant(memory.get("created_at"))
    require(shown == DATED, f"GET /v1/memories/{population.dated}/ of a memory added with timestamp "
            f"{int(DATED.timestamp())} shows created_at {memory.get('created_at')!r}", received=memory.get("created_at"),
            documented=DATED.isoformat(), source=fact("Add", "POST /v1/memories/"))


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def test_history_records_every_change(mem0, population):
    """Each memory's history holds its ADD (and UPDATE) in order, with its id, user, text before and after, and the
    add's input; the entries of all memories are dated in the order the changes were made."""
    source = fact("History", "GET /v1/memories/{memory_id}/history/")
    dated: list[tuple[int, str, str | None, str | None]] = []
    for memory_id, wanted in population.history.items():
        entries = history_of(mem0, memory_id)
        expected = population.model[memory_id]
        label = f"GET /v1/memories/{memory_id}/history/"
        got = [(e.get("event"), e.get("old_memory") or None, e.get("new_memory") or None) for e in entries]
        require(got == wanted, f"{label} holds {got}", received=got, documented=wanted, source=source)
        for entry in entries:
            shown = {"memory_id": entry.get("memory_id"), "user_id": entry.get("user_id") or None,
                     "input": entry.get("input") if entry.get("event") == "ADD" else expected.input}
            documented = {"memory_id": memory_id, "user_id": expected.user_id, "input": expected.input}
            require(shown == documented, f"{label}: the {entry.get('event')} entry shows another memory, user or input",
                    received=shown, documented=documented, source=source)
        moments = [entry.get("created_at") for entry in entries]
        require(all(isinstance(m, str) for m in moments) and moments == sorted(moments), f"{label}: created_at {moments}",
                received=moments, documented="every entry's created_at, oldest first", source=source)
        for entry, step in zip(entries, population.steps[memory_id], strict=False):
            dated.append((step, f"{entry.get('event')} of {memory_id}", _instant(entry.get("created_at")),
                          _instant(entry.get("updated_at"))))
    dated.sort()
    for position, name in ((2, "created_at"), (3, "updated_at")):
        moments = [entry[position] for entry in dated]
        require(all(m is not None for m in moments) and moments == sorted(moments),
                f"the history entries' {name} are not in the order the changes were made",
                received=[(entry[1], str(entry[position])) for entry in dated], documented="the order of the changes",
                source=source)


@pytest.mark.parametrize("name,key", [("user", "user_id"), ("agent", "agent_id"), ("app", "app_id"), ("run", "run_id")])
def test_an_entity_s_memories(mem0, population, name, key):
    """GET /v1/memories/{entity_type}/{entity_id}/ lists exactly that entity's listed memories."""
    operation = "GET /v1/memories/{entity_type}/{entity_id}/"
    path = f"/v1/memories/{key[:-3]}/{population.names[name]}/"
    answer = expect(mem0.get(path), 200, source=operation_source(operation))
    population.check(results_of(answer, what=f"GET {path}", source=operation_source(operation)),
                     population.of(key, name), f"GET {path}", operation_source(operation))


# --- lists ---------------------------------------------------------------------------------------------

ENTITIES = [("user", "user_id"), ("user2", "user_id"), ("agent", "agent_id"), ("app", "app_id"), ("run", "run_id")]


@pytest.mark.parametrize("name,key", ENTITIES)
@pytest.mark.parametrize("version", ["v1", "v2", pytest.param("v3", marks=V3)])
@pytest.mark.parametrize("paged", [False, True], ids=["one answer", "pages of 1"])
def test_a_list_by_entity(mem0, population, version, name, key, paged):
    """A list by one entity id shows exactly its listed memories (v1/v2 a bare array, with pages the envelope)."""
    operation = "GET /v1/memories/" if version == "v1" else f"POST /{version}/memories/"
    source, entity = fact("Pagination", operation), {key: population.names[name]}
    if paged or version == "v3":
        items = [m for page in pages(mem0, version, entity, 1 if paged else 100) for m in page]
    elif version == "v1":
        items = results_of(expect(mem0.get("/v1/memories/", params=entity), 200, source=source), what=operation,
                           source=source, envelope=False)
    else:
        items = results_of(expect(mem0.post("/v2/memories/", json={"filters": entity}), 200, source=source),
                           what=operation, source=source, envelope=False)
    population.check(items, population.of(key, name), f"{operation} by {key}", source)


@pytest.mark.parametrize("case", ["AND", "OR", "NOT", "metadata", "in", "ne", "any", "created_at", "keywords"])
@pytest.mark.parametrize("version", ["v2", pytest.param("v3", marks=V3)])
def test_the_filter_language(mem0, population, version, case):
    """A list with one construct of the filter language shows exactly the memories it selects."""
    filters, test = filter_cases(population)[case]
    operation = f"POST /{version}/memories/"
    source = fact(FILTERS, operation)
    items = [m for page in pages(mem0, version, filters, 100) for m in page]
    population.check(items, population.where(lambda e: test(e) and e.user_id in (population.names["user"],
                                                                                  population.names["user2"])),
                     f"{operation} with {case} ({filters})", source)


def test_categories_select_what_the_memories_show(mem0, population):
    """A category filter (v1 query, v2/v3 filter language, v3 side filter) selects exactly the memories whose
    categories (as their own answers show them) hold it."""
    categories = {short: categories_of(mem0, population, short) for short in ("tea", "nurse", "peanuts")}
    user = population.names["user"]
    for chosen in sorted({c for found in categories.values() for c in found}):
        wanted = {population.ids[s] for s, found in categories.items() if chosen in found}
        v1 = results_of(expect(mem0.get("/v1/memories/", params={"user_id": user, "categories": chosen}), 200),
                        what="GET /v1/memories/", source=fact(FILTERS, "GET /v1/memories/"), envelope=False)
        population.check(v1, wanted, f"GET /v1/memories/ with categories {chosen!r}", fact(FILTERS, "GET /v1/memories/"))
        v2 = [m for page in pages(mem0, "v2", {"user_id": user, "categories": {"in": [chosen]}}, 100) for m in page]
        population.check(v2, wanted, f"POST /v2/memories/ with categories in [{chosen!r}]",
                         fact(FILTERS, "POST /v2/memories/"))
        v3 = [m for page in pages(mem0, "v3", {"user_id": user}, 100, categories=[chosen]) for m in page]
        population.check(v3, wanted, f"POST /v3/memories/ with categories [{chosen!r}]", fact(FILTERS, "POST /v3/memories/"))


@pytest.mark.parametrize(("version", "case"), [
    *(("v1", case) for case in ("keywords", "start_date", "end_date")),
    *(pytest.param("v3", case, marks=V3) for case in ("keywords", "start_date", "end_date", "show_expired")),
])
def test_side_filters(mem0, population, version, case):
    """keywords (the text holds it), start_date / end_date (created on or after / before), show_expired
    (expired memories too) narrow or widen a list as their descriptions say."""
    user2 = population.names["user2"]
    users = [population.names["user"], user2]
    values = {"keywords": "chess", "start_date": "2025-01-01", "end_date": "2024-12-31", "show_expired": True}
    tests: dict[str, Callable[[Expected], bool]] = {
        "keywords": lambda e: "chess" in e.memory.lower(),
        "start_date": lambda e: e.id != population.ids["tea"],
        "end_date": lambda e: e.id == population.ids["tea"],
        "show_expired": lambda e: True,
    }
    wanted = population.where(lambda e: tests[case](e) and e.user_id in users, expired=case == "show_expired")
    operation = "GET /v1/memories/" if version == "v1" else "POST /v3/memories/"
    source = operation_source(operation)
    items: list[dict[str, Any]] = []
    for user in users:
        if version == "v1":
            items += results_of(expect(mem0.get("/v1/memories/", params={"user_id": user, case: values[case]}), 200),
                                what=operation, source=source, envelope=False)
        else:
            items += [m for page in pages(mem0, "v3", {"user_id": user}, 100, **{case: values[case]}) for m in page]
    population.check(items, wanted, f"{operation} with {case} {values[case]!r}", source)


@pytest.mark.parametrize("version", ["v1", "v2", pytest.param("v3", marks=V3)])
@pytest.mark.parametrize("fields", [["memory"], ["user_id", "metadata", "hash"], ["categories", "expiration_date"]],
                         ids=["memory", "user_id,metadata,hash", "categories,expiration_date"])
def test_a_projection_answers_only_its_fields(mem0, population, version, fields):
    """``fields`` keeps the named fields (and the required ones), each with the memory's value."""
    user = population.names["user"]
    operation = "GET /v1/memories/" if version == "v1" else f"POST /{version}/memories/"
    source = operation_source(operation)
    if version == "v1":
        answer = expect(mem0.get("/v1/memories/", params={"user_id": user, "fields": fields}), 200, source=source)
        items = results_of(answer, what=operation, source=source, envelope=False)
    elif version == "v2":
        answer = expect(mem0.post("/v2/memories/", params={"fields": fields}, json={"filters": {"user_id": user}}), 200,
                        source=source)
        items = results_of(answer, what=operation, source=source, envelope=False)
    else:
        items = [m for page in pages(mem0, "v3", {"user_id": user}, 100, fields=fields) for m in page]
    population.check(items, population.of("user_id", "user"), f"{operation} with fields {fields}", source, fields=fields)


# --- adds: every answer shape, and the events of queued ones -------------------------------------------------

ADD_SHAPES = {
    "v1 sync v1.0": ("/v1/memories/", {"async_mode": False, "output_format": "v1.0"}),
    "v1 sync v1.1": ("/v1/memories/", {"async_mode": False, "output_format": "v1.1"}),
    "v1 queued v1.0": ("/v1/memories/", {"async_mode": True, "output_format": "v1.0"}),
    "v1 queued v1.1": ("/v1/memories/", {"async_mode": True, "output_format": "v1.1"}),
    "v3 sync": ("/v3/memories/add/", {"async_mode": False}),
    "v3 queued": ("/v3/memories/add/", {"async_mode": True}),
}


@pytest.mark.parametrize("shape", list(ADD_SHAPES))
def test_an_add_answers_in_its_output_format(mem0, new_user, target, shape):
    """An add answers in its output format: v1.0 a list (``data.memory``), v1.1 and v3 ``{results}`` (``memory``);
    a queued add its event, which settles with the memories, each then readable as added."""
    path, options = ADD_SHAPES[shape]
    if "queued" in shape and "events" not in target.mem0.capabilities:
        pytest.skip("the target does not offer the events capability")
    if path.startswith("/v3") and "v3" not in target.mem0.capabilities:
        pytest.skip("the target does not offer the v3 capability")
    user = new_user()
    texts = ["Runs five kilometres before work", "Reads poetry in Portuguese"]
    messages = [{"role": "user", "content": text} for text in texts]
    operation = f"POST {path}"
    source = fact("Add", operation)
    answer = expect(mem0.post(path, json={"messages": messages, "user_id": user, "infer": False,
                                          "metadata": {"shape": shape}, **options}), 200, source=source)
    envelope = options.get("output_format") != "v1.0"
    if options["async_mode"]:
        events = [answer] if path.startswith("/v3") else results_of_events(answer, envelope, operation, source)
        (event,) = events
        require(event.get("status") in ("PENDING", "RUNNING", "SUCCEEDED") and isinstance(event.get("event_id"), str)
                and isinstance(event.get("message"), str) and event["message"].strip() != "",
                f"{operation} ({shape}) answers {event}", received=answer,
                documented='a queued event {message, status: "PENDING", event_id}', source=source)
        results = settle(mem0, event["event_id"])
        check_event(mem0, event["event_id"], texts)
    else:
        results = results_of(answer, what=f"{operation} ({shape})", source=source, envelope=envelope)
        if not envelope:
            texts_shown = [str((r.get("data") or {}).get("memory")) for r in results]
        else:
            texts_shown = [str(r.get("memory")) for r in results]
        require(sorted(texts_shown) == sorted(texts) and all(r.get("event") == "ADD" for r in results),
                f"{operation} ({shape}) answers {results}", received=results,
                documented=f"one ADD per message, its text {'in data.memory' if not envelope else 'in memory'}: {texts}",
                source=source)
    views, by_text = Views(), {}
    for result in results:
        memory = memory_of(mem0, result["id"])
        by_text[str(memory.get("memory"))] = result["id"]
        views.check(memory, Expected(result["id"], memory.get("memory"), user_id=user, metadata={"shape": shape}),
                    where=f"GET /v1/memories/{result['id']}/ after {operation} ({shape})", source=source)
    require(sorted(by_text) == sorted(texts), f"{operation} ({shape}) stores {sorted(by_text)}", received=sorted(by_text),
            documented=sorted(texts), source=source, severity=Severity.CRITICAL)


def results_of_events(answer: Any, envelope: bool, operation: str, source) -> list[dict[str, Any]]:
    """The queued event(s) of a v1 add: ``[event]`` (v1.0) or ``{results: [event]}`` (v1.1)."""
    items = answer.get("results") if envelope and isinstance(answer, dict) else answer if not envelope else None
    require(isinstance(items, list) and len(items) == 1 and isinstance(items[0], dict), f"{operation} answers {answer}",
            received=answer, documented=("{results: [event]}" if envelope else "[event]") + " (FACTS.md Add)",
            source=source)
    return items


def check_event(mem0, event_id: str, texts: list[str]) -> None:
    """The settled event: its id, kind ADD, SUCCEEDED, the memories it made (one ADD per text), its times in order."""
    source = fact("Add", "GET /v1/event/{event_id}/")
    event = expect(mem0.get(f"/v1/event/{event_id}/"), 200, source=source)
    shown = {key: event.get(key) for key in ("id", "event_type", "status")} if isinstance(event, dict) else event
    require(shown == {"id": event_id, "event_type": "ADD", "status": "SUCCEEDED"}, f"GET /v1/event/{event_id}/ shows {shown}",
            received=event, documented={"id": event_id, "event_type": "ADD", "status": "SUCCEEDED"}, source=source)
    created, updated = event.get("created_at"), event.get("updated_at")
    require(isinstance(created, str) and isinstance(updated, str) and updated >= created,
            f"GET /v1/event/{event_id}/ times {created!r} .. {updated!r}", received={"created_at": created, "updated_at": updated},
            documented="created_at, then updated_at no earlier", source=source)
    made = event.get("results") if isinstance(event.get("results"), list) else []
    shown = sorted(str(item.get("memory") or (item.get("data") or {}).get("memory")) for item in made
                   if isinstance(item, dict) and item.get("event") == "ADD")
    require(shown == sorted(texts), f"GET /v1/event/{event_id}/ results show {shown}", received=made,
            documented=f"one ADD per message: {sorted(texts)}", source=source)
    again = expect(mem0.get(f"/v1/event/{event_id}/"), 200, source=source)
    require(again == event, f"GET /v1/event/{event_id}/ of a settled event answers differently the second time",
            received=again, documented=event, source=source)


# --- organization and project scope --------------------------------------------------------------------

NOBODY = "00000000-0000-4000-8000-0000000000aa"  # an organization or project id that cannot exist
SCOPED_READS = {
    "GET /v1/memories/": lambda people, scope: ("GET", "/v1/memories/", {"user_id": people.names["user"], **scope}, None),
    "POST /v2/memories/": lambda people, scope: ("POST", "/v2/memories/", scope,
                                                 {"filters": {"user_id": people.names["user"]}}),
    "POST /v1/memories/search/": lambda people, scope: ("POST", "/v1/memories/search/", None, {
        "query": "tea nurse peanuts", "user_id": people.names["user"], **scope}),
    "POST /v2/memories/search/": lambda people, scope: ("POST", "/v2/memories/search/", None, {
        "query": "tea nurse peanuts", "filters": {"user_id": people.names["user"]}, "threshold": 0, **scope}),
    "GET /v1/entities/": lambda people, scope: ("GET", "/v1/entities/", scope, None),
}


def _items(answer: Any) -> list[Any]:
    items = answer.get("results") if isinstance(answer, dict) else answer
    return items if isinstance(items, list) else []


@pytest.mark.requires("ping")
@pytest.mark.parametrize("key", ["org_id", "project_id"])
@pytest.mark.parametrize("read", list(SCOPED_READS))
def test_only_the_key_s_own_organization_and_project_hold_its_memories(mem0, population, read, key):
    """A read naming the key's own organization (project) finds what it finds without; one naming another finds
    nothing (or is refused): memories, and the population's entities."""
    from conformance.suite.test_platform import account

    own = dict(zip(("org_id", "project_id"), account(mem0), strict=True))[key]
    source = operation_source(read)
    people = set(population.names.values())  # an entity listing holds other tests' entities too: these count
    answers = {}
    for label, scope in (("none", {}), ("own", {key: own}), ("other", {key: NOBODY})):
        method, path, query, body = SCOPED_READS[read](population, scope)
        response = mem0.request(method, path, params=query, json=body)
        if label == "other" and 400 <= response.status_code < 500:
            answers[label] = []
            continue
        answers[label] = sorted(str(item.get("id")) for item in _items(expect(response, 200, source=source))
                                if isinstance(item, dict) and ("name" not in item or item["name"] in people))
    require(answers["own"] == answers["none"] and answers["none"], f"{read} with the key's own {key} finds "
            f"{answers['own']}, without it {answers['none']}", received=answers["own"], documented=answers["none"],
            source=source)
    require(not answers["other"], f"{read} with another {key} finds {len(answers['other'])} of the key's memories",
            received=answers["other"], documented="nothing: the key's memories are its own project's", source=source,
            severity=Severity.CRITICAL)
