"""The Klavis mem0 sandbox API: acquire, details, release, reset, list, initialize and dump.

A sandbox is a record in ``store.sandboxes``; its data is the set of store memories whose
``sandbox_id`` is the sandbox's id, which the Mem0 API serves like any other memory (so a
memory initialized ``read_only`` is immutable there too). The Klavis <-> Mem0 field mapping is
in :mod:`conformance.server.sandbox_mapping`.

Decisions where FACTS.md says "undocumented":

- Acquire provisions a new sandbox (the reference pool is unbounded): status ``occupied``, a
  fresh ``instance_id``, and ``tag``, ``ttl_seconds`` (absent: 7200; null: never expires),
  ``benchmark`` and ``test_account_email`` kept as metadata (details show them under
  ``metadata``, the tag also under ``tags``). No MCP server runs here, so ``server_urls`` is
  not sent and ``server_url`` is null.
- Sandbox ids are opaque: an unknown id gets 404 ``{"detail": ...}``.
- Release sets the sandbox ``idle`` and empties its data (a pool hands sandboxes out clean)
  and cancels its pending background work. A released sandbox stays visible to details and
  list (status ``idle``); releasing it again answers 200 ``idle`` (idempotent). With
  ``is_ttl=true`` and an ``instance_id`` other than the sandbox's current one, the release is
  skipped and the sandbox stays as it was; ``instance_id`` without ``is_ttl`` is ignored.
- Initialize, reset and dump need a sandbox the caller holds: on an idle sandbox they answer
  404 (the only declared 4xx that fits: no occupied sandbox has that id) and change nothing.
- Reset empties the sandbox's data and cancels pending background work; it stays occupied.
- Initialize REPLACES the sandbox's data (so it is idempotent): the previous memories are
  deleted (their Mem0 history records the DELETE) and pending background work of earlier
  initializes is cancelled. A null body, ``{}`` or ``{"memory_list": []}`` empties the sandbox.
  ``init_default_data=true`` uses the default data set (the initialize operation's example body
  in the effective document) and ignores any body. Items with ``background_processing`` false
  are stored before the answer; the memories of background items come into existence when a
  store event settles ``processing_delay`` seconds later (one event per initialize that has any
  background item, as a queued Mem0 add has one, whatever it ends up storing) (cancelled by a later initialize,
  reset or release). ``records_created.memories`` counts the memories stored before the
  answer; the message also names how many items were queued.
- Dump lists the sandbox's memories in creation order (background memories only once
  settled), one Mem0Memory per memory, with the Klavis defaults applied.
- TTL expiry is checked lazily at the start of every Klavis request: an occupied sandbox past
  ``acquired_at + ttl_seconds`` is released as above. Until a Klavis request notices, the Mem0
  API still serves its memories.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from conformance.server.errors import klavis_error
from conformance.server.faults import declare
from conformance.server.registry import Call, Handler, Reply, handles
from conformance.server.sandbox_mapping import (
    PlannedMemory,
    default_data_set,
    dump_item,
    plan,
    setting,
)
from conformance.server.store import Memory, Store, iso, now

SERVER_NAME = "mem0"
DEFAULT_TTL_SECONDS = 7200
INITIALIZE = "initialize_sandbox_sandbox_mem0__sandbox_id__initialize_post"
DUMP = "dump_sandbox_sandbox_mem0__sandbox_id__dump_get"

ACQUIRE_RETURNS_200 = declare(
    "sandbox-acquire-returns-200", "status-codes", "Acquiring a sandbox answers 200 instead of the declared 201.")
RELEASE_STAYS_OCCUPIED = declare(
    "sandbox-release-stays-occupied", "release",
    "Release answers idle but never stores it: the sandbox stays occupied and keeps its data.")
RESET_KEEPS_DATA = declare(
    "sandbox-reset-keeps-data", "reset", "Reset answers success but leaves the sandbox's memories in place.")
INITIALIZE_APPENDS = declare(
    "initialize-appends", "roundtrip",
    "Initialize adds to the sandbox's existing memories instead of replacing them (not idempotent).")
DEFAULT_DATA_EMPTY = declare(
    "default-data-empty", "roundtrip", "init_default_data=true loads nothing instead of the default data set.")
READ_ONLY_NOT_IMMUTABLE = declare(
    "read-only-not-immutable", "immutability",
    "Initialize drops read_only: the memory is mutable through the Mem0 API and dumps as read_only false.")
IGNORES_AUTO_INFER = declare(
    "initialize-ignores-auto-infer", "roundtrip",
    "auto_infer=false is not passed on as infer=false: messages are inferred instead of stored verbatim.")
BACKGROUND_NEVER_SETTLES = declare(
    "background-initialize-never-settles", "consistency",
    "Background-processed initialize items stay pending forever: their memories never appear.")
DUMP_DROPS_METADATA = declare(
    "dump-drops-metadata", "roundtrip", "Dump reports every memory's metadata as null.")
DUMP_MISSING_DUMPED_AT = declare(
    "dump-missing-dumped-at", "shapes", "The dump answer lacks the required dumped_at timestamp.")
DUMP_LEAKS_ACROSS_SANDBOXES = declare(
    "dump-leaks-across-sandboxes", "filters", "Dump of one sandbox also lists the memories of every other sandbox.")


def _klavis(operation_id: str) -> Callable[[Handler], Handler]:
    """Register a Klavis handler that runs under the store lock, after TTL expiry is applied."""

    def register(function: Handler) -> Handler:
        def handler(call: Call) -> Reply | tuple[int, Any]:
            with call.store.lock:
                _expire_due(call.store)
                return function(call)

        handler.__doc__ = function.__doc__
        handles(operation_id)(handler)
        return function

    return register


# --- sandbox state -----------------------------------------------------------------------------


def _sandbox(call: Call) -> dict[str, Any]:
    sandbox_id = call.path["sandbox_id"]
    sandbox = call.store.sandboxes.get(sandbox_id)
    if sandbox is None:
        raise klavis_error(404, f"Sandbox {sandbox_id} not found")
    return sandbox


def _held(call: Call) -> dict[str, Any]:
    sandbox = _sandbox(call)
    if sandbox["status"] != "occupied":
        raise klavis_error(404, f"Sandbox {sandbox['sandbox_id']} is not occupied; acquire a sandbox first")
    return sandbox


def _memories(store: Store, sandbox_id: str) -> list[Memory]:
    return store.select(sandbox_id=sandbox_id)


def _clear(store: Store, sandbox: dict[str, Any]) -> None:
    """Delete the sandbox's memories and cancel its pending background work."""
    for memory in _memories(store, sandbox["sandbox_id"]):
        store.delete(memory)
    sandbox["generation"] += 1
    sandbox["updated_at"] = now()


