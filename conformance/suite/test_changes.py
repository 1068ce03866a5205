"""Every change of memories changes exactly what it names: one operation on a fresh population, then everything
that can be read of the population compared with the model.

Each test makes the population of :mod:`machines.population` (two users; an agent, an app and a run;
an immutable, an expiring and an expired memory), applies one change (a delete, an update of each
field, a batch update or delete, a delete-all of each kind of entity, an add through each way of
naming its entity) and then compares each user's listing, each memory by id and each deleted memory
(404) with the model: a change that is not made, made in part, or made to one more memory than named
shows. Answers that say what happened carry their documented ``message``.

(FACTS.md: Add, Batch, Delete-all, expiration_date, History.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conformance.suite.machines.mem0_calls import add_memories, history_of, memory_of
from conformance.suite.machines.population import Population, add, check_all, populate
from conformance.suite.machines.views import Expected
from conformance.suite.sources import refused_update
from conformance.suite.support import expect
from conformance.verdicts import Source, fact, operation_source, require

pytestmark = [pytest.mark.requires("mem0"), pytest.mark.contract("Changing memories")]

V3 = pytest.mark.requires("v3")


@pytest.fixture
def population(mem0, ids, cleanup) -> Population:
    return populate(mem0, ids, cleanup)


def said(answer: Any, what: str, source: Source) -> None:
    """An answer that says what happened: a non-empty ``message`` (the documented success body)."""
    message = answer.get("message") if isinstance(answer, dict) else None
    require(isinstance(message, str) and message.strip(), f"{what} answers no message", received=answer,
            documented='{"message": "..."} (the documented answer)', source=source)


def test_deleting_a_memory_deletes_it_and_nothing_else(mem0, population):
    """DELETE of one memory makes it 404 and unlisted, and keeps every other memory as it was."""
    doomed = population.ids["nurse"]
    source = operation_source("DELETE /v1/memories/{memory_id}/")
    said(expect(mem0.delete(f"/v1/memories/{doomed}/"), 200, source=source), f"DELETE /v1/memories/{doomed}/", source)
    population.gone([doomed])
    check_all(mem0, population, after=f"DELETE /v1/memories/{doomed}/")


TOMORROW = (datetime.now(UTC).date() + timedelta(days=40)).isoformat()
YESTERDAY = (datetime.now(UTC).date() - timedelta(days=3)).isoformat()
UPDATES = {
    "text": {"text": "Works as a day nurse in Lyon"},
    "metadata": {"metadata": {"topic": "work", "shift": "day"}},
    "text and metadata": {"text": "Works in Grenoble now", "metadata": {}},
    "a later expiration date": {"expiration_date": TOMORROW},
    "a past expiration date": {"expiration_date": YESTERDAY},
    "no expiration date": {"expiration_date": None},
    "the text of the app's memory": {"text": "Plays chess every Sunday and Wednesday"},
}
UPDATED = {"the text of the app's memory": "chess"}  # the others change the agent's memory (nurse)


@pytest.mark.parametrize("change", list(UPDATES))
def test_an_update_changes_what_it_names(mem0, population, change):
    """PUT changes only the fields it names (text, metadata, expiration date; null clears the date), answers the
    memory as it is now, and changes no other memory."""
    memory_id = population.ids[UPDATED.get(change, "nurse")]
    body = UPDATES[change]
    path, source = f"/v1/memories/{memory_id}/", operation_source("PUT /v1/memories/{memory_id}/")
    answer = expect(mem0.put(path, json=body), 200, source=source)
    expected = population.model[memory_id]
    old = expected.memory
    expected.memory = body.get("text", expected.memory)
    expected.metadata = body.get("metadata", expected.metadata)
    if "expiration_date" in body:
        expected.expiration_date = body["expiration_date"]
        if body["expiration_date"] == YESTERDAY:
            population.expired.add(memory_id)
    population.history[memory_id].append(("UPDATE", old, expected.memory))
    population.views.changed(memory_id)
    population.views.check(answer, expected, where=f"PUT {path}", source=source)
    require(isinstance(answer, dict) and answer.get("text") == expected.memory, f"PUT {path} answers text "
            f"{answer.get('text') if isinstance(answer, dict) else answer!r}", received=answer,
            documented=f"text: {expected.memory!r} (the updated text)", source=source)
    check_all(mem0, population, after=f"PUT {path} of {change}")


def test_an_immutable_memory_refuses_a_put(mem0, population):
    """PUT of an immutable memory is refused and changes nothing."""
    memory_id = population.ids["peanuts"]
    refused_update(mem0.put(f"/v1/memories/{memory_id}/", json={"text": "Not allergic after all"}),
                   what=f"PUT /v1/memories/{memory_id}/ of an immutable memory",
                   source=fact("Add", "PUT /v1/memories/{memory_id}/"))
    check_all(mem0, population, after="a refused PUT of an immutable memory")


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_a_batch_changes_exactly_its_items(mem0, population, operation):
    """A batch update (texts and metadata) or delete of two memories changes those two, and no other."""
    chosen = [population.ids["tea"], population.ids["chess"]]
    source = fact("Batch", f"{'PUT' if operation == 'update' else 'DELETE'} /v1/batch/")
    if operation == "update":
        items = [{"memory_id": m, "text": f"Batch text {n}", "metadata": {"batch": n}} for n, m in enumerate(chosen)]
        answer = expect(mem0.put("/v1/batch/", json={"memories": items}), 200, source=source)
        for item in items:
            expected = population.model[item["memory_id"]]
            population.history[item["memory_id"]].append(("UPDATE", expected.memory, item["text"]))
            expected.memory, expected.metadata = item["text"], item["metadata"]
            population.views.changed(item["memory_id"])
    else:
        answer = expect(mem0.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": m} for m in chosen]}),
                        200, source=source)
        population.gone(chosen)
    said(answer, f"the batch {operation}", source)
    check_all(mem0, population, after=f"a batch {operation} of {chosen}")


@pytest.mark.parametrize("name,key", [("user", "user_id"), ("agent", "agent_id"), ("app", "app_id"), ("run", "run_id")])
def test_delete_all_of_an_entity_deletes_exactly_its_memories(mem0, population, name, key):
    """DELETE /v1/memories/ with one entity id deletes every memory of that entity (an expired one too) and no other."""
    entity = population.names[name]
    source = fact("Delete-all", "DELETE /v1/memories/")
    said(expect(mem0.delete("/v1/memories/", params={key: entity}), 200, 204, source=source),
         f"DELETE /v1/memories/?{key}=...", source)
    population.gone(population.where(lambda e: getattr(e, key) == entity, expired=True))
    check_all(mem0, population, after=f"DELETE /v1/memories/?{key}={entity}")


@pytest.mark.requires("ping")
@pytest.mark.parametrize("key", ["org_id", "project_id"])
def test_delete_all_naming_another_organization_deletes_nothing(mem0, population, key):
    """DELETE /v1/memories/ with a user id and another organization (project) deletes none of the key's memories."""
    source = fact("Delete-all", "DELETE /v1/memories/")
    response = mem0.delete("/v1/memories/", params={"user_id": population.names["user"],
                                                    key: "00000000-0000-4000-8000-0000000000aa"})
    if not 400 <= response.status_code < 500:
        expect(response, 200, 204, source=source)
    check_all(mem0, population, after=f"DELETE /v1/memories/ naming another {key}")


