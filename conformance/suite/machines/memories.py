"""The Mem0 memory lifecycle as a rule machine beside a plain model.

The model is a dict ``id -> Expected`` (:mod:`views`: the text, entity ids, metadata, expiration
date and immutability the client set, and the add's conversation), the history each memory should
have, and the deleted ids. Three run-prefixed users share the machine, and memories also carry
agent, app and run ids from small run-prefixed pools, so that every list and search can show a
leak from one entity to another and every answer can show a field of another memory.

Rules change the target and the model together: adds (v1 in both output formats, v3, synchronous
or queued, some immutable, some expired), updates (text, metadata, expiration date; an immutable
memory refuses them), deletes (one by id, a batch, every memory of an entity by delete-all or by
deleting the entity), batch updates. Reads compare the whole answer with the model (:class:`views.Views`):
GET by id, history, v1/v2/v3 lists with and without pages, v1/v2/v3 searches, an entity's memories.
The invariant compares the v2 listing of all three users after every step, waiting at most the
target's consistency wait for queued work to show (FACTS.md: Add, Batch, List/search filters,
Pagination, History, Delete-all, expiration_date).

The invariants are the seed documents' own: on a target without the ``v3`` capability every step
goes through the seed's operations (v1 add, v2 list and search), and queued adds only where the
target has the ``events`` capability to follow them (:meth:`MemoryLifecycle.via`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conformance.client import ApiClient
from conformance.suite.machines.mem0_calls import (
    ADD_MODES,
    add_memories,
    expect_deleted,
    history_of,
    memory_of,
    pages,
    results_of,
)
from conformance.suite.machines.views import ENTITY_KEYS, Expected, Views
from conformance.suite.sources import FILTERS, refused_update
from conformance.suite.support import Patience, expect
from conformance.verdicts import Severity, fact, operation_source, require
from conformance.strategies.memories import expiration_dates, memory_texts, metadatas

TEXTS = memory_texts(free=False)
METADATA = metadatas()
LISTINGS = {"v1": "GET /v1/memories/", "v2": "POST /v2/memories/", "v3": "POST /v3/memories/"}
SEARCHES = {"v1": "POST /v1/memories/search/", "v2": "POST /v2/memories/search/", "v3": "POST /v3/memories/search/"}
KINDS = {"agent_id": "agent", "app_id": "app", "run_id": "run", "user_id": "user"}
HISTORY = "GET /v1/memories/{memory_id}/history/"
REQUIRED = ("id", "memory", "created_at", "updated_at")  # what the Memory schema requires of every view


@dataclass
class Record:
    """A memory of the model: what every view shows, whether it has expired, its history."""

    expected: Expected
    expired: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)  # {event, old_memory, new_memory, metadata}

    def note(self, event: str, old: str | None, new: str | None) -> None:
        self.history.append({"event": event, "old_memory": old, "new_memory": new,
                             "metadata": self.expected.metadata or {}})


def _any_of(key: str, names: list[str]) -> dict[str, Any]:
    return {"OR": [{key: name} for name in names]} if len(names) > 1 else {key: names[0]}


QUERY_LENGTH = 500  # a search's query: a memory's text, or its beginning (a large text runs to several KB)
_WORD = re.compile(r"\w+")


def search_query(text: str) -> str:
    """A memory's text as the query of a search that must find it: the whole text, or its first
    :data:`QUERY_LENGTH` characters cut back to a whole word, so that every word of the query is one of the
    text's (a word cut in two, "a" of "and", is none of them)."""
    if len(text) <= QUERY_LENGTH:
        return text
    head = text[:QUERY_LENGTH]
    return head if text[QUERY_LENGTH].isspace() or " " not in head else head.rsplit(" ", 1)[0]


def words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.casefold()))


def tied_out(query: str, found: list[str], top_k: int, texts: dict[str, str]) -> bool:
    """Whether a search for ``query`` that did not find the memory whose text it is may leave it out: the ``top_k``
    places are all taken by memories of the model (``texts``: id -> text) holding every word of the query, matches
    as good as that memory's, among which a target may rank in any order (two memories of one phrase repeated)."""
    wanted = words(query)
    return len(found) == top_k and all(i in texts and wanted <= words(texts[i]) for i in found)