def _release(store: Store, sandbox: dict[str, Any]) -> None:
    _clear(store, sandbox)
    sandbox["status"] = "idle"


def _expire_due(store: Store) -> None:
    moment = now()
    for sandbox in store.sandboxes.values():
        expires_at = sandbox["expires_at"]
        if sandbox["status"] == "occupied" and expires_at is not None and expires_at <= moment:
            _release(store, sandbox)


def _info(sandbox: dict[str, Any]) -> dict[str, Any]:
    return {
        "sandbox_id": sandbox["sandbox_id"],
        "server_name": SERVER_NAME,
        "status": sandbox["status"],
        "server_url": None,
        "updated_at": iso(sandbox["updated_at"]),
        "metadata": {
            "benchmark": sandbox["benchmark"],
            "test_account_email": sandbox["test_account_email"],
            "tag": sandbox["tag"],
            "ttl_seconds": sandbox["ttl_seconds"],
            "instance_id": sandbox["instance_id"],
            "acquired_at": iso(sandbox["acquired_at"]),
            "expires_at": iso(sandbox["expires_at"]) if sandbox["expires_at"] else None,
        },
        "tags": _tags(sandbox),
    }


def _tags(sandbox: dict[str, Any]) -> list[str]:
    return [sandbox["tag"]] if sandbox["tag"] is not None else []


# --- lifecycle -----------------------------------------------------------------------------------


@_klavis("acquire_mem0_sandbox")
def acquire(call: Call) -> Reply | tuple[int, Any]:
    """Provision a new occupied sandbox; 201 {sandbox_id, server_name, status, message}."""
    body = call.body or {}
    ttl = body["ttl_seconds"] if "ttl_seconds" in body else DEFAULT_TTL_SECONDS
    ttl = int(ttl) if ttl is not None else None  # JSON 600.0 is a valid integer: keep it as 600
    moment = now()
    sandbox = {
        "sandbox_id": str(uuid.uuid4()),
        "status": "occupied",
        "tag": body.get("tag"),
        "ttl_seconds": ttl,
        "benchmark": body.get("benchmark"),
        "test_account_email": body.get("test_account_email"),
        "instance_id": str(uuid.uuid4()),
        "acquired_at": moment,
        "expires_at": moment + timedelta(seconds=ttl) if ttl is not None else None,
        "updated_at": moment,
        "generation": 0,
    }
    call.store.sandboxes[sandbox["sandbox_id"]] = sandbox
    answer = {"sandbox_id": sandbox["sandbox_id"], "server_name": SERVER_NAME, "status": "occupied",
              "message": "Sandbox acquired successfully"}
    return (200 if call.fault(ACQUIRE_RETURNS_200) else 201), answer


@_klavis("get_mem0_sandbox")
def details(call: Call) -> Reply | tuple[int, Any]:
    """200 with the sandbox's details (occupied or idle); 404 for an unknown id."""
    return 200, _info(_sandbox(call))


@_klavis("release_mem0_sandbox")
def release(call: Call) -> Reply | tuple[int, Any]:
    """Return the sandbox to idle, emptied; a TTL release for another instance is skipped."""
    sandbox = _sandbox(call)
    instance_id = call.query.get("instance_id")
    if call.query.get("is_ttl") and instance_id is not None and instance_id != sandbox["instance_id"]:
        message = "TTL release skipped: the sandbox has been re-acquired since (instance_id mismatch)"
        return 200, {"sandbox_id": sandbox["sandbox_id"], "status": sandbox["status"], "message": message}
    if sandbox["status"] != "occupied":
        return 200, {"sandbox_id": sandbox["sandbox_id"], "status": "idle", "message": "Sandbox is already idle"}
    if not call.fault(RELEASE_STAYS_OCCUPIED):
        _release(call.store, sandbox)
    return 200, {"sandbox_id": sandbox["sandbox_id"], "status": "idle", "message": "Sandbox released successfully"}


