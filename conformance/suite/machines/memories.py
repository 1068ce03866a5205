"""The Mem0 memory lifecycle as a rule machine beside a plain model.

The model is a dict ``id -> Record`` of the memories the machine created and has not deleted,
the history it expects for each, and the set of deleted ids. Three fresh run-prefixed users
share the machine, so that every list and search can show a leak from one user to another.

Rules change the target and the model together and check what the step itself promises (an
add stores the text verbatim, an update adds one UPDATE to the history, a deleted memory is
404). The invariant compares the target's listing of all three users with the model after
every step, waiting at most the target's consistency wait for queued work to show
(FACTS.md: Add, List/search filters, Pagination, History, expiration_date).

The invariants are the seed documents' own: on a target without the ``v3`` capability every
step goes through the seed's operations (v1 add, v2 list and search), and queued adds only
where the target has the ``events`` capability to follow them (:meth:`MemoryLifecycle.via`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)

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
from conformance.suite.sources import FILTERS
from conformance.suite.support import Patience, expect
from conformance.verdicts import Severity, fact, operation_source, require
from strategies.memories import expiration_dates, memory_texts, metadatas

TEXTS = memory_texts()
METADATA = metadatas()
LISTINGS = {"v1": "GET /v1/memories/", "v2": "POST /v2/memories/", "v3": "POST /v3/memories/"}
SEARCHES = {"v2": "POST /v2/memories/search/", "v3": "POST /v3/memories/search/"}


@dataclass
class Record:
    user: str
    text: str
    metadata: dict[str, Any]
    expired: bool = False
    history: list[tuple[str, str | None]] = field(default_factory=list)  # (event, new text)

    def view(self) -> tuple[str, str, dict[str, Any]]:
        return self.user, self.text, self.metadata


def _view(memory: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    return memory.get("user_id"), memory.get("memory"), memory.get("metadata") or {}


def _any_of(users: list[str]) -> dict[str, Any]:
    return {"OR": [{"user_id": user} for user in users]} if len(users) > 1 else {"user_id": users[0]}


class MemoryLifecycle(RuleBasedStateMachine):
    """Add, read, update, delete, history, list and search, compared with a model after every step."""

    memories = Bundle("memories")

    def __init__(self, *, mem0: ApiClient, users: list[str], register: Callable[[str], None],
                 patience: Patience, capabilities: frozenset[str] = frozenset({"v3", "events"})) -> None:
        super().__init__()
        self.mem0 = mem0
        self.capabilities = capabilities
        self.patience = patience
        self.users = users
        self.register = register  # called before the first memory of a user is added (cleanup)
        self.model: dict[str, Record] = {}
        self.deleted: set[str] = set()

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

    def shown(self, users: list[str]) -> dict[str, tuple[str, str, dict[str, Any]]]:
        """What list and search may show for these users: their live memories that have not expired."""
        return {mid: r.view() for mid, r in self.model.items() if r.user in users and not r.expired}

    def compare(self, got: dict[str, dict[str, Any]], users: list[str], operation: str, what: str) -> None:
        """``got`` (the listing ``operation`` answered, ``what`` it was) equals the model of ``users``."""
        expected = self.shown(users)
        actual = {mid: _view(memory) for mid, memory in got.items()}
        label, source = f"{operation} ({what})", fact(FILTERS, operation)
        deleted = sorted(set(actual) & self.deleted)
        require(not deleted, f"{label} lists {len(deleted)} deleted memories", received={m: actual[m] for m in deleted},
                documented="deleted memories are never listed", source=source, severity=Severity.CRITICAL)
        expired = sorted(mid for mid in actual if mid in self.model and self.model[mid].expired)
        require(not expired, f"{label} lists {len(expired)} memories past their expiration_date",
                received={m: actual[m] for m in expired}, documented="expired memories are hidden from list and search",
                source=fact("expiration_date", operation))
        strangers = sorted(mid for mid in actual if mid not in expected)
        require(not strangers, f"{label} lists {len(strangers)} memories of other users (or unknown ones)",
                received=[actual[m] for m in strangers], documented=f"only memories of the users {users}",
                source=source, severity=Severity.CRITICAL)
        missing = sorted(set(expected) - set(actual))
        require(not missing, f"{label} misses {len(missing)} of the {len(expected)} memories of its users",
                received=sorted(actual.values(), key=repr), documented=[expected[m] for m in missing], source=source)
        changed = {mid: (actual[mid], expected[mid]) for mid in expected if actual[mid] != expected[mid]}
        require(not changed, f"{label} shows {len(changed)} memories with another (user, text, metadata)",
                received={mid: pair[0] for mid, pair in changed.items()},
                documented={mid: pair[1] for mid, pair in changed.items()}, source=source, severity=Severity.CRITICAL)

    def listing(self, users: list[str], version: str) -> dict[str, dict[str, Any]]:
        """One unpaginated list: v1 (one user, query parameters) or v2 (the filter language, a bare array)."""
        operation = LISTINGS[version]
        if version == "v1":
            (user,) = users
            answer = expect(self.mem0.get("/v1/memories/", params={"user_id": user}), 200)
        else:
            answer = expect(self.mem0.post("/v2/memories/", json={"filters": _any_of(users)}), 200)
        source = fact("Pagination", operation)
        items = results_of(answer, what=f"{operation} without page parameters", source=source, envelope=False)
        found = {memory["id"]: memory for memory in items}
        require(len(found) == len(items), f"{operation} names {len(items) - len(found)} memories twice",
                received=[memory["id"] for memory in items], documented="each memory once", source=source)
        return found

    def owner(self, index: int) -> str:
        user = self.users[index]
        if not any(record.user == user for record in self.model.values()):
            self.register(user)
        return user

    def record(self, created: list[tuple[str, str]], user: str, metadata: dict[str, Any], *, expired: bool = False):
        for memory_id, text in created:
            self.model[memory_id] = Record(user, text, metadata, expired, [("ADD", text)])
        return multiple(*(memory_id for memory_id, _ in created))

    # --- rules ------------------------------------------------------------------------------

    @rule(target=memories, user=st.integers(0, 2), texts=st.lists(TEXTS, min_size=1, max_size=3),
          metadata=METADATA, mode=st.sampled_from(ADD_MODES))
    def add(self, user, texts, metadata, mode):
        owner = self.owner(user)
        created = add_memories(self.mem0, texts, mode=self.via(mode), user_id=owner, metadata=metadata)
        return self.record(created, owner, metadata)

    @rule(target=memories, user=st.integers(0, 2), text=TEXTS, day=expiration_dates(past=True))
    def add_expired(self, user, text, day):
        owner = self.owner(user)
        created = add_memories(self.mem0, [text], user_id=owner, expiration_date=day)
        return self.record(created, owner, {}, expired=True)

    @rule(memory_id=memories)
    def get(self, memory_id):
        memory = memory_of(self.mem0, memory_id)
        require(_view(memory) == self.model[memory_id].view(),
                f"GET /v1/memories/{memory_id}/ shows another (user, text, metadata)", received=_view(memory),
                documented=self.model[memory_id].view(), source=operation_source("GET /v1/memories/{memory_id}/"),
                severity=Severity.CRITICAL)

    @rule(memory_id=memories, text=st.none() | TEXTS, metadata=st.none() | METADATA)
    def update(self, memory_id, text, metadata):
        record = self.model[memory_id]
        changes = {key: value for key, value in (("text", text), ("metadata", metadata)) if value is not None}
        if not changes:
            changes = {"text": record.text + " (updated)"}
        expect(self.mem0.put(f"/v1/memories/{memory_id}/", json=changes), 200)
        record.text = changes.get("text", record.text)
        record.metadata = changes.get("metadata", record.metadata)
        record.history.append(("UPDATE", record.text))
        self.check_history(memory_id)

    @rule(memory_id=consumes(memories))
    def delete(self, memory_id):
        expect(self.mem0.delete(f"/v1/memories/{memory_id}/"), 200, 204)
        del self.model[memory_id]
        self.deleted.add(memory_id)
        source = operation_source("DELETE /v1/memories/{memory_id}/")
        body = expect_deleted(self.mem0, memory_id, what=f"GET /v1/memories/{memory_id}/ after its delete", source=source)
        require(body, f"GET /v1/memories/{memory_id}/ of a deleted memory answers 404 with an empty body",
                received=body, documented='404 with an error body ({"error": "Memory not found!"})',
                source=fact("Ids", "GET /v1/memories/{memory_id}/"))

    @rule(memory_id=memories)
    def check_history(self, memory_id):
        received = [(entry["event"], entry.get("new_memory")) for entry in history_of(self.mem0, memory_id)]
        expected = self.model[memory_id].history
        require(received == expected, f"GET /v1/memories/{memory_id}/history/ holds {len(received)} entries "
                f"({', '.join(event for event, _ in received)}) instead of {len(expected)}",
                received=received, documented=f"(event, new_memory) oldest first: {expected}",
                source=fact("History", "GET /v1/memories/{memory_id}/history/"))

    @precondition(lambda self: self.deleted)
    @rule(data=st.data())
    def get_deleted(self, data):
        memory_id = data.draw(st.sampled_from(sorted(self.deleted)), label="deleted memory")
        expect_deleted(self.mem0, memory_id, what=f"GET /v1/memories/{memory_id}/ of a deleted memory",
                       source=operation_source("DELETE /v1/memories/{memory_id}/"))

    @rule(user=st.integers(0, 2), version=st.sampled_from(("v1", "v2")))
    def list_one_user(self, user, version):
        users = [self.users[user]]
        self.compare(self.listing(users, version), users, LISTINGS[version], f"user {user}")

    @rule(pair=st.sampled_from(((0, 1), (0, 2), (1, 2))), version=st.sampled_from(("v2", "v3")))
    def list_two_users(self, pair, version):
        users = [self.users[index] for index in pair]
        version = self.via(version)
        if version == "v2":
            found = self.listing(users, "v2")
        else:
            found = {m["id"]: m for page in pages(self.mem0, "v3", _any_of(users), 100) for m in page}
        self.compare(found, users, LISTINGS[version], f"an OR of users {pair}")

    @precondition(lambda self: any(len(self.shown([user])) >= 2 for user in self.users))
    @rule(data=st.data(), version=st.sampled_from(("v2", "v3")))
    def paginate(self, data, version):
        version = self.via(version)
        user = data.draw(st.sampled_from([u for u in self.users if len(self.shown([u])) >= 2]), label="user")
        size = data.draw(st.integers(1, len(self.shown([user])) - 1), label="page_size")
        seen: dict[str, dict[str, Any]] = {}
        for number, page in enumerate(pages(self.mem0, version, {"user_id": user}, size), start=1):
            again = sorted(seen.keys() & {m["id"] for m in page})
            require(not again, f"{LISTINGS[version]} page {number} (page_size {size}) repeats {len(again)} memories "
                    "of earlier pages", received=again, documented="each memory on exactly one page",
                    source=fact("Pagination", LISTINGS[version]))
            seen.update((m["id"], m) for m in page)
        self.compare(seen, [user], LISTINGS[version], f"pages of size {size}")

    @precondition(lambda self: self.model)
    @rule(data=st.data(), scope=st.sampled_from(("own", "pair")), version=st.sampled_from(("v2", "v3")))
    def search(self, data, scope, version):
        memory_id = data.draw(st.sampled_from(sorted(self.model)), label="memory whose text is the query")
        record = self.model[memory_id]
        users = [record.user] if scope == "own" else [record.user, next(u for u in self.users if u != record.user)]
        version = self.via(version)
        search = SEARCHES[version]
        answer = expect(self.mem0.post(search.partition(" ")[2], json={
            "query": record.text[:500], "filters": _any_of(users), "top_k": 100}), 200)
        expected = self.shown(users)
        label, source = f"{search} ({scope} scope)", fact(FILTERS, search)
        for found in results_of(answer, what=search, source=source, envelope=version == "v3"):
            require(found["id"] not in self.deleted, f"{label} finds the deleted memory {found['id']}",
                    received=found, documented="deleted memories are never found", source=source,
                    severity=Severity.CRITICAL)
            require(not (found["id"] in self.model and self.model[found["id"]].expired),
                    f"{label} finds the memory {found['id']} past its expiration_date", received=found,
                    documented="expired memories are hidden from list and search",
                    source=fact("expiration_date", search))
            require(found["id"] in expected, f"{label} finds a memory outside its filters", received=_view(found),
                    documented=f"only memories of the users {users}", source=source, severity=Severity.CRITICAL)
            require(_view(found) == expected[found["id"]], f"{label} shows another (user, text, metadata) "
                    f"for {found['id']}", received=_view(found), documented=expected[found["id"]], source=source,
                    severity=Severity.CRITICAL)

    # --- invariant --------------------------------------------------------------------------

    @invariant()
    def listing_equals_model(self):
        """The v2 list of all three users equals the model (within the consistency wait)."""
        self.patience.wait(lambda: self.compare(self.listing(self.users, "v2"), self.users, LISTINGS["v2"], "all users"),
                           what="the target's listing equals the model")
