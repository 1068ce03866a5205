"""What the Mem0 memory handlers share: finding a memory by id, visibility, ordering, messages.

Decisions where FACTS.md says nothing:
- A memory is *listed* (list, search, entity listing) unless it is expired; ``GET`` by id
  returns expired memories too (FACTS.md "expiration_date").
- Listing order is newest first: ``created_at`` descending, then creation order descending, so
  that memories created in the same instant still have one fixed order and pages partition the
  set.
"""

from __future__ import annotations

import operator
import unicodedata
from datetime import UTC, datetime
from typing import Any

from conformance.server import faults
from conformance.server.errors import ApiError, mem0_error
from conformance.server.registry import Call
from conformance.server.store import ENTITY_KEYS, Memory, NotFound

MEMORY_NOT_FOUND = "Memory not found!"
ENTITY_REQUIRED = "One of the filters: app_id, user_id, agent_id, run_id is required!"
ENTITY_TYPES = {"user": "user_id", "agent": "agent_id", "app": "app_id", "run": "run_id"}
# Ids of memories a faulty delete only flagged (fault deleted-memory-still-listed): GET, PUT,
# DELETE and history treat them as gone; the listings forget to.
TOMBSTONES = "mem0_tombstones"
# The fields a memory always keeps in a projection (``fields``): the Memory schema requires them.
REQUIRED_FIELDS = ("id", "memory", "created_at", "updated_at")
# How deeply stored JSON (metadata) may nest: deeper values get 400 rather than overflowing the
# stack when the store copies them (decision; the documents set no limit).
MAX_NESTING = 100
IMMUTABLE_MESSAGE = "Memory {id} is immutable and cannot be updated; delete it and add a new memory instead."

HISTORY_MISSING_UPDATE = faults.declare(
    "history-missing-update", "history", "An update changes the memory but records no UPDATE entry in its history."
)
UNICODE_MANGLED = faults.declare(
    "unicode-mangled", "unicode", "Memory text is stored ASCII-folded: accents dropped, other non-ASCII text lost."
)


def own_scope(call: Call, values: Any) -> bool:
    """Whether the ``org_id`` / ``project_id`` a request names (in ``values``: its query or body) are the key's own,
    or absent. The memories (and entities, exports) a key reaches are its own project's: a request that names
    another organization or project selects nothing."""
    values = values if isinstance(values, dict) else {}
    return (values.get("org_id") in (None, call.settings.org_id)
            and values.get("project_id") in (None, call.settings.project_id))


def find_memory(call: Call, memory_id: str) -> Memory:
    """The live memory with this id, or 404 {"error": "Memory not found!"}."""
    with call.store.lock:
        try:
            memory = call.store.get(memory_id)
        except NotFound:
            raise mem0_error(404, MEMORY_NOT_FOUND) from None
        if memory_id in call.store.table(TOMBSTONES):
            raise mem0_error(404, MEMORY_NOT_FOUND)
        return memory


def is_listed(memory: Memory, *, show_expired: bool = False) -> bool:
    """Whether list and search show this memory (expired ones only with ``show_expired``)."""
    return show_expired or not memory.is_expired()


def newest_first(memories: list[Memory]) -> list[Memory]:
    """``memories`` (in the store's creation order) sorted newest first; ties keep the reverse of that order (the
    reversed list sorted stably)."""
    return sorted(reversed(memories), key=_created_at, reverse=True)


_created_at = operator.attrgetter("created_at")


def project(item: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """Keep only ``fields`` (plus the fields the Memory schema requires); no names keep all."""
    names = [name for name in fields or [] if name]
    if not names:
        return item
    keep = set(names) | set(REQUIRED_FIELDS)
    return {key: value for key, value in item.items() if key in keep}


def entity_ids(values: dict[str, Any]) -> dict[str, str]:
    """The non-empty entity ids among ``values`` (an empty or null id counts as absent)."""
    return {key: values[key] for key in ENTITY_KEYS if isinstance(values.get(key), str) and values[key] != ""}


def bad_request(message: str, *, key: str = "error") -> ApiError:
    """400 with ``{key: message}`` (Mem0 uses "error" for most, "message" for missing filters)."""
    return ApiError(400, {key: message})


def from_timestamp(value: Any, name: str = "timestamp") -> datetime:
    """A Unix timestamp as an aware UTC datetime; 400 when it is out of the representable range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f"{name} must be a Unix timestamp (a number of seconds)")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise bad_request(f"{name} {value} is out of range") from None


def moment_of(value: Any, name: str = "timestamp") -> datetime:
    """A Unix timestamp or an ISO 8601 date-time (as an update's ``timestamp`` may be) as an aware UTC datetime;
    400 for anything else. A date-time without a zone is taken as UTC."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError:
            raise bad_request(f"{name} must be a Unix timestamp or an ISO 8601 date-time, not {value[:40]!r}") from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return from_timestamp(value, name)


def stored_text(call: Call, text: str) -> str:
    """The text as stored (fault unicode-mangled folds it to ASCII)."""
    if call.fault(UNICODE_MANGLED):
        return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return text


def check_nesting(value: Any, name: str) -> Any:
    """``value`` unchanged, or 400 when it nests deeper than MAX_NESTING levels."""
    level, frontier = 0, [value]
    while frontier:
        level += 1
        if level > MAX_NESTING:
            raise bad_request(f"{name} is nested too deeply (at most {MAX_NESTING} levels)")
        frontier = [child for node in frontier if isinstance(node, dict | list)
                    for child in (node.values() if isinstance(node, dict) else node)]
    return value


def update_changes(item: dict[str, Any]) -> dict[str, Any]:
    """The changes an update body (or a batch item) asks for, by Store.update keyword."""
    changes: dict[str, Any] = {}
    if "text" in item:
        changes["text"] = item["text"]
    if "metadata" in item:
        changes["metadata"] = check_nesting(item["metadata"], "metadata")
    if "expiration_date" in item:
        changes["expiration_date"] = item["expiration_date"]
    if item.get("timestamp") is not None:  # the memory's own time, as on add
        changes["created_at"] = moment_of(item["timestamp"])
    return changes


def apply_update(call: Call, memory: Memory, changes: dict[str, Any]) -> None:
    """Change the memory and record history (fault history-missing-update drops the entry)."""
    with call.store.lock:
        if "text" in changes:
            changes = {**changes, "text": stored_text(call, changes["text"])}
        call.store.update(memory, **changes)
        if call.fault(HISTORY_MISSING_UPDATE):
            call.store.history[memory.id].pop()