@_klavis("reset_mem0_sandbox")
def reset(call: Call) -> Reply | tuple[int, Any]:
    """Empty the held sandbox's data; it stays occupied."""
    sandbox = _held(call)
    if not call.fault(RESET_KEEPS_DATA):
        _clear(call.store, sandbox)
    return 200, {"sandbox_id": sandbox["sandbox_id"], "status": "occupied", "message": "Sandbox reset successfully"}


@_klavis("list_sandboxes")
def list_sandboxes(call: Call) -> Reply | tuple[int, Any]:
    """Every sandbox, in creation order, filtered by tag and (case-insensitively) server name."""
    tag = call.query.get("tag")
    server_name = call.query.get("server_name")
    found = [
        {"sandbox_id": s["sandbox_id"], "server_name": SERVER_NAME, "status": s["status"], "tags": _tags(s),
         "updated_at": iso(s["updated_at"])}
        for s in call.store.sandboxes.values()
        if (tag is None or s["tag"] == tag) and (server_name is None or server_name.lower() == SERVER_NAME)
    ]
    return 200, {"sandboxes": found, "total_count": len(found)}


# --- data ----------------------------------------------------------------------------------------


def _planned(call: Call, items: list[dict[str, Any]], sandbox_id: str) -> list[PlannedMemory]:
    planned = []
    for item in items:
        if call.fault(IGNORES_AUTO_INFER):
            memories = plan({**item, "auto_infer": None}, sandbox_id)
            for memory in memories:
                memory.fields["options"]["auto_infer"] = setting(item, "auto_infer")
        else:
            memories = plan(item, sandbox_id)
        planned.extend(memories)
    if call.fault(READ_ONLY_NOT_IMMUTABLE):
        for memory in planned:
            memory.fields["immutable"] = False
    return planned


def _store(store: Store, planned: PlannedMemory) -> Memory:
    return store.add_memory(planned.text, [planned.source], **planned.fields)


def _queue(call: Call, sandbox: dict[str, Any], later: list[PlannedMemory]) -> None:
    """Create ``later`` when a store event settles, unless the sandbox's data was replaced since."""
    store, generation = call.store, sandbox["generation"]

    def apply() -> list[dict[str, Any]]:
        if sandbox["generation"] != generation or sandbox["status"] != "occupied":
            return []
        created = [_store(store, planned) for planned in later]
        return [{"id": m.id, "event": "ADD", "data": {"memory": m.memory}} for m in created]

    store.schedule("ADD", apply, delay=math.inf if call.fault(BACKGROUND_NEVER_SETTLES) else None)


@_klavis(INITIALIZE)
def initialize(call: Call) -> Reply | tuple[int, Any]:
    """Replace the held sandbox's data with the body's (or the default) memory list."""
    sandbox = _held(call)
    if call.query.get("init_default_data"):
        data = {} if call.fault(DEFAULT_DATA_EMPTY) else default_data_set()
    else:
        data = call.body or {}
    planned = _planned(call, data.get("memory_list") or [], sandbox["sandbox_id"])
    if call.fault(INITIALIZE_APPENDS):
        sandbox["updated_at"] = now()
    else:
        _clear(call.store, sandbox)
    created = [_store(call.store, p) for p in planned if not p.background]
    later = [p for p in planned if p.background]
    items = [item for item in data.get("memory_list") or [] if isinstance(item, dict)]
    if later or any(setting(item, "background_processing") for item in items):
        _queue(call, sandbox, later)  # background items queue one add (one event), even one that stores nothing
    message = f"Sandbox initialized: {len(created)} memories created"
    if later:
        message += f", {len(later)} queued for background processing"
    return 200, {"sandbox_id": sandbox["sandbox_id"], "status": "occupied", "message": message,
                 "records_created": {"memories": len(created)}}


@_klavis(DUMP)
def dump(call: Call) -> Reply | tuple[int, Any]:
    """The held sandbox's memories as Mem0Memory items, in creation order."""
    sandbox = _held(call)
    if call.fault(DUMP_LEAKS_ACROSS_SANDBOXES):
        memories = call.store.select(lambda memory: memory.sandbox_id is not None)
    else:
        memories = _memories(call.store, sandbox["sandbox_id"])
    items = [dump_item(memory) for memory in memories]
    if call.fault(DUMP_DROPS_METADATA):
        for item in items:
            item["metadata"] = None
    answer: dict[str, Any] = {"sandbox_id": sandbox["sandbox_id"], "server_name": SERVER_NAME}
    if not call.fault(DUMP_MISSING_DUMPED_AT):
        answer["dumped_at"] = iso(now())
    answer["data"] = {"memory_list": items}
    return 200, answer
