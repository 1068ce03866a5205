"""What every view of a memory must show, whichever answer it comes in.

A *view* is an object of an answer that stands for one memory: a ``GET`` by id, an item of a v1,
v2 or v3 list or search, the answer of an update. Every view is held to two things:

- the model: the memory's id and text, and what the client set on it (its entity ids, metadata,
  expiration date, whether it is immutable). A documented property that is present must carry the
  model's value; one that is absent is a loss when the model holds a value for it (an answer that
  leaves out the memory's ``user_id`` or ``metadata`` loses what the client stored; ``immutable``
  may be left out, as newer published documents do (FACTS.md "Upstream drift"), but then by every
  answer, not by some);
- itself: the server's own fields (``created_at``, ``updated_at``, ``hash``, ``categories``) are
  the same in every view until the memory changes (``created_at`` always), a text always has the
  same ``hash``, and a field one answer shows for a memory no other answer leaves out.

(FACTS.md "Add", "List/search filters", "History"; the effective document's ``Memory`` schema.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conformance.apis import ENTITY_KEYS
from conformance.verdicts import Severity, Source, require

CLIENT = (*ENTITY_KEYS, "metadata", "expiration_date")
SERVER = ("created_at", "updated_at", "hash", "categories")
MOVES = ("updated_at", "hash", "categories")  # what a change of the memory may move; created_at never moves


@dataclass
class Expected:
    """A memory as the client made it: the model's side of every view."""

    id: str
    memory: str
    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None
    metadata: dict[str, Any] | None = None
    expiration_date: str | None = None
    immutable: bool = False
    input: list[dict[str, Any]] = field(default_factory=list)  # the add's conversation (history ``input``)

    def entities(self) -> dict[str, str | None]:
        return {key: getattr(self, key) for key in ENTITY_KEYS}


def _empty(value: Any) -> bool:
    return value is None or value == {}


def _same(name: str, received: Any, expected: Any) -> bool:
    if name == "metadata":
        return (received or {}) == (expected or {})
    return received == expected


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


class Views:
    """The server's own fields of the memories a test has seen, to hold every later view to them."""

    def __init__(self) -> None:
        self.server: dict[str, dict[str, Any]] = {}  # memory id -> server field -> last value seen
        self.moved: set[str] = set()  # memories changed since their server fields were last seen
        self.hashes: dict[str, str] = {}  # text -> the hash views showed for it
        self.texts: dict[str, str] = {}  # hash -> the text it was shown for
        self.shown_immutable: set[str] = set()  # memories some answer showed ``immutable`` for

    def changed(self, memory_id: str) -> None:
        """The memory was changed: its ``updated_at``, ``hash`` and ``categories`` may move once."""
        self.moved.add(memory_id)

    def check(self, view: Any, expected: Expected, *, where: str, source: Source,
              fields: list[str] | None = None) -> None:
        """``view`` (``where`` names the answer) shows ``expected`` and agrees with the earlier views.
        With ``fields`` (a projection the request asked for) only those fields and the required ones count."""
        __tracebackhide__ = True
        require(isinstance(view, dict), f"{where} shows no memory object", received=view,
                documented="a memory object", source=source)
        label = f"{where}: memory {expected.id}"
        require(view.get("id") == expected.id, f"{where} shows memory {view.get('id')!r} for {expected.id}",
                received=view, documented={"id": expected.id}, source=source, severity=Severity.CRITICAL)
        require(view.get("memory") == expected.memory, f"{label} shows another text", received=view.get("memory"),
                documented=expected.memory, source=source, severity=Severity.CRITICAL)
        wanted = set(fields) if fields else None
        for name in CLIENT:
            value = getattr(expected, name)
            if name in view:
                require(_same(name, view[name], value), f"{label} shows another {name}", received=view[name],
                        documented=value, source=source, severity=Severity.CRITICAL)
            elif wanted is None or name in wanted:
                require(_empty(value), f"{label} leaves out its {name}", received=sorted(view),
                        documented=f"{name}: {value!r} (what the client set on the memory)", source=source)
        if "immutable" in view:
            require(view["immutable"] is expected.immutable, f"{label} shows immutable {view['immutable']!r}",
                    received=view["immutable"], documented=expected.immutable, source=source,
                    severity=Severity.CRITICAL)
            self.shown_immutable.add(expected.id)
        elif wanted is None or "immutable" in wanted:  # left out everywhere (newer documents) or nowhere
            require(expected.id not in self.shown_immutable, f"{label} leaves out immutable, which other answers show",
                    received=sorted(view), documented=f"immutable: {expected.immutable!r}", source=source)
        self._server_fields(view, expected, label, source, wanted)

    def _server_fields(self, view: dict[str, Any], expected: Expected, label: str, source: Source,
                       wanted: set[str] | None) -> None:
        __tracebackhide__ = True
        seen = self.server.setdefault(expected.id, {})
        moved = expected.id in self.moved
        for name in SERVER:
            if name not in view:
                require(not (name in seen and (wanted is None or name in wanted)),
                        f"{label} leaves out its {name}, which other answers show", received=sorted(view),
                        documented=f"{name}: {seen.get(name)!r}", source=source)
                continue
            value = view[name]
            if name in seen and not (moved and name in MOVES):
                require(_canonical(value) == _canonical(seen[name]),
                        f"{label} shows {name} {value!r}, another answer showed {seen[name]!r} with no change in between",
                        received=value, documented=seen[name], source=source)
            seen[name] = value
        if "updated_at" in view and "created_at" in view:
            created, updated = _instant(view["created_at"]), _instant(view["updated_at"])
            require(created is not None and updated is not None and updated >= created,
                    f"{label} was updated ({view['updated_at']!r}) before it was created ({view['created_at']!r})",
                    received={"created_at": view["created_at"], "updated_at": view["updated_at"]},
                    documented="updated_at no earlier than created_at", source=source)
        if isinstance(view.get("hash"), str):
            known = self.hashes.setdefault(expected.memory, view["hash"])
            require(known == view["hash"], f"{label} shows hash {view['hash']!r} for a text whose hash was {known!r}",
                    received=view["hash"], documented=f"the hash of its content: {known!r}", source=source)
            text = self.texts.setdefault(view["hash"], expected.memory)
            require(text == expected.memory, f"{label} shows the hash {view['hash']!r} of another text",
                    received={"memory": expected.memory, "hash": view["hash"]},
                    documented=f"{view['hash']!r} is the hash of {text[:80]!r}", source=source)
        self.moved.discard(expected.id)
