"""The reference server's state: one in-memory store behind one lock.

Memories are shared by both APIs: a Klavis sandbox's data is the set of memories whose
``sandbox_id`` is that sandbox, served through the Mem0 API like any other memory.

Extraction rule (``infer``), since no LLM runs here:
- ``infer=false``: every message with non-empty content (any role but ``system``) becomes one
  memory whose text is that content, verbatim;
- ``infer=true``: every ``user`` message with non-blank content becomes one memory whose text is
  that content with surrounding white space removed; other roles add nothing.

Reads cost what they ask for, not what the store holds: :class:`MemoryTable` keeps the memories
in creation order with an index by entity id (``user_id``, ``agent_id``, ``app_id``, ``run_id``)
and by sandbox, so a list, search, dump or delete of one entity or sandbox looks only at its own.

Background processing: an add in async mode answers with a PENDING event; its memories come
into existence when the event settles, ``processing_delay`` seconds later (checked at the start
of every request, so nothing runs in the background).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from conformance.apis import ENTITY_KEYS


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def text_hash(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "surrogatepass")).hexdigest()


class Memo(dict):
    """A pure function's results by argument, read by subscript (``ISO_OF[moment]``): a hit is a dict's own lookup,
    about a third of the time of a call to ``functools.lru_cache``'s, which counts where a list of 50 memories reads
    150 of them; a miss calls the function (``__missing__``). At most ``size`` results: when full, all are forgotten
    at once (one call of the dict's, safe between threads, where forgetting the oldest takes two)."""

    __slots__ = ("function", "size")

    def __init__(self, function: Callable[[Any], Any], size: int) -> None:
        super().__init__()
        self.function, self.size = function, size

    def __missing__(self, key: Any) -> Any:
        if len(self) >= self.size:
            self.clear()
        value = self[key] = self.function(key)
        return value


# A memory's times and its text's hash are read far more often than they change (every list shows them). A moment
# made for one answer (``iso(now())``) is rendered by ``iso`` itself: it would only push those out.
ISO_OF = Memo(iso, 8192)
HASH_OF = Memo(text_hash, 8192)


JSON_LEAVES = frozenset({str, int, float, bool, type(None)})  # JSON values that cannot change: shared, not copied


def json_copy(value: Any) -> Any:
    """A copy of JSON data (objects and arrays copied, the rest shared: it cannot change), several times as fast
    as ``copy.deepcopy``, which keeps a memo for cycles and shared parts that JSON data does not have. A leaf is
    taken as it is without a call (most of what a memory holds is strings)."""
    kind = type(value)
    if kind is dict:
        return {key: item if type(item) in JSON_LEAVES else json_copy(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in JSON_LEAVES else json_copy(item) for item in value]
    return value if kind in JSON_LEAVES else copy.deepcopy(value)


_VARIANT = "89ab" * 4  # the RFC 4122 variant's nibble (10xx) for each random nibble


def new_id() -> str:
    """A random (version 4) UUID as text: what ``str(uuid.uuid4())`` gives, from the same 16 random bytes of the
    system, in two fifths of its time (an add asks for two, its memory's and its history entry's)."""
    digits = os.urandom(16).hex()
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{_VARIANT[int(digits[16], 16)]}{digits[17:20]}-{digits[20:]}"


@dataclass(slots=True)  # slots: a memory costs its fields, not a dict of them (bench/: per stored memory)
class Memory:
    id: str
    memory: str
    input: list[dict[str, Any]]
    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None
    metadata: dict[str, Any] | None = None
    categories: list[str] = field(default_factory=list)
    immutable: bool = False
    expiration_date: str | None = None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    sandbox_id: str | None = None
    # add options a Klavis dump gives back (include_preferences, category_definitions, ...)
    options: dict[str, Any] = field(default_factory=dict)

    def __setstate__(self, state: Any) -> None:
        """Unpickle, also what a state file of an earlier version holds (a memory with a ``__dict__``)."""
        fields = state[1] if isinstance(state, tuple) else state
        for name, value in (fields or {}).items():
            object.__setattr__(self, name, value)

    def is_expired(self, today: date | None = None) -> bool:
        if not self.expiration_date:
            return False
        return date.fromisoformat(self.expiration_date) < (today or now().date())

    def to_api(self) -> dict[str, Any]:
        """The memory as the Mem0 API shows it (components/schemas/Memory). Spelt out, the entity ids too (in the
        order of ``ENTITY_KEYS``, which a test holds them to): every memory of a list asks, and this is half the time
        of the same built from those names."""
        metadata = self.metadata
        return {
            "id": self.id,
            "memory": self.memory,
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "app_id": self.app_id,
            "run_id": self.run_id,
            "hash": HASH_OF[self.memory],
            "metadata": None if metadata is None else json_copy(metadata),
            "categories": list(self.categories),
            "immutable": self.immutable,
            "expiration_date": self.expiration_date,
            "created_at": ISO_OF[self.created_at],
            "updated_at": ISO_OF[self.updated_at],
        }


@dataclass
class Event:
    id: str
    kind: str  # ADD | DELETE ...
    status: str  # PENDING | RUNNING | SUCCEEDED | FAILED
    created_at: datetime
    settle_at: float  # time.monotonic() when it settles
    apply: Callable[[], list[dict[str, Any]]] | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    updated_at: datetime = field(default_factory=now)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_type": self.kind,
            "status": self.status,
            "results": json_copy(self.results),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


def extract(messages: Iterable[dict[str, Any]], *, infer: bool) -> list[tuple[str, dict[str, Any]]]:
    """The memories an add creates: ``(text, source message)`` by the documented rule."""
    found = []
    for message in messages:
        content = message.get("content")
        role = message.get("role")
        if not isinstance(content, str):
            continue
        if infer:
            if role == "user" and content.strip():
                found.append((content.strip(), message))
        elif role != "system" and content != "":
            found.append((content, message))
    return found


class NotFound(LookupError):
    pass


INDEXED = (*ENTITY_KEYS, "sandbox_id")  # the fields a memory is found by


class MemoryTable(dict):
    """The memories by id, in creation order (a dict's), with an index of the :data:`INDEXED` fields.

    Every way into or out of the dict keeps the index (the shared state and the mutation records
    write it directly); a memory whose indexed fields change in place is re-indexed by the store
    (:meth:`Store.update`). A replaced memory keeps its place, as a dict key does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.position: dict[str, int] = {}  # id -> its place in creation order
        self.index: dict[tuple[str, str], dict[str, Memory]] = {}  # (field, value) -> its memories by id
        self._places = itertools.count()
        self.update(*args, **kwargs)

    def _add(self, key: str, memory: Memory) -> None:
        """Index ``memory`` under each of its fields' values. A bucket holds the memories themselves (a read takes
        them without looking each up by id) in creation order (what a read answers in), so a read takes them as
        they are: a new memory comes last, and one that comes back to a bucket (its field changed back, or it was
        replaced) is put in its place."""
        position = self.position
        for name in INDEXED:
            value = getattr(memory, name)
            if isinstance(value, str):
                bucket = self.index.setdefault((name, value), {})
                late = bool(bucket) and position[next(reversed(bucket))] > position[key]
                bucket[key] = memory
                if late:
                    self.index[(name, value)] = {id_: bucket[id_] for id_ in sorted(bucket, key=position.__getitem__)}

    def _remove(self, key: str, values: dict[str, Any]) -> None:
        for name, value in values.items():
            bucket = self.index.get((name, value)) if isinstance(value, str) else None
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self.index[(name, value)]

    def __setitem__(self, key: str, memory: Memory) -> None:
        old = dict.get(self, key)
        if old is not None:
            self._remove(key, {name: getattr(old, name) for name in INDEXED})
        else:
            self.position[key] = next(self._places)
        dict.__setitem__(self, key, memory)
        self._add(key, memory)

    def __delitem__(self, key: str) -> None:
        memory = dict.pop(self, key)
        self._remove(key, {name: getattr(memory, name) for name in INDEXED})
        del self.position[key]

    _MISSING = object()

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        if key in self:
            memory = dict.__getitem__(self, key)
            del self[key]
            return memory
        if default is self._MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[str, Memory]:
        key = next(reversed(self))
        return key, self.pop(key)

    def clear(self) -> None:
        dict.clear(self)
        self.position.clear()
        self.index.clear()

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, memory in dict(*args, **kwargs).items():
            self[key] = memory

    def moved(self, key: str, before: dict[str, Any]) -> None:
        """Re-index the memory ``key`` whose indexed fields were ``before`` (changed in place)."""
        self._remove(key, before)
        self._add(key, dict.__getitem__(self, key))

    def having(self, required: dict[str, Any]) -> list[Memory]:
        """The memories whose fields equal ``required`` (all of them), in creation order.

        Indexed fields with a value are looked up (the smallest set first), the rest tested one by one."""
        looked = {name: value for name, value in required.items() if name in INDEXED and isinstance(value, str)}
        if not looked:
            candidates: Iterable[Memory] = self.values()
        else:
            sets = [self.index.get((name, value), {}) for name, value in looked.items()]
            candidates = list(min(sets, key=len).values())  # in creation order (_add)
        rest = [(name, value) for name, value in required.items() if name not in looked]
        if not rest and len(looked) <= 1:
            return candidates if looked else list(candidates)
        return [m for m in candidates if all(getattr(m, name) == value for name, value in required.items())]

    def values_of(self, name: str) -> list[str]:
        """The distinct values of an indexed field, in no particular order."""
        return [value for field_name, value in self.index if field_name == name]

    def __reduce__(self) -> Any:  # a plain dict on the wire: the index is rebuilt where it is read
        return (MemoryTable, (dict(self),))


class Store:
    """All state of one reference server. Every public method takes the lock."""

    def __init__(self, processing_delay: float = 0.0) -> None:
        self.lock = threading.RLock()
        self.processing_delay = processing_delay
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.memories: MemoryTable = MemoryTable()
            self.history: dict[str, list[dict[str, Any]]] = {}
            self.events: dict[str, Event] = {}
            self.pending: dict[str, Event] = {}  # the events with queued work still to apply
            self.sandboxes: dict[str, dict[str, Any]] = {}
            # Plain tables for the platform's peripheral resources, keyed by id.
            self.tables: dict[str, dict[str, dict[str, Any]]] = {}
            # Memories (or their history) and events changed since the last clear: what a state
            # shared between processes writes back (conformance/server/shared.py)
            self.touched: set[str] = set()
            self.touched_events: set[str] = set()
            # When each memory last changed, in the order of the changes (what a planted mutant that skips
            # "the last" change of a request reads: conformance/server/records.py)
            self.changes = itertools.count()
            self.changed_at: dict[str, int] = {}

    def table(self, name: str) -> dict[str, dict[str, Any]]:
        with self.lock:
            return self.tables.setdefault(name, {})

    # --- background processing -----------------------------------------------------------

    def settle(self, *, everything: bool = False) -> None:
        """Apply every pending event whose time has come; with ``everything``, every pending event that
        ever settles (a state shared between processes holds no queued work: see ``shared.py``)."""
        if not self.pending:  # the usual case, asked at every request: nothing queued
            return
        with self.lock:
            moment = math.inf if everything else time.monotonic()
            for event in list(self.pending.values()):
                if everything and math.isinf(event.settle_at):
                    if event.apply is not None:  # it never settles (a planted fault): PENDING for good
                        event.apply = None
                        self.touched_events.add(event.id)
                    del self.pending[event.id]
                    continue
                if event.status in ("PENDING", "RUNNING") and event.settle_at <= moment and event.apply is not None:
                    del self.pending[event.id]
                    try:
                        event.results = event.apply()
                        event.status = "SUCCEEDED"
                    except Exception as exc:  # a bug in queued work fails its event, not every later request
                        event.results = [{"error": f"{type(exc).__name__}: {exc}"}]
                        event.status = "FAILED"
                    event.updated_at = now()
                    event.apply = None
                    self.touched_events.add(event.id)

    def schedule(self, kind: str, apply: Callable[[], list[dict[str, Any]]], *, delay: float | None = None) -> Event:
        """A PENDING event that runs ``apply`` once it settles."""
        with self.lock:
            wait = self.processing_delay if delay is None else delay
            event = Event(new_id(), kind, "PENDING", now(), time.monotonic() + wait, apply)
            self.events[event.id] = event
            self.pending[event.id] = event
            self.touched_events.add(event.id)
            return event

    # --- memories ----------------------------------------------------------------------------

    def add_memory(self, text: str, source: list[dict[str, Any]], **fields: Any) -> Memory:
        (memory,) = self.add_memories([(text, fields)], source)
        return memory

    def add_memories(self, planned: list[tuple[str, dict[str, Any]]], source: list[dict[str, Any]]) -> list[Memory]:
        """Store the memories of one add, all or none: ``(text, fields)`` each, one shared ``source``.

        The add's input (its conversation) is copied once and shared, read-only, by its memories
        and their history entries, so an add of N messages costs N memories, not N conversations.
        Everything is built before anything is stored; if storing fails partway (say, out of
        memory), what was stored is taken out again and the error goes to the caller.
        """
        shared = json_copy(source)
        moment = now()  # made and last changed at once, as the platform answers (and one time object, not two)
        memories = [Memory(id=new_id(), memory=text, input=shared, **{"created_at": moment, "updated_at": moment,
                                                                        **json_copy(fields)})
                    for text, fields in planned]
        with self.lock:
            stored: list[Memory] = []
            try:
                for memory in memories:
                    self.memories[memory.id] = memory
                    stored.append(memory)
                    self.record(memory, "ADD", old=None, new=memory.memory, at=moment)
            except BaseException:
                for memory in stored:
                    self.memories.pop(memory.id, None)
                    self.history.pop(memory.id, None)
                    self.touched.discard(memory.id)
                raise
            return memories

    def get(self, memory_id: str) -> Memory:
        with self.lock:
            try:
                return self.memories[memory_id]
            except KeyError:
                raise NotFound(memory_id) from None

    def update(self, memory: Memory, *, text: str | None = None, metadata: Any = ..., **fields: Any) -> Memory:
        """Change a memory and record history (callers check immutability first)."""
        with self.lock:
            old = memory.memory
            indexed = {name: getattr(memory, name) for name in INDEXED}
            if text is not None:
                memory.memory = text
            if metadata is not ...:
                memory.metadata = json_copy(metadata)
            for key, value in fields.items():
                setattr(memory, key, json_copy(value))
            if memory.id in self.memories and any(getattr(memory, name) != indexed[name] for name in indexed):
                self.memories.moved(memory.id, indexed)
            memory.updated_at = moment = now()
            self.record(memory, "UPDATE", old=old, new=memory.memory, at=moment)
            return memory

    def delete(self, memory: Memory) -> None:
        with self.lock:
            self.memories.pop(memory.id, None)
            self.record(memory, "DELETE", old=memory.memory, new=None)

    def forget(self, memory_id: str) -> None:
        """Take a memory out without a history entry (what a planted fault does)."""
        with self.lock:
            self.memories.pop(memory_id, None)
            self.touched.add(memory_id)

    def record(self, memory: Memory, event: str, *, old: str | None, new: str | None, at: datetime | None = None
               ) -> None:
        """A history entry of ``memory``'s change, made ``at`` (the time the change gave the memory; now if none)."""
        with self.lock:
            self.touched.add(memory.id)  # every change of a memory (add, update, delete) is recorded here
            self.changed_at[memory.id] = next(self.changes)
            # One text for both times (each entry is kept: bench/, memory per stored memory), the memory's own.
            moment = ISO_OF[at] if at is not None else iso(now())
            self.history.setdefault(memory.id, []).append({
                "id": new_id(),
                "memory_id": memory.id,
                "input": memory.input,  # shared with the memory, never changed
                "old_memory": old,
                "new_memory": new,
                "user_id": memory.user_id,
                "event": event,
                "metadata": json_copy(memory.metadata),
                "created_at": moment,
                "updated_at": moment,
            })

    def select(self, predicate: Callable[[Memory], bool] | None = None, **required: Any) -> list[Memory]:
        """Memories whose fields equal ``required`` (looked up in the index) and that match ``predicate``,
        oldest first (creation order is the stable order)."""
        with self.lock:
            found = self.memories.having(required)
            return found if predicate is None else [m for m in found if predicate(m)]

    def history_of(self, memory_id: str) -> list[dict[str, Any]]:
        with self.lock:
            if memory_id not in self.history:
                raise NotFound(memory_id)
            # Entries are never changed once recorded (their metadata is a copy, their input the memory's
            # own, never changed either): a copy of the list is all a reader needs, not of each entry.
            return list(self.history[memory_id])