ADD_SCOPES = {  # where the entity ids go, and which of the population's entities they name
    "v1 top-level ids": ("/v1/memories/", False, ("user2", "agent")),
    "v3 top-level ids": ("/v3/memories/add/", False, ("user2", "agent")),
    "v3 ids in filters": ("/v3/memories/add/", True, ("user2", "agent")),
    "v3 app and run in filters": ("/v3/memories/add/", True, ("user2", "app", "run")),
}
ENTITY_OF = {"user2": "user_id", "agent": "agent_id", "app": "app_id", "run": "run_id"}


@pytest.mark.parametrize("scope", [pytest.param(name, marks=[V3] if path.startswith("/v3") else [])
                                   for name, (path, _, _) in ADD_SCOPES.items()])
def test_an_add_stores_its_memories_for_its_entities(mem0, population, scope):
    """An add of two messages (infer off, one an assistant's, with surrounding spaces) stores each verbatim, for the
    entity ids it names (at the top level, or in ``filters`` as the SDK sends them), dated by ``timestamp``, expiring
    on ``expiration_date``, immutable when asked, and changes nothing else."""
    path, in_filters, named = ADD_SCOPES[scope]
    ids = {ENTITY_OF[name]: population.names[name] for name in named}
    messages = [{"role": "user", "content": "Speaks Basque at home"},
                {"role": "assistant", "content": "  Noted: euskara at home.  "}]
    moment = datetime(2023, 6, 1, 8, 30, tzinfo=UTC)
    body = {"messages": messages, "infer": False, "async_mode": False, "metadata": {"lang": "eu"},
            "timestamp": int(moment.timestamp()), "expiration_date": TOMORROW, "immutable": True, **({"filters": ids} if in_filters else ids)}
    source = fact("Add", f"POST {path}")
    answer = expect(mem0.post(path, json=body), 200, source=source)
    items = answer.get("results") if isinstance(answer, dict) else answer
    require(isinstance(items, list) and len(items) == 2, f"POST {path} ({scope}) answers {answer}", received=answer,
            documented="two results: one memory per message, stored directly (infer false)", source=source)
    for item, message in zip(sorted(items, key=lambda i: str(i.get("memory") or i.get("data", {}).get("memory"))),
                             sorted(messages, key=lambda m: m["content"]), strict=True):
        memory_id = item.get("id")
        population.model[memory_id] = Expected(memory_id, message["content"], **ids,
                                               metadata={"lang": "eu"}, expiration_date=TOMORROW, immutable=True,
                                               input=messages)
        memory = memory_of(mem0, memory_id)
        created = memory.get("created_at")
        require(isinstance(created, str) and datetime.fromisoformat(created.replace("Z", "+00:00")) == moment,
                f"GET /v1/memories/{memory_id}/ of a memory added with timestamp {body['timestamp']} shows created_at "
                f"{created!r}", received=created, documented=moment.isoformat(), source=source)
        refused_update(mem0.put(f"/v1/memories/{memory_id}/", json={"text": "changed"}),
                       what=f"PUT /v1/memories/{memory_id}/ of a memory added immutable ({scope})", source=source)
        inputs = [[{k: m.get(k) for k in ("role", "content")} for m in entry.get("input") or []]
                  for entry in history_of(mem0, memory_id)]
        require(inputs == [messages], f"GET /v1/memories/{memory_id}/history/ shows the add's input as {inputs}",
                received=inputs, documented=[messages], source=fact("History", "GET /v1/memories/{memory_id}/history/"))
    check_all(mem0, population, after=f"POST {path} ({scope})")


