"""One reference server's state shared by several processes (``serve --workers N``), through SQLite.

The in-memory :class:`~conformance.server.store.Store` stays the store each worker works on; a
:class:`SharedState` makes every request one SQLite transaction around it:

1. ``BEGIN IMMEDIATE`` takes the database's write lock, so requests of all workers run one at a
   time, as they do on a single worker;
2. when another worker changed the state since this one last saw it (a version number in the
   row), the state is loaded from the database;
3. the request runs on the store, queued work included (it settles when its request ends, rather
   than on the next request: the answer has already said PENDING);
4. the state is written back when it changed (its pickled bytes differ), with the next version;
   ``COMMIT`` releases the lock.

The database is in WAL mode (the standard library's ``sqlite3``); a file in a temporary folder by
default, or ``--state FILE`` to keep the state between restarts. A whole-state snapshot per change
is simple and always consistent; its cost grows with the state (pickling 10,000 memories takes a
few milliseconds), which suits a reference server several CI jobs share, not a production store.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conformance.server.store import Store

_SCHEMA = "CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, data BLOB)"
_FIELDS = ("memories", "history", "events", "sandboxes", "tables")  # what a Store holds (not its lock)


class StateError(RuntimeError):
    """The state file cannot be used; the message is one sentence."""


class SharedState:
    def __init__(self, path: Path, *, timeout: float = 60.0) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{path} cannot hold the reference server's state: {exc}") from None
        self.version = -1  # the version this process's store holds; -1: none yet
        self.written = b""
        self.lock = threading.Lock()  # one transaction at a time per process (the connection is shared)

    @contextmanager
    def transaction(self, store: Store) -> Iterator[None]:
        """Run the block on ``store`` as the newest shared state, and share what it changed."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                row = self.db.execute("SELECT version, data FROM state WHERE id = 1").fetchone()
                if row is None:
                    self.db.execute("INSERT INTO state (id, version, data) VALUES (1, 0, ?)", (self._dump(store),))
                    self.version, self.written = 0, self._dump(store)
                elif row[0] != self.version:
                    self._load(store, row[1])
                    self.version, self.written = row[0], row[1]
                yield
                store.settle(everything=True)
                data = self._dump(store)
                if data != self.written:
                    self.version += 1
                    self.db.execute("UPDATE state SET version = ?, data = ? WHERE id = 1", (self.version, data))
                    self.written = data
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                self.version = -1  # what this process holds may be half changed: load it again next time
                raise

    @staticmethod
    def _dump(store: Store) -> bytes:
        return pickle.dumps({name: getattr(store, name) for name in _FIELDS}, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def _load(store: Store, data: bytes) -> None:
        state: dict[str, Any] = pickle.loads(data)  # noqa: S301 - the server's own file, written by itself
        with store.lock:
            for name in _FIELDS:
                setattr(store, name, state[name])

    def close(self) -> None:
        self.db.close()
