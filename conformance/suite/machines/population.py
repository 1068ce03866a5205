"""A population of memories for example tests: made once, held in a model, compared whole.

The read tests (``test_reads.py``) read one population through every read operation; the change
tests (``test_changes.py``) make one, change it with one operation, and compare everything that
can be read of it with the model afterwards (:meth:`Population.check_all`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from conformance.suite.machines.mem0_calls import expect_deleted, memory_of, pages, results_of
from conformance.suite.machines.views import ENTITY_KEYS, Expected, Views
from conformance.suite.sources import FILTERS
from conformance.suite.support import expect, track_entity
from conformance.verdicts import Severity, fact, operation_source, require

REQUIRED = ("id", "memory", "created_at", "updated_at")
DATED = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)  # the `timestamp` of the dated memory


@dataclass
class Population:
    """The memories of this module's tests, as the model has them (by short name), and their views."""

    ids: dict[str, str] = field(default_factory=dict)  # short name -> memory id
    model: dict[str, Expected] = field(default_factory=dict)  # memory id -> Expected
    expired: set[str] = field(default_factory=set)
    history: dict[str, list[tuple[str, str | None, str | None]]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # "user", "user2", "agent", "app", "run" -> entity id
    views: Views = field(default_factory=Views)
    dated: str | None = None  # the memory added with ``timestamp`` = DATED
    deleted: set[str] = field(default_factory=set)
    users: tuple[str, ...] = ("user", "user2")
    steps: dict[str, list[int]] = field(default_factory=dict)  # memory id -> when each of its changes was made
    clock: int = 0

    def step(self, memory_id: str) -> None:
        """One more change of this memory, made after every change noted so far."""
        self.clock += 1
        self.steps.setdefault(memory_id, []).append(self.clock)

    def gone(self, memory_ids: set[str] | list[str]) -> None:
        """These memories were deleted: out of the model, 404 from now on."""
        for memory_id in memory_ids:
            self.model.pop(memory_id, None)
            self.expired.discard(memory_id)
            self.deleted.add(memory_id)

    def where(self, test: Callable[[Expected], bool], *, expired: bool = False) -> set[str]:
        """The ids of the memories ``test`` holds for, listed ones only unless ``expired``."""
        return {mid for mid, e in self.model.items() if test(e) and (expired or mid not in self.expired)}

    def of(self, key: str, name: str) -> set[str]:
        return self.where(lambda e: getattr(e, key) == self.names[name])

    def check(self, items: list[dict[str, Any]], wanted: set[str], where: str, source,
              fields: list[str] | None = None, *, within: bool = False) -> None:
        """``items`` are exactly the memories ``wanted`` (``within``: some of them), each as the model has it."""
        got = [item.get("id") for item in items]
        require(len(got) == len(set(got)), f"{where} names {len(got) - len(set(got))} memories twice", received=got,
                documented="each memory once", source=source)
        strangers, missing = sorted(set(got) - wanted), sorted(wanted - set(got))
        require(not strangers, f"{where} holds {len(strangers)} memories it does not ask for", received=strangers,
                documented=sorted(wanted), source=source, severity=Severity.CRITICAL)
        require(within or not missing, f"{where} misses {len(missing)} of the {len(wanted)} memories it asks for",
                received=sorted(got), documented=sorted(wanted), source=source)
        for item in items:
            self.views.check(item, self.model[item["id"]], where=where, source=source, fields=fields)
            if fields:
                extra = sorted(set(item) - set(fields) - set(REQUIRED) - {"score"})
                require(not extra, f"{where} answers fields it was not asked for: {extra}", received=sorted(item),
                        documented=f"only {fields} and the required {list(REQUIRED)} ('a list of field names to include "
                        "in the response')", source=source)


def add(mem0, population: Population, short: str, text: str, *, path: str = "/v1/memories/", **fields: Any) -> str:
    """One memory added (v1 in output format v1.1, or v3) and put into the model."""
    body = {"messages": [{"role": "user", "content": text}], "infer": False, "async_mode": False, **fields}
    body.update({"output_format": "v1.1"} if path == "/v1/memories/" else {})
    source = fact("Add", f"POST {path}")
    answer = expect(mem0.post(path, json=body), 200, source=source)
    (result,) = results_of(answer, what=f"POST {path}", source=source, envelope=True)
    memory_id = result["id"]
    population.ids[short] = memory_id
    population.model[memory_id] = Expected(memory_id, text, **{k: fields.get(k) for k in ENTITY_KEYS},
                                           metadata=fields.get("metadata"), immutable=bool(fields.get("immutable")),
                                           expiration_date=fields.get("expiration_date"),
                                           input=body["messages"])
    population.history[memory_id] = [("ADD", None, text)]
    population.step(memory_id)
    return memory_id


def populate(mem0, ids, cleanup) -> Population:
    """Two users; an agent, an app and a run; six memories (one dated by ``timestamp``, one immutable, one
    expiring, one expired, one updated, one of the second user beside the app's), each read once by id so that
    later answers are held to it."""
    people = Population()
    for name, kind in (("user", "user"), ("user2", "user"), ("agent", "agent"), ("app", "app"), ("run", "run")):
        people.names[name] = ids.new(kind)
        track_entity(cleanup, mem0, kind, people.names[name])
    user, user2 = people.names["user"], people.names["user2"]
    today = datetime.now(UTC).date()
    add(mem0, people, "tea", "Drinks green tea every morning", user_id=user, metadata={"topic": "food", "rank": 1},
         custom_categories=[{"tea": "what they drink"}], timestamp=int(DATED.timestamp()))
    add(mem0, people, "nurse", "Works as a night nurse in Lyon", user_id=user, agent_id=people.names["agent"],
         metadata={"topic": "work", "rank": 2}, expiration_date=(today + timedelta(days=30)).isoformat())
    add(mem0, people, "peanuts", "Allergic to peanuts and walnuts", user_id=user, run_id=people.names["run"],
         immutable=True, metadata={})
    add(mem0, people, "chess", "Plays chess every Sunday", user_id=user2, app_id=people.names["app"],
         metadata={"topic": "hobby", "rank": 3})
    add(mem0, people, "tomatoes", "Grows tomatoes on a balcony", user_id=user2, metadata={"topic": "family"})
    old = add(mem0, people, "old", "Lived in Paris before moving", user_id=user2,
               expiration_date=(today - timedelta(days=5)).isoformat())
    people.expired.add(old)
    tea = people.ids["tea"]
    source = operation_source("PUT /v1/memories/{memory_id}/")
    expect(mem0.put(f"/v1/memories/{tea}/", json={"text": "Drinks green tea every morning and evening"}), 200, source=source)
    people.model[tea].memory = "Drinks green tea every morning and evening"
    people.history[tea].append(("UPDATE", "Drinks green tea every morning", people.model[tea].memory))
    people.step(tea)
    people.views.changed(tea)
    people.dated = tea
    for memory_id, expected in people.model.items():
        people.views.check(memory_of(mem0, memory_id), expected, where=f"GET /v1/memories/{memory_id}/",
                           source=operation_source("GET /v1/memories/{memory_id}/"))
    return people


def check_all(mem0, population: Population, *, after: str) -> None:
    """Everything that can be read of the population equals the model ``after`` a change: each entity's v2
    list (expired ones with show_expired on v3 where offered), each memory by id, each deleted one 404."""
    source = fact(FILTERS, "POST /v2/memories/")
    for name in population.users:
        key_name = population.names[name]
        items = [m for page in pages(mem0, "v2", {"user_id": key_name}, 100) for m in page]
        population.check(items, population.of("user_id", name), f"POST /v2/memories/ of {name} after {after}", source)
    for memory_id, expected in population.model.items():
        population.views.check(memory_of(mem0, memory_id), expected, where=f"GET /v1/memories/{memory_id}/ after {after}",
                               source=operation_source("GET /v1/memories/{memory_id}/"))
    for memory_id in sorted(population.deleted):
        expect_deleted(mem0, memory_id, what=f"GET /v1/memories/{memory_id}/ after {after}",
                       source=operation_source("GET /v1/memories/{memory_id}/"))


def categories_of(mem0, population: Population, short: str) -> list[str]:
    memory = memory_of(mem0, population.ids[short])
    return [c for c in memory.get("categories") or [] if isinstance(c, str)]


def filter_cases(people: Population) -> dict[str, tuple[dict[str, Any], Callable[[Expected], bool]]]:
    """Filters of the filter language and the memories each selects."""
    n = people.names
    return {
        "AND": ({"user_id": n["user"], "AND": [{"agent_id": n["agent"]}]},
                lambda e: e.user_id == n["user"] and e.agent_id == n["agent"]),
        "OR": ({"OR": [{"user_id": n["user"]}, {"user_id": n["user2"]}]}, lambda e: e.user_id in (n["user"], n["user2"])),
        "NOT": ({"user_id": n["user"], "NOT": [{"agent_id": n["agent"]}]},
                lambda e: e.user_id == n["user"] and e.agent_id != n["agent"]),
        "metadata": ({"user_id": n["user"], "metadata": {"topic": "work"}},
                     lambda e: e.user_id == n["user"] and (e.metadata or {}).get("topic") == "work"),
        "in": ({"user_id": {"in": [n["user"], n["user2"]]}}, lambda e: e.user_id in (n["user"], n["user2"])),
        "ne": ({"user_id": n["user"], "agent_id": {"ne": n["agent"]}},
               lambda e: e.user_id == n["user"] and e.agent_id != n["agent"]),
        "any": ({"user_id": n["user"], "run_id": "*"}, lambda e: e.user_id == n["user"] and e.run_id is not None),
        "created_at": ({"user_id": n["user"], "created_at": {"lt": "2025-01-01"}},
                       lambda e: e.user_id == n["user"] and e.id == people.ids["tea"]),
        "keywords": ({"user_id": n["user"], "keywords": "PEANUTS"},
                     lambda e: e.user_id == n["user"] and "peanuts" in e.memory.lower()),
    }
