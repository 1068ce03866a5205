"""What a run created, and deleting it again: the cleanup registry and the run prefix.

Every resource the suite creates on a target is registered here with the request that deletes
it; :meth:`Cleanup.drain` deletes in reverse order of creation at the end of the session (also
after failures and interrupts, since pytest tears session fixtures down then too). What cannot
be deleted is reported as a leak, never silently dropped. Only resources the run created are
ever deleted: ids carry the run prefix, and the registry holds nothing else.
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

RUN_ID_VARIABLE = "MEM0_CONFORMANCE_RUN_ID"


def new_run_id() -> str:
    """A short id for this run: ``MEM0_CONFORMANCE_RUN_ID`` when set, else random."""
    return os.environ.get(RUN_ID_VARIABLE) or uuid.uuid4().hex[:8]


def run_prefix(run_id: str, worker: str) -> str:
    """The prefix of every id the run creates: run id and worker, e.g. ``mct-1a2b3c4d-gw0``."""
    return f"mct-{run_id}-{worker}"


@dataclass(frozen=True)
class Leak:
    kind: str
    ident: str
    why: str
    by_design: bool = False  # the API offers no way to delete it (events, export jobs)

    def __str__(self) -> str:
        return f"{self.kind} {self.ident}: {self.why}"


@dataclass
class _Entry:
    kind: str
    ident: str
    delete: Callable[[], httpx.Response | None]


class Cleanup:
    """Resources created by this run, each with the call that deletes it."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._kept: dict[tuple[str, str], Leak] = {}
        self._lock = threading.Lock()

    def add(self, kind: str, ident: str, delete: Callable[[], httpx.Response | None]) -> None:
        """Register ``kind``/``ident``; ``delete`` answers 2xx or 404 when it is gone."""
        with self._lock:
            self._entries.setdefault((kind, ident), _Entry(kind, ident, delete))

    def keep(self, kind: str, ident: str) -> None:
        """Something the run created that the API offers no way to delete: reported as left by design."""
        with self._lock:
            self._kept.setdefault((kind, ident), Leak(kind, ident, "the API offers no delete", by_design=True))

    def forget(self, kind: str, ident: str) -> None:
        """The test deleted it itself."""
        with self._lock:
            self._entries.pop((kind, ident), None)

    def __len__(self) -> int:
        return len(self._entries)

    def drain(self) -> list[Leak]:
        """Delete everything registered, newest first; return what could not be deleted, then what is
        left by design."""
        with self._lock:
            entries = list(reversed(self._entries.values()))
            kept = list(self._kept.values())
            self._entries.clear()
            self._kept.clear()
        leaks = []
        for entry in entries:
            try:
                response = entry.delete()
            except httpx.HTTPError as exc:
                leaks.append(Leak(entry.kind, entry.ident, f"{type(exc).__name__}: {exc}"))
                continue
            if response is not None and not (response.is_success or response.status_code == 404):
                leaks.append(Leak(entry.kind, entry.ident, f"delete answered {response.status_code}"))
        return leaks + kept


class Ids:
    """Run-prefixed entity ids, unique within the run: ``<prefix>-<kind>-<n>``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._counter = itertools.count(1)

    def new(self, kind: str = "user") -> str:
        return f"{self.prefix}-{kind}-{next(self._counter)}"

    def owns(self, ident: str) -> bool:
        return ident.startswith(f"{self.prefix}-")
