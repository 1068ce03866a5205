"""Memory exports (``POST /v1/exports/``, ``/v1/exports/get[/]``) and summaries (``/v1/summary/``).

Both cover the unexpired memories of the key's project that match the request's filters
(the v2/v3 filter language of :mod:`conformance.server.filters`, as list and search read it:
``AND``/``OR``/``NOT`` and operators included; an unknown filter key or a malformed condition
is 400). Entity ids given at the top level of the body (the SDK
passes its keyword arguments through, e.g. ``user_id``) count as filters too. An ``org_id`` /
``project_id`` other than the key's own selects nothing.

Exports. No LLM runs here, so an export is built deterministically when it is created (a
snapshot; it is ready at once, though the answer says "in a few seconds"): one item per
memory, oldest first, projected onto the top-level ``properties`` of the export's schema:
each property takes the memory's field of that name (``id``, ``memory``, ``user_id``, ...,
``created_at``), else its metadata value of that name, else is left out; a schema without
``properties`` exports whole memories. Reading answers
``{id, status: "COMPLETED", schema, filters, created_at, count, memories: [items]}``:
the export named by ``memory_export_id`` (404 if unknown), else the latest export whose
entity filters include the entity ids the request's filters name, else (no id, no entity
filters) the latest export; 404 ``{"error": "No memory export request found"}`` when none, or when
the request names another organization or project.
Reading only *identifies* an export: its filters are not checked (other keys, such as the
documented ``created_at``, do not narrow the lookup).

An export schema or filters nested more than 64 levels deep are 400 (a bound, so that no
request can exhaust the server's recursion while its data is kept and answered).

Summary. ``{status: "SUCCEEDED", summary, total_memories, memory_ids}``: ``summary`` is one
line ``- <memory text>`` per matching memory, oldest first ("" when none). Unlike listing,
a summary needs no entity filter: the SDK sends no filters when none are given.
"""

from __future__ import annotations

from typing import Any

from conformance.server import faults
from conformance.server.errors import ApiError
from conformance.server.filters import Predicate, compile_filters, required_entities
from conformance.server.handlers.mem0_common import own_scope
from conformance.server.registry import Call, Reply, handles
from conformance.server.store import ENTITY_KEYS, Memory, iso, json_copy, new_id, now

EXPORT_IGNORES_FILTERS = faults.declare(
    "export-ignores-filters", "filters",
    "A memory export contains every memory of the project, not only those matching its filters.",
)
NO_EXPORT = ApiError(404, {"error": "No memory export request found"})
MAX_DEPTH = 64


def _top_level_entities(body: dict[str, Any]) -> dict[str, str]:
    return {key: body[key] for key in ENTITY_KEYS if isinstance(body.get(key), str)}


def _filters(body: dict[str, Any], error_key: str) -> tuple[dict[str, Any], Predicate]:
    """The body's filters plus top-level entity ids, compiled (400 with ``{error_key: ...}``)."""
    given = body.get("filters")
    filters = given if isinstance(given, dict) else {}
    if _nesting(filters, MAX_DEPTH) > MAX_DEPTH:
        raise ApiError(400, {error_key: f"filters: nested more than {MAX_DEPTH} levels deep"})
    extra = _top_level_entities(body)
    if extra:
        filters = {"AND": [filters, extra]} if filters else extra
    try:
        predicate = compile_filters(filters)
    except ApiError as exc:
        message = exc.body.get("error", "Invalid filters") if isinstance(exc.body, dict) else "Invalid filters"
        raise ApiError(400, {error_key: message}) from None
    predicate.required = required_entities(filters)  # type: ignore[attr-defined] - looked up in the store's index
    return json_copy(filters), predicate


def _nesting(value: Any, limit: int) -> int:
    """How deeply ``value`` nests objects and lists, counted up to ``limit + 1`` (no recursion)."""
    deepest, level = 0, [(value, 0)]
    while level:
        node, depth = level.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        level.extend((child, depth + 1) for child in children)
    return deepest


def entity_values(filters: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """The entity ids ``filters`` pins to one literal, at the top level or inside ``AND`` items
    (nested at most 32 deep; deeper ones are not looked at)."""
    found: dict[str, Any] = {}
    for key, condition in filters.items():
        if key in ENTITY_KEYS and isinstance(condition, str) and condition != "*":
            found[key] = condition
        elif key == "AND" and isinstance(condition, list) and depth < 32:
            for item in condition:
                if isinstance(item, dict):
                    found.update(entity_values(item, depth + 1))
    return found


def _selected(call: Call, predicate: Predicate, *, everything: bool = False) -> list[Memory]:
    if not own_scope(call, call.body):
        return []
    if everything:
        return call.store.select(lambda m: not m.is_expired())
    return call.store.select(lambda m: not m.is_expired() and predicate(m), **getattr(predicate, "required", {}))


def project(memory: Memory, schema: dict[str, Any]) -> dict[str, Any]:
    """One export item: the memory projected onto the schema's top-level properties."""
    record = memory.to_api()
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return record
    metadata = memory.metadata or {}
    item = {}
    for name in properties:
        if name in record:
            item[name] = record[name]
        elif name in metadata:
            item[name] = json_copy(metadata[name])
    return item


@handles("exports_create")
def create_export(call: Call) -> Reply:
    """201 ``{message, id}``; the export's items are built now from the matching memories."""
    body = call.body
    if _nesting(body["schema"], MAX_DEPTH) > MAX_DEPTH:
        raise ApiError(400, {"message": f"schema: nested more than {MAX_DEPTH} levels deep"})
    filters, predicate = _filters(body, "message")
    with call.store.lock:
        memories = _selected(call, predicate, everything=call.fault(EXPORT_IGNORES_FILTERS))
        export = {
            "id": new_id(), "status": "COMPLETED", "schema": json_copy(body["schema"]), "filters": filters,
            "created_at": iso(now()), "memories": [project(m, body["schema"]) for m in memories],
        }
        export["count"] = len(export["memories"])
        call.store.table("exports")[export["id"]] = export
    message = "Memory export request received. The export will be ready in a few seconds."
    return Reply(201, {"message": message, "id": export["id"]})


def _find_export(call: Call) -> dict[str, Any]:
    body = call.body or {}
    if not own_scope(call, body):  # another organization or project holds none of the key's exports
        raise NO_EXPORT
    exports = call.store.table("exports")
    export_id = body.get("memory_export_id")
    if export_id is not None:
        if export_id not in exports:
            raise NO_EXPORT
        return exports[export_id]
    given = body.get("filters")
    wanted = entity_values(given if isinstance(given, dict) else {})
    wanted.update(_top_level_entities(body))
    for export in reversed(list(exports.values())):
        have = entity_values(export["filters"])
        if all(have.get(key) == value for key, value in wanted.items()):
            return export
    raise NO_EXPORT


@handles("exports_list", "exports_get")
def read_export(call: Call) -> Reply:
    with call.store.lock:
        return Reply(200, json_copy(_find_export(call)))


@handles("summary_create")
def summary(call: Call) -> Reply:
    _, predicate = _filters(call.body, "error")
    with call.store.lock:
        memories = _selected(call, predicate)
        return Reply(200, {
            "status": "SUCCEEDED",
            "summary": "\n".join(f"- {m.memory}" for m in memories),
            "total_memories": len(memories),
            "memory_ids": [m.id for m in memories],
        })