def _blank(value: Any) -> Any:
    """``""`` and ``None`` alike (a history entry's missing text or user)."""
    return value if value not in ("", None) else None


class MemoryLifecycle(RuleBasedStateMachine):
    """Adds, reads, updates, deletes, batches, lists and searches, compared with a model after every step."""

    def __init__(self, *, mem0: ApiClient, users: list[str], entities: dict[str, list[str]],
                 register: Callable[[str, str], None], patience: Patience,
                 capabilities: frozenset[str] = frozenset({"v3", "events"})) -> None:
        super().__init__()
        self.mem0 = mem0
        self.capabilities = capabilities
        self.patience = patience
        self.users = users
        self.entities = entities  # agent_id / app_id / run_id -> run-prefixed names
        self.register = register  # (kind, name): called before the first memory of an entity is added (cleanup)
        self.registered: set[tuple[str, str]] = set()
        self.model: dict[str, Record] = {}
        self.deleted: dict[str, None] = {}  # in the order they were deleted (see :meth:`live`)
        self.views = Views()

    def via(self, choice: str) -> str:
        """The operation version (``v3``) or add mode (``v3-async``) a rule drew, or the seed's own
        when the target lacks the capability: v3 becomes v1 (adds) or v2 (lists, searches), queued sync."""
        version, _, timing = choice.partition("-")
        if version == "v3" and "v3" not in self.capabilities:
            version = "v1" if timing else "v2"
        if timing == "async" and "events" not in self.capabilities:
            timing = "sync"
        return f"{version}-{timing}" if timing else version

    # --- the model's views ------------------------------------------------------------------

    # Rules draw memories in the order the machine made them, never sorted by id: the target assigns ids at
    # random, so sorted they would put another memory at the same place when Hypothesis replays a program, which
    # it then cannot shrink nor print ("inconsistent data generation").
    def live(self) -> list[str]:
        return list(self.model)

    def mutable(self) -> list[str]:
        return [mid for mid, record in self.model.items() if not record.expected.immutable]

    def shown(self, key: str, names: list[str]) -> dict[str, Record]:
        """What list and search may show for these entities: their live memories that have not expired."""
        return {mid: r for mid, r in self.model.items() if getattr(r.expected, key) in names and not r.expired}

    def compare(self, got: dict[str, dict[str, Any]], key: str, names: list[str], operation: str, what: str,
                fields: list[str] | None = None) -> None:
        """``got`` (the memories ``operation`` answered, ``what`` it was) is exactly the model's for the entities,
        every memory as the model has it."""
        expected = self.shown(key, names)
        label, source = f"{operation} ({what})", fact(FILTERS, operation)
        deleted = sorted(set(got) & self.deleted.keys())
        require(not deleted, f"{label} lists {len(deleted)} deleted memories", received=deleted,
                documented="deleted memories are never listed", source=source, severity=Severity.CRITICAL)
        expired = sorted(mid for mid in got if mid in self.model and self.model[mid].expired)
        require(not expired, f"{label} lists {len(expired)} memories past their expiration_date", received=expired,
                documented="expired memories are hidden from list and search", source=fact("expiration_date", operation))
        strangers = sorted(mid for mid in got if mid not in expected)
        require(not strangers, f"{label} lists {len(strangers)} memories of other entities (or unknown ones)",
                received=[got[m] for m in strangers][:5], documented=f"only memories of {key} {names}",
                source=source, severity=Severity.CRITICAL)
        missing = sorted(set(expected) - set(got))
        require(not missing, f"{label} misses {len(missing)} of the {len(expected)} memories of its entities",
                received=sorted(got), documented=missing, source=source)
        for memory_id, view in got.items():
            self.views.check(view, expected[memory_id].expected, where=label, source=source, fields=fields)
            if fields:
                extra = sorted(set(view) - set(fields) - set(REQUIRED))
                require(not extra, f"{label} answers fields it was not asked for: {extra}", received=sorted(view),
                        documented=f"only {fields} (and the required {list(REQUIRED)}): 'a list of field names to "
                        "include in the response'", source=operation_source(operation))

    def listing(self, key: str, names: list[str], version: str, *, page_size: int | None = None,
                fields: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """Every memory one list shows: v1 (one entity, query parameters), v2 or v3 (the filter language);
        without ``page_size`` v1 and v2 answer a bare array, else every page is walked."""
        operation = LISTINGS[version]
        source = fact("Pagination", operation)
        if page_size is not None or version == "v3":
            if version == "v1":
                items = [m for page in self.v1_pages(key, names[0], page_size or 100, fields) for m in page]
            else:
                extra = {"fields": fields} if fields and version == "v3" else {}
                params = {"fields": fields} if fields and version == "v2" else {}
                items = [m for page in pages(self.mem0, version, _any_of(key, names), page_size or 100,
                                              params=params, **extra) for m in page]
        elif version == "v1":
            params = {key: names[0], **({"fields": fields} if fields else {})}
            answer = expect(self.mem0.get("/v1/memories/", params=params), 200, source=source)
            items = results_of(answer, what=f"{operation} without page parameters", source=source, envelope=False)
        else:
            params = {"fields": fields} if fields else {}
            answer = expect(self.mem0.post("/v2/memories/", params=params, json={"filters": _any_of(key, names)}), 200,
                            source=source)
            items = results_of(answer, what=f"{operation} without page parameters", source=source, envelope=False)
        found = {memory["id"]: memory for memory in items}
        require(len(found) == len(items), f"{operation} names {len(items) - len(found)} memories twice",
                received=[memory["id"] for memory in items], documented="each memory once", source=source)
        return found

    def v1_pages(self, key: str, name: str, page_size: int, fields: list[str] | None) -> list[list[dict[str, Any]]]:
        return pages(self.mem0, "v1", {key: name}, page_size, params={"fields": fields} if fields else {})

    def owner(self, index: int) -> str:
        return self.entity("user_id", self.users[index])

    def entity(self, key: str, name: str) -> str:
        if (key, name) not in self.registered:
            self.registered.add((key, name))
            self.register(KINDS[key], name)
        return name

    def created(self, added: list[tuple[str, str]], fields: dict[str, Any], *, expired: bool = False) -> None:
        conversation = [{"role": "user", "content": text} for _, text in added]
        for memory_id, text in added:
            expected = Expected(memory_id, text, **{k: fields.get(k) for k in ENTITY_KEYS},
                                metadata=fields.get("metadata"), expiration_date=fields.get("expiration_date"),
                                immutable=bool(fields.get("immutable")), input=conversation)
            record = Record(expected, expired)
            record.note("ADD", None, text)
            self.model[memory_id] = record

    # --- rules: changes -----------------------------------------------------------------------

    @rule(user=st.integers(0, 2), texts=st.lists(TEXTS, min_size=1, max_size=3, unique=True), metadata=METADATA,
          mode=st.sampled_from(ADD_MODES), v1_format=st.sampled_from(("v1.0", "v1.1")),
          scope=st.fixed_dictionaries({}, optional={"agent_id": st.integers(0, 1), "app_id": st.just(0),
                                                    "run_id": st.integers(0, 1)}),
          immutable=st.sampled_from((False, False, False, True)))
    def add(self, user, texts, metadata, mode, v1_format, scope, immutable):
        fields = {"user_id": self.owner(user), "metadata": metadata,
                  **{key: self.entity(key, self.entities[key][index]) for key, index in scope.items()}}
        if immutable:
            fields["immutable"] = True
        mode = self.via(mode)
        extra = {"output_format": v1_format} if mode.startswith("v1") else {}
        self.created(add_memories(self.mem0, texts, mode=mode, **fields, **extra), fields)

    @rule(user=st.integers(0, 2), text=TEXTS, day=expiration_dates(past=True))
    def add_expired(self, user, text, day):
        fields = {"user_id": self.owner(user), "expiration_date": day}
        self.created(add_memories(self.mem0, [text], **fields), fields, expired=True)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), text=st.none() | TEXTS, metadata=st.none() | METADATA,
          expiry=st.sampled_from(("keep", "keep", "future", "past", "clear")))
    def update(self, data, text, metadata, expiry):
        memory_id = data.draw(st.sampled_from(self.live()), label="memory")
        record = self.model[memory_id]
        changes: dict[str, Any] = {key: value for key, value in (("text", text), ("metadata", metadata))
                                   if value is not None}
        if expiry != "keep":
            changes["expiration_date"] = None if expiry == "clear" else data.draw(
                expiration_dates(past=expiry == "past"), label="expiration_date")
        if not changes:
            changes = {"text": record.expected.memory + " (updated)"}
        path, source = f"/v1/memories/{memory_id}/", operation_source("PUT /v1/memories/{memory_id}/")
        response = self.mem0.put(path, json=changes)
        if record.expected.immutable:
            refused_update(response, what=f"PUT {path} of an immutable memory", source=fact("Add", "PUT /v1/memories/{memory_id}/"))
            return
        answer = expect(response, 200, source=source)
        old = record.expected.memory
        record.expected.memory = changes.get("text", old)
        record.expected.metadata = changes.get("metadata", record.expected.metadata)
        if "expiration_date" in changes:
            record.expected.expiration_date = changes["expiration_date"]
            record.expired = expiry == "past"
        record.note("UPDATE", old, record.expected.memory)
        self.views.changed(memory_id)
        self.views.check(answer, record.expected, where=f"PUT {path}", source=source)
        if isinstance(answer, dict) and "text" in answer:
            require(answer["text"] == record.expected.memory, f"PUT {path} answers text {answer['text']!r}",
                    received=answer["text"], documented=record.expected.memory, source=source)
        self.check_history_of(memory_id)

    @precondition(lambda self: len(self.mutable()) >= 2)
    @rule(data=st.data(), text=TEXTS, metadata=st.none() | METADATA)
    def batch_update(self, data, text, metadata):
        chosen = data.draw(st.lists(st.sampled_from(self.mutable()), min_size=2, max_size=3, unique=True), label="memories")
        items = [{"memory_id": mid, "text": f"{text} #{n}", **({"metadata": metadata} if metadata is not None else {})}
                 for n, mid in enumerate(chosen)]
        expect(self.mem0.put("/v1/batch/", json={"memories": items}), 200, source=fact("Batch", "PUT /v1/batch/"))
        for item in items:
            record = self.model[item["memory_id"]]
            old = record.expected.memory
            record.expected.memory = item["text"]
            if metadata is not None:
                record.expected.metadata = metadata
            record.note("UPDATE", old, item["text"])
            self.views.changed(item["memory_id"])

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete(self, data):
        memory_id = data.draw(st.sampled_from(self.live()), label="memory")
        expect(self.mem0.delete(f"/v1/memories/{memory_id}/"), 200, 204)
        self.gone([memory_id])
        source = operation_source("DELETE /v1/memories/{memory_id}/")
        body = expect_deleted(self.mem0, memory_id, what=f"GET /v1/memories/{memory_id}/ after its delete", source=source)
        require(body, f"GET /v1/memories/{memory_id}/ of a deleted memory answers 404 with an empty body",
                received=body, documented='404 with an error body ({"error": "Memory not found!"})',
                source=fact("Ids", "GET /v1/memories/{memory_id}/"))

    @precondition(lambda self: len(self.model) >= 2)
    @rule(data=st.data())
    def batch_delete(self, data):
        chosen = data.draw(st.lists(st.sampled_from(self.live()), min_size=2, max_size=3, unique=True), label="memories")
        expect(self.mem0.request("DELETE", "/v1/batch/", json={"memories": [{"memory_id": m} for m in chosen]}), 200, 204,
               source=fact("Batch", "DELETE /v1/batch/"))
        self.gone(chosen)

    @rule(key=st.sampled_from(("user_id", "agent_id", "run_id")), index=st.integers(0, 1),
          how=st.sampled_from(("delete-all", "entity")))
    def delete_entity_memories(self, key, index, how):
        """Delete every memory of one run-prefixed entity: by delete-all with its id, or by deleting the entity (v2)."""
        name = self.users[index] if key == "user_id" else self.entities[key][index]
        if how == "delete-all":
            expect(self.mem0.delete("/v1/memories/", params={key: name}), 200, 204, source=fact("Delete-all"))
        else:
            response = self.mem0.delete(f"/v2/entities/{KINDS[key]}/{name}/")
            if not any(getattr(record.expected, key) == name for record in self.model.values()):
                expect(response, 200, 204, 404)  # an entity without memories may be gone already
            else:
                expect(response, 200, 204)
        self.gone([mid for mid, record in self.model.items() if getattr(record.expected, key) == name])

    def gone(self, memory_ids: list[str]) -> None:
        for memory_id in memory_ids:
            del self.model[memory_id]
            self.deleted[memory_id] = None

    # --- rules: reads -----------------------------------------------------------------------

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def get(self, data):
        memory_id = data.draw(st.sampled_from(self.live()), label="memory")
        path = f"/v1/memories/{memory_id}/"
        self.views.check(memory_of(self.mem0, memory_id), self.model[memory_id].expected, where=f"GET {path}",
                         source=operation_source("GET /v1/memories/{memory_id}/"))

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def check_history(self, data):
        self.check_history_of(data.draw(st.sampled_from(self.live()), label="memory"))

    def check_history_of(self, memory_id: str) -> None:
        entries = history_of(self.mem0, memory_id)
        record, label = self.model[memory_id], HISTORY.replace("{memory_id}", memory_id)
        source = fact("History", HISTORY)
        received = [(entry.get("event"), _blank(entry.get("old_memory")), _blank(entry.get("new_memory")))
                    for entry in entries]
        expected = [(entry["event"], _blank(entry["old_memory"]), _blank(entry["new_memory"])) for entry in record.history]
        require(received == expected, f"{label} holds {len(received)} entries "
                f"({', '.join(str(event) for event, *_ in received)}) instead of {len(expected)}",
                received=received, documented=f"(event, old_memory, new_memory) oldest first: {expected}", source=source)
        for entry, wanted in zip(entries, record.history, strict=True):
            shown = {"memory_id": entry.get("memory_id"), "user_id": _blank(entry.get("user_id")),
                     "metadata": entry.get("metadata") or {}}
            documented = {"memory_id": memory_id, "user_id": record.expected.user_id, "metadata": wanted["metadata"]}
            require(shown == documented, f"{label}: the {entry.get('event')} entry shows another memory, user or metadata",
                    received=shown, documented=documented, source=source)
            if entry.get("event") == "ADD":
                require(entry.get("input") == record.expected.input, f"{label}: the ADD entry shows another input",
                        received=entry.get("input"), documented=record.expected.input, source=source)
        ids = [entry.get("id") for entry in entries]
        require(len(set(ids)) == len(ids), f"{label} names {len(ids) - len(set(ids))} entries twice", received=ids,
                documented="one id per entry", source=source)

    @precondition(lambda self: self.deleted)
    @rule(data=st.data())
    def get_deleted(self, data):
        memory_id = data.draw(st.sampled_from(list(self.deleted)), label="deleted memory")
        expect_deleted(self.mem0, memory_id, what=f"GET /v1/memories/{memory_id}/ of a deleted memory",
                       source=operation_source("DELETE /v1/memories/{memory_id}/"))

    @rule(key=st.sampled_from(("user_id", "user_id", "agent_id", "app_id", "run_id")), index=st.integers(0, 2),
          version=st.sampled_from(("v1", "v2", "v3")), paged=st.booleans(),
          fields=st.none() | st.sampled_from((["memory"], ["user_id", "metadata"], ["hash", "categories"])))
    def list_one(self, key, index, version, paged, fields):
        names = self.users if key == "user_id" else self.entities[key]
        name = names[index % len(names)]
        version = self.via(version)
        size = 2 if paged else None
        found = self.listing(key, [name], version, page_size=size, fields=fields)
        self.compare(found, key, [name], LISTINGS[version], f"{key} {name}" + (f", fields {fields}" if fields else ""),
                     fields=fields)

    @rule(pair=st.sampled_from(((0, 1), (0, 2), (1, 2))), version=st.sampled_from(("v2", "v3")))
    def list_two_users(self, pair, version):
        users = [self.users[index] for index in pair]
        version = self.via(version)
        self.compare(self.listing("user_id", users, version), "user_id", users, LISTINGS[version], f"an OR of users {pair}")

    @rule(key=st.sampled_from(("user_id", "agent_id", "run_id")), index=st.integers(0, 1))
    def entity_memories(self, key, index):
        """``GET /v1/memories/{entity_type}/{entity_id}/`` lists exactly that entity's listed memories."""
        name = self.users[index] if key == "user_id" else self.entities[key][index]
        operation = "GET /v1/memories/{entity_type}/{entity_id}/"
        path = f"/v1/memories/{KINDS[key]}/{name}/"
        answer = expect(self.mem0.get(path), 200, source=operation_source(operation))
        items = results_of(answer, what=f"GET {path}", source=operation_source(operation))
        self.compare({m["id"]: m for m in items}, key, [name], operation, f"{KINDS[key]} {name}")

    @precondition(lambda self: any(not r.expired for r in self.model.values()))
    @rule(data=st.data(), scope=st.sampled_from(("own", "pair")), version=st.sampled_from(("v1", "v2", "v3")),
          top_k=st.none() | st.integers(1, 3))
    def search(self, data, scope, version, top_k):
        memory_id = data.draw(st.sampled_from([m for m, r in self.model.items() if not r.expired]),
                              label="memory whose text is the query")
        record = self.model[memory_id]
        users = [record.expected.user_id]
        if scope == "pair" and version != "v1":
            users.append(next(u for u in self.users if u != record.expected.user_id))
        version = self.via(version)
        search = SEARCHES[version]
        body: dict[str, Any] = {"query": search_query(record.expected.memory), "top_k": top_k or 100}
        if version == "v1":
            body["user_id"] = users[0]
        else:
            body["filters"] = _any_of("user_id", users)
        answer = expect(self.mem0.post(search.partition(" ")[2], json=body), 200)
        expected = self.shown("user_id", users)
        label, source = f"{search} ({scope} scope, top_k {body['top_k']})", fact(FILTERS, search)
        found = results_of(answer, what=search, source=source, envelope=True if version == "v3" else None)
        require(len(found) <= body["top_k"], f"{label} finds {len(found)} memories, more than top_k",
                received=[m.get("id") for m in found], documented=f"at most {body['top_k']}", source=source)
        scores = [m.get("score") for m in found]
        require(all(isinstance(s, int | float) and 0 <= s <= 1 for s in scores) and scores == sorted(scores, reverse=True),
                f"{label} scores {scores}", received=scores, documented="scores in [0, 1], best first", source=source)
        ids = [m.get("id") for m in found]
        require(memory_id in ids or tied_out(body["query"], ids, body["top_k"],
                                             {mid: r.expected.memory for mid, r in expected.items()}),
                f"{label} does not find the memory whose text is its query", received=ids,
                documented=f"{memory_id} among the results, unless other memories holding every word of the query "
                "take all top_k places", source=source)
        for item in found:
            require(item["id"] in expected, f"{label} finds a memory outside its filters", received=item,
                    documented=f"only memories of the users {users}", source=source, severity=Severity.CRITICAL)
            self.views.check(item, expected[item["id"]].expected, where=label, source=source)

    # --- invariant --------------------------------------------------------------------------

    @invariant()
    def listing_equals_model(self):
        """The v2 list of all three users equals the model (within the consistency wait)."""
        self.patience.wait(lambda: self.compare(self.listing("user_id", self.users, "v2"), "user_id", self.users,
                                                LISTINGS["v2"], "all users"),
                           what="the target's listing equals the model")