@pytest.mark.parametrize("path", ["/v1/memories/", pytest.param("/v3/memories/add/", marks=V3)])
def test_a_queued_add_settles_into_its_memories(mem0, population, path, target):
    """A queued add (the default mode) answers its event; once settled, its memories are there, as added."""
    if "events" not in target.mem0.capabilities:
        pytest.skip("the target does not offer the events capability")
    user = population.names["user"]
    texts = ["Bakes sourdough on Saturdays"]
    created = add_memories(mem0, texts, mode=f"{'v3' if path.startswith('/v3') else 'v1'}-async", user_id=user,
                           metadata={"queued": True})
    for memory_id, text in created:
        population.model[memory_id] = Expected(memory_id, text, user_id=user, metadata={"queued": True},
                                               input=[{"role": "user", "content": text}])
    check_all(mem0, population, after=f"a queued POST {path}")


@pytest.mark.parametrize("path", ["/v1/memories/", pytest.param("/v3/memories/add/", marks=V3)])
def test_custom_categories_categorise_from_their_names(mem0, population, path):
    """An add with custom categories gives its memory categories from them only, the one its text names included."""
    user = population.names["user2"]
    memory_id = add(mem0, population, f"garden {path}", "Grows tomatoes in the garden", user_id=user, path=path,
                    custom_categories=[{"garden": "gardening"}, {"finance": "money matters"}])
    categories = memory_of(mem0, memory_id).get("categories")
    require(isinstance(categories, list) and "garden" in categories and set(categories) <= {"garden", "finance"},
            f"GET /v1/memories/{memory_id}/ of a memory added with custom categories garden and finance shows "
            f"categories {categories!r}", received=categories,
            documented="categories from the custom ones only, garden (which the text names) among them",
            source=fact("Add", f"POST {path}"))
    check_all(mem0, population, after=f"an add with custom categories ({path})")
