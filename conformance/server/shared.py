"""One reference server's state shared by several processes (``serve --workers N``), through SQLite.

The in-memory :class:`~conformance.server.store.Store` stays the store each worker works on; a
:class:`SharedState` makes every request one SQLite transaction around it:

1. ``BEGIN IMMEDIATE`` takes the database's write lock, so requests of all workers run one at a
   time, as they do on a single worker;
2. when another worker wrote since this one last looked (a version number), this worker reads
   what changed: the memories and events written since its version, and the rest of the state
   (sandboxes and the platform's tables, one small record) when it differs;
3. the request runs on the store; queued work settles when its request ends, rather than on the
   next request (the answer has already said PENDING), so no callable has to be written;
4. what the request changed is written back with the next version: the memories (with their
   history) and events the store's methods marked as touched, and the rest when it differs;
   ``COMMIT`` releases the lock.

Each memory is one row (its object and its history, pickled), and so is each event; a deleted
memory keeps its row, without the object, for its history. Rows carry a sequence number, so every
worker lists memories in the one creation order. The tables are indexed by version (what changed
since) and by sequence number (the next one); each worker's store indexes its memories by entity
and sandbox (:class:`~conformance.server.store.MemoryTable`), as a single server's does. The database is in WAL mode (the standard
library's ``sqlite3``); a file in a temporary folder by default, or ``--state FILE`` to keep the
state between restarts.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conformance.server.store import MemoryTable, Store

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, rest BLOB)",
    "CREATE TABLE IF NOT EXISTS memories (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, version INTEGER NOT NULL, "
    "memory BLOB, history BLOB)",
    "CREATE INDEX IF NOT EXISTS memories_by_version ON memories (version)",
    "CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, version INTEGER NOT NULL, "
    "event BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_by_version ON events (version)",
    # the next sequence number of a new row (MAX(seq)) is read off these, not found by a scan of the table
    "CREATE INDEX IF NOT EXISTS memories_by_seq ON memories (seq)",
    "CREATE INDEX IF NOT EXISTS events_by_seq ON events (seq)",
)


class StateError(RuntimeError):
    """The state file cannot be used; the message is one sentence."""


def _dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(data: bytes) -> Any:
    return pickle.loads(data)  # noqa: S301 - the server's own file, written by itself


class SharedState:
    def __init__(self, path: Path, *, timeout: float = 60.0) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                self.db.execute(statement)
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{path} cannot hold the reference server's state: {exc}") from None
        self.version = -1  # the version this process's store holds; -1: none yet
        self.rest = b""  # the rest of the state as last read or written
        self.seqs: dict[str, dict[str, int]] = {"memories": {}, "events": {}}  # row ids known, with their order
        self.lock = threading.Lock()  # one transaction at a time per process (the connection is shared)

    @contextmanager
    def transaction(self, store: Store) -> Iterator[None]:
        """Run the block on ``store`` as the newest shared state, and share what it changed."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                row = self.db.execute("SELECT version, rest FROM meta WHERE id = 1").fetchone()
                if row is None:
                    self.db.execute("INSERT INTO meta (id, version, rest) VALUES (1, 0, ?)", (self._rest(store),))
                    row = (0, self._rest(store))
                if row[0] != self.version:
                    self._catch_up(store, row[0], row[1])
                store.touched.clear()
                store.touched_events.clear()
                yield
                store.settle(everything=True)
                self._write(store)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                self.version = -1  # what this process holds may be half changed: read it all again next time
                raise

    @staticmethod
    def _rest(store: Store) -> bytes:
        return _dumps({"sandboxes": store.sandboxes, "tables": store.tables})

    def _catch_up(self, store: Store, version: int, rest: bytes) -> None:
        with store.lock:
            if self.version < 0:  # from scratch
                store.memories, store.history, store.events, store.pending = MemoryTable(), {}, {}, {}
                self.seqs = {"memories": {}, "events": {}}
                self.rest = b""
            since = self.version
            for ident, seq, memory, history in self.db.execute(
                    "SELECT id, seq, memory, history FROM memories INDEXED BY memories_by_version WHERE version > ? "
                    "ORDER BY seq", (since,)):
                self.seqs["memories"][ident] = seq
                if memory is None:
                    store.memories.pop(ident, None)
                else:
                    store.memories[ident] = _loads(memory)
                if history is None:
                    store.history.pop(ident, None)
                else:
                    store.history[ident] = _loads(history)
            for ident, seq, event in self.db.execute(
                    "SELECT id, seq, event FROM events INDEXED BY events_by_version WHERE version > ? ORDER BY seq", (since,)):
                self.seqs["events"][ident] = seq
                store.events[ident] = _loads(event)
            if rest != self.rest:
                loaded = _loads(rest)
                store.sandboxes, store.tables = loaded["sandboxes"], loaded["tables"]
                self.rest = rest
            self.version = version

    def _write(self, store: Store) -> None:
        version = self.version + 1
        rest = self._rest(store)
        changed = rest != self.rest
        memories = [ident for ident in store.touched if ident in store.memories or ident in store.history
                    or ident in self.seqs["memories"]]
        if memories:
            order = self._order("memories", memories, store.memories)
            self.db.executemany(
                "INSERT INTO memories (id, seq, version, memory, history) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO "
                "UPDATE SET version = excluded.version, memory = excluded.memory, history = excluded.history",
                [(ident, order[ident], version,
                  _dumps(store.memories[ident]) if ident in store.memories else None,
                  _dumps(store.history[ident]) if ident in store.history else None) for ident in memories])
            changed = True
        events = [ident for ident in store.touched_events if ident in store.events]
        if events:
            order = self._order("events", events, store.events)
            self.db.executemany(
                "INSERT INTO events (id, seq, version, event) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO "
                "UPDATE SET version = excluded.version, event = excluded.event",
                [(ident, order[ident], version, _dumps(store.events[ident])) for ident in events])
            changed = True
        if changed:
            self.db.execute("UPDATE meta SET version = ?, rest = ? WHERE id = 1", (version, rest))
            self.version, self.rest = version, rest

    def _order(self, table: str, idents: list[str], held: dict[str, Any]) -> dict[str, int]:
        """The sequence number of each row: kept for a known one, the next ones for new rows, in the
        order the store holds them (its creation order)."""
        known = self.seqs[table]
        missing = set(idents) - known.keys()
        new = [ident for ident in held if ident in missing] if missing else []
        new += sorted(missing - set(new))  # gone again within the request: after the rest
        if new:
            (last,) = self.db.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {table}").fetchone()  # noqa: S608
            for offset, ident in enumerate(new, start=1):
                known[ident] = last + offset
        return {ident: known[ident] for ident in idents}

    def close(self) -> None:
        self.db.close()
