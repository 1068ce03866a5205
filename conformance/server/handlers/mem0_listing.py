"""Mem0 listing and search: v1 (query parameters / body ids), v2 and v3 (the filter language).

Decisions where FACTS.md says nothing:
- Order: newest first (see :mod:`mem0_common`). Search orders by score, then newest first.
- Search relevance, without an LLM: the score is the fraction of the query's distinct words
  (Unicode ``\\w+`` runs, case-folded) that occur among the memory's words. Memories scoring 0
  are never found; ``threshold`` (v2 default 0.3 as declared, v3 none) drops lower scores; then
  the best ``top_k`` (default 10; below 1 finds nothing) are returned, each with its ``score``.
- v1 list and v1 search take entity ids as plain values (``*`` = any non-null value); an empty
  id is still a filter (it matches nothing). v1 ``keywords`` / v3 ``keywords``: the text
  contains it, ignoring case. ``start_date`` / ``end_date``: ``created_at`` on or after / on or
  before (dates are whole UTC days; an empty value is no bound). ``categories``: the memory
  has one of them.
- Pagination (with ``page`` or ``page_size``, and always on v3): Django REST framework's
  rules: a ``page_size`` below 1 falls back to 100; a page below 1 or past the last page is
  404 ``{"detail": "Invalid page."}`` (page 1 of an empty set is an empty page); ``next`` and
  ``previous`` are absolute URLs carrying the request's query parameters.
- ``fields`` keeps the named fields and the four the Memory schema requires.
- ``show_expired: true`` (declared in v3 bodies, honoured in any list or search body) lists
  expired memories too.
- ``org_id`` / ``project_id``: the key's own select what the key selects anyway; another organization or
  project selects nothing (``mem0_common.own_scope``).
- ``rerank``, ``keyword_search``, ``latest_only``, ``filter_memories`` and ``reference_date`` change
  nothing here.
- GET /v1/memories/{entity_type}/{entity_id}/ lists that entity's memories (a bare array,
  possibly empty); an entity type other than user, agent, app or run gets 400.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from conformance.server import faults
from conformance.server.errors import ApiError
from conformance.server.filters import (
    Predicate,
    compile_filters,
    names_entity,
    required_entities,
)
from conformance.server.handlers.mem0_common import (
    ENTITY_REQUIRED,
    ENTITY_TYPES,
    bad_request,
    is_listed,
    newest_first,
    own_scope,
    project,
)
from conformance.server.registry import Call, Reply, handles
from conformance.server.store import ENTITY_KEYS, Memory

DEFAULT_PAGE_SIZE = 100
SEARCH_ENTITY_REQUIRED = "At least one of the filters: agent_id, user_id, app_id, run_id is required!"
_WORD = re.compile(r"\w+")

EXPIRED_MEMORIES_LISTED = faults.declare(
    "expired-memories-listed", "filters", "List and search show memories past their expiration_date."
)
FILTER_LEAKS_OTHER_USERS = faults.declare(
    "filter-leaks-other-users", "filters",
    "Entity ids inside an OR filter are ignored, so an OR of users returns every user's memories.",
)
PAGINATION_OVERLAP = faults.declare(
    "pagination-overlap", "pagination", "Every page after the first starts with the last memory of the previous page."
)
SEARCH_ANSWERS_BARE_LIST = faults.declare(
    "search-answers-bare-list", "shapes",
    'POST /v3/memories/search/ answers a bare array (the v2 shape) where {"results": [...]} is documented.',
)
MISSING_ENTITY_FILTER_ACCEPTED = faults.declare(
    "missing-entity-filter-accepted", "status-codes",
    "A list or search without any entity filter answers 200 with every memory instead of 400.",
)


# --- selection -----------------------------------------------------------------------------------

def _compile(call: Call, filters: dict[str, Any]) -> Predicate:
    predicate = compile_filters(filters, ignore_entities_under_or=call.fault(FILTER_LEAKS_OTHER_USERS))
    predicate.required = required_entities(filters)  # type: ignore[attr-defined] - _matching tests these first
    # Nothing but those ids (the usual {"user_id": ...}): the store's lookup by them decides alone.
    predicate.entailed = predicate.required == filters  # type: ignore[attr-defined]
    return predicate


def _require_entity(call: Call, filters: dict[str, Any], message: str = ENTITY_REQUIRED) -> None:
    if not names_entity(filters) and not call.fault(MISSING_ENTITY_FILTER_ACCEPTED):
        raise bad_request(message, key="message")


def _extras(values: dict[str, Any]) -> dict[str, Any]:
    """The filter for the v1/v3 side parameters: categories, keywords, start_date, end_date."""
    extra: dict[str, Any] = {}
    if values.get("categories"):
        extra["categories"] = {"in": list(values["categories"])}
    if isinstance(values.get("keywords"), str):
        extra["keywords"] = values["keywords"]
    bounds = (("gte", "start_date"), ("lte", "end_date"))
    window = {op: values[key] for op, key in bounds if values.get(key) not in (None, "")}
    if window:
        extra["created_at"] = window
    if isinstance(values.get("metadata"), dict):
        extra["metadata"] = values["metadata"]
    return extra


def _matching(call: Call, predicates: list[Predicate], *, show_expired: bool = False) -> list[Memory]:
    """Listed memories matching every predicate, newest first (none for another organization or project)."""
    if not (own_scope(call, call.query) and own_scope(call, call.body)):
        return []
    show = show_expired or call.fault(EXPIRED_MEMORIES_LISTED)
    required: dict[str, str] = {}
    for p in predicates:
        for key, value in getattr(p, "required", {}).items():
            if required.setdefault(key, value) != value:
                return []  # two different ids for one key: nothing has both
    with call.store.lock:  # the entity ids every match must have, looked up in the store's index: most name their user
        pool = call.store.memories.having(required)
        tests = [p for p in predicates if not getattr(p, "entailed", False)]
        # A memory without an expiration date is listed (is_listed) without asking; most lists test nothing more
        # than the index found: a call per memory less for each of the two.
        listed = pool if show else [m for m in pool if not m.expiration_date or is_listed(m)]
        chosen = [m for m in listed if all(p(m) for p in tests)] if tests else listed
    return newest_first(chosen)


def _v1_entities(values: dict[str, Any]) -> dict[str, Any]:
    return {key: values[key] for key in ENTITY_KEYS if values.get(key) is not None}


def _body_flag(call: Call, name: str) -> bool:
    return isinstance(call.body, dict) and call.body.get(name) is True


# --- pagination ----------------------------------------------------------------------------------

def _page(call: Call, items: list[dict[str, Any]]) -> dict[str, Any]:
    """One page of ``items`` as {count, next, previous, results}; 404 past the last page."""
    size = call.query.get("page_size")
    size = size if isinstance(size, int) and size >= 1 else DEFAULT_PAGE_SIZE
    page = call.query.get("page", 1)
    count = len(items)
    pages = max(1, -(-count // size))
    if page < 1 or page > pages:
        raise ApiError(404, {"detail": "Invalid page."})
    start = (page - 1) * size
    if page > 1 and call.fault(PAGINATION_OVERLAP):
        start -= 1
    return {
        "count": count,
        "next": _page_url(call, page + 1, size) if page < pages else None,
        "previous": _page_url(call, page - 1, size) if page > 1 else None,
        "results": items[start:start + size],
    }


def _page_url(call: Call, page: int, size: int) -> str:
    params = [(key, value) for key, values in call.query.items() if key not in ("page", "page_size")
              for value in (values if isinstance(values, list) else [values])]
    params += [("page", page), ("page_size", size)]
    return f"{call.base_url}{call.operation.path}?{urlencode(params)}"


def _listing(call: Call, memories: list[Memory], fields: list[str] | None, *, envelope: bool) -> Reply:
    items = [project(memory.to_api(), fields) for memory in memories] if fields else [m.to_api() for m in memories]
    if envelope or "page" in call.query or "page_size" in call.query:
        return Reply(200, _page(call, items))
    return Reply(200, items)


# --- lists ---------------------------------------------------------------------------------------

@handles("memories_list")
def list_v1(call: Call) -> Reply:
    """GET /v1/memories/: entity ids and side filters as query parameters."""
    entities = _v1_entities(call.query)
    extras = _compile(call, _extras(call.query))
    _require_entity(call, entities)
    memories = _matching(call, [_compile(call, entities), extras])
    return _listing(call, memories, call.query.get("fields"), envelope=False)


@handles("memories_list_v2")
def list_v2(call: Call) -> Reply:
    """POST /v2/memories/: the filter language; a bare array unless page parameters are given."""
    filters = call.body["filters"]
    predicate = _compile(call, filters)
    _require_entity(call, filters)
    memories = _matching(call, [predicate], show_expired=_body_flag(call, "show_expired"))
    return _listing(call, memories, call.query.get("fields"), envelope=False)


@handles("memories_list_v3")
def list_v3(call: Call) -> Reply:
    """POST /v3/memories/: the filter language plus side filters; always one page."""
    body = call.body
    filters = body["filters"]
    predicates = [_compile(call, filters), _compile(call, _extras(body))]
    _require_entity(call, filters)
    memories = _matching(call, predicates, show_expired=_body_flag(call, "show_expired"))
    return _listing(call, memories, body.get("fields"), envelope=True)


@handles("memories_entity_read")
def entity_memories(call: Call) -> Reply:
    """GET /v1/memories/{entity_type}/{entity_id}/: the listed memories of one entity."""
    key = ENTITY_TYPES.get(call.path["entity_type"])
    if key is None:
        raise bad_request(f"Invalid entity type '{call.path['entity_type']}'. Use one of: user, agent, app, run.")
    entity_id = call.path["entity_id"]
    memories = _matching(call, [lambda memory: getattr(memory, key) == entity_id])
    return Reply(200, [memory.to_api() for memory in memories])


# --- search --------------------------------------------------------------------------------------

def words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


def _search(call: Call, query: str, predicates: list[Predicate], *, top_k: Any, threshold: Any,
            fields: list[str] | None) -> list[dict[str, Any]]:
    """The best ``top_k`` listed memories by word-overlap score (see the module docstring)."""
    wanted = words(query)
    memories = _matching(call, predicates, show_expired=_body_flag(call, "show_expired"))
    scored = [(len(wanted & words(m.memory)) / len(wanted), m) for m in memories] if wanted else []
    floor = threshold if isinstance(threshold, int | float) else 0.0
    found = [(score, m) for score, m in scored if score > 0 and score >= floor]
    found.sort(key=lambda pair: pair[0], reverse=True)  # stable: equal scores stay newest first
    limit = top_k if isinstance(top_k, int) and top_k > 0 else 0
    return [project({**m.to_api(), "score": round(score, 6)}, fields) for score, m in found[:limit]]


@handles("memories_search_create")
def search_v1(call: Call) -> Reply:
    """POST /v1/memories/search/: ids in the body; a list (v1.0) or {"results"} (v1.1)."""
    body = call.body
    entities = _v1_entities(body)
    extras = _compile(call, _extras(body))
    _require_entity(call, entities, SEARCH_ENTITY_REQUIRED)
    results = _search(call, body["query"], [_compile(call, entities), extras], top_k=body.get("top_k", 10),
                      threshold=None, fields=body.get("fields"))
    return Reply(200, {"results": results} if body.get("output_format") == "v1.1" else results)


@handles("memories_search_v2")
def search_v2(call: Call) -> Reply:
    """POST /v2/memories/search/: the filter language; a bare array."""
    body = call.body
    predicate = _compile(call, body["filters"])
    _require_entity(call, body["filters"])
    return Reply(200, _search(call, body["query"], [predicate], top_k=body.get("top_k", 10),
                              threshold=body.get("threshold", 0.3), fields=body.get("fields")))


@handles("memories_search_v3")
def search_v3(call: Call) -> Reply:
    """POST /v3/memories/search/: the filter language plus categories/metadata; {"results": [...]}."""
    body = call.body
    predicates = [_compile(call, body["filters"]), _compile(call, _extras(
        {key: body.get(key) for key in ("categories", "metadata")}))]
    _require_entity(call, body["filters"])
    found = _search(call, body["query"], predicates, top_k=body.get("top_k", 10), threshold=body.get("threshold"),
                    fields=body.get("fields"))
    return Reply(200, found if call.fault(SEARCH_ANSWERS_BARE_LIST) else {"results": found})
