"""The records a request changed in the store, and how to undo one or repeat one elsewhere.

The store holds three kinds of records: memories (with their history), Klavis sandboxes, and the
rows of the platform's tables (entities, webhooks, projects, ...), each keyed by its id. A
:class:`Snapshot` taken before a request and compared after it gives the request's changes: which
records it created, modified or deleted. The state mutants (:mod:`conformance.server.mutation`)
use them to make an operation change nothing, leave its last change out, or repeat its change on
one more record of the same kind. Events are receipts of queued work, not records: they stay.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from conformance.server.store import Memory, Store

MEMORY, SANDBOX = "memory", "sandbox"
# What a memory change can touch; ``id``, ``input`` and the times stay the record's own.
MEMORY_FIELDS = ("memory", "user_id", "agent_id", "app_id", "run_id", "metadata", "categories", "immutable",
                 "expiration_date", "sandbox_id", "options")


def _copy_memory(memory: Memory) -> Memory:
    return dataclasses.replace(memory, metadata=copy.deepcopy(memory.metadata), categories=list(memory.categories),
                               options=copy.deepcopy(memory.options))


@dataclass
class Snapshot:
    memories: dict[str, Memory]
    history: dict[str, int]  # memory id -> how many history entries it had
    sandboxes: dict[str, dict[str, Any]]
    tables: dict[str, dict[str, Any]]

    @classmethod
    def take(cls, store: Store) -> Snapshot:
        with store.lock:
            return cls({key: _copy_memory(m) for key, m in store.memories.items()},
                       {key: len(entries) for key, entries in store.history.items()},
                       copy.deepcopy(store.sandboxes),
                       {name: copy.deepcopy(rows) for name, rows in store.tables.items()})


@dataclass
class Change:
    kind: str  # memory | sandbox | table:<name>
    key: str
    how: str  # created | modified | deleted
    order: int = 0  # memories: when it changed (the store's change sequence); else its place in the table
    fields: dict[str, Any] = field(default_factory=dict)  # modified: the new value of every field that changed


def _rows(store: Store, kind: str) -> dict[str, Any]:
    if kind == MEMORY:
        return store.memories
    if kind == SANDBOX:
        return store.sandboxes
    return store.tables.setdefault(kind.removeprefix("table:"), {})


def _before_rows(snapshot: Snapshot, kind: str) -> dict[str, Any]:
    if kind == MEMORY:
        return snapshot.memories
    if kind == SANDBOX:
        return snapshot.sandboxes
    return snapshot.tables.get(kind.removeprefix("table:"), {})


def _fields(before: Any, after: Any) -> dict[str, Any]:
    if isinstance(before, Memory):
        return {name: getattr(after, name) for name in MEMORY_FIELDS if getattr(before, name) != getattr(after, name)}
    if isinstance(before, dict) and isinstance(after, dict):
        return {key: value for key, value in after.items() if before.get(key) != value}
    return {} if before == after else {"value": after}


# Tables that hold bookkeeping, not records an answer shows as such: the account's counters and seeding, and
# the numbers of platform users. ``partial`` and ``extra`` act on records; they leave these alone.
BOOKKEEPING = frozenset({"table:account", "table:platform_users"})


def changes(store: Store, snapshot: Snapshot) -> list[Change]:
    """What changed since ``snapshot``, memories in the order they changed, other records in table order."""
    found: list[Change] = []
    with store.lock:
        kinds = [MEMORY, SANDBOX, *(f"table:{name}" for name in sorted(set(store.tables) | set(snapshot.tables)))]
        for kind in kinds:
            now, before = _rows(store, kind), _before_rows(snapshot, kind)
            for position, key in enumerate([*now, *(k for k in before if k not in now)]):
                order = store.changed_at.get(key, -1) if kind == MEMORY else position
                if key not in before:
                    found.append(Change(kind, key, "created", order))
                elif key not in now:
                    found.append(Change(kind, key, "deleted", order))
                else:
                    fields = _fields(before[key], now[key])
                    grew = kind == MEMORY and len(store.history.get(key, [])) != snapshot.history.get(key, 0)
                    if fields or grew:
                        found.append(Change(kind, key, "modified", order, fields))
    found.sort(key=lambda change: (change.kind != MEMORY, change.kind, change.order))
    return found


def revert(store: Store, snapshot: Snapshot, change: Change) -> None:
    """Put one record back as it was in ``snapshot`` (a memory with its history)."""
    with store.lock:
        rows, before = _rows(store, change.kind), _before_rows(snapshot, change.kind)
        if change.key in before:
            rows[change.key] = copy.deepcopy(before[change.key]) if change.kind != MEMORY else _copy_memory(before[change.key])
        else:
            rows.pop(change.key, None)
        if change.kind == MEMORY:
            kept = snapshot.history.get(change.key, 0)
            if kept:
                del store.history[change.key][kept:]
            else:
                store.history.pop(change.key, None)


def restore(store: Store, snapshot: Snapshot) -> list[Change]:
    """Undo every change since ``snapshot``; the changes undone."""
    undone = changes(store, snapshot)
    for change in undone:
        revert(store, snapshot, change)
    return undone


def repeat(store: Store, change: Change, changed: set[str]) -> bool:
    """Apply ``change`` to one more record of its kind, the newest one it would change that is not in
    ``changed``: delete it too, change the same fields, or (for a created record) give it what the new one
    was given (a memory: the same memory under its entities); False when there is none."""
    with store.lock:
        rows = _rows(store, change.kind)
        for key in reversed(list(rows)):
            if key in changed or key == change.key:
                continue
            if _repeat_on(store, change, key, rows):
                return True
    return False


def _repeat_on(store: Store, change: Change, key: str, rows: dict[str, Any]) -> bool:
    other = rows[key]
    if change.how == "deleted":
        if change.kind == MEMORY:
            store.delete(other)
        else:
            del rows[key]
        return True
    if change.how == "modified":
        if change.kind == MEMORY:
            fields = {name: value for name, value in change.fields.items() if getattr(other, name) != value}
            if not fields and not change.fields:  # only its history grew (a rewrite of the same text)
                store.update(other)
                return True
            if not fields:
                return False
            text = fields.pop("memory", None)
            store.update(other, text=text, **fields)
            return True
        fields = {name: copy.deepcopy(value) for name, value in change.fields.items()
                  if not isinstance(other, dict) or other.get(name) != value}
        if not fields or not isinstance(other, dict):
            return False
        other.update(fields)
        return True
    if change.kind == MEMORY:  # created: the same memory under the other one's entities (and sandbox)
        made = store.memories[change.key]
        scope = {name: getattr(other, name) for name in ("user_id", "agent_id", "app_id", "run_id", "sandbox_id")}
        if scope == {name: getattr(made, name) for name in scope}:
            return False
        fields = {name: copy.deepcopy(getattr(made, name)) for name in MEMORY_FIELDS if name != "memory"}
        store.add_memories([(made.memory, {**fields, **scope})], made.input)
        return True
    made = rows.get(change.key)  # created row: what it was given, written onto the other row too
    if not isinstance(made, dict) or not isinstance(other, dict):
        return False
    fields = {name: copy.deepcopy(value) for name, value in made.items()
              if not _identity(name) and other.get(name) != value}
    if not fields:
        return False
    other.update(fields)
    return True


def _identity(name: str) -> bool:
    """A field that says which record this is, or when it began: never copied onto another record."""
    return name in ("id", "type", "created_at", "generation") or name.endswith("_id")
