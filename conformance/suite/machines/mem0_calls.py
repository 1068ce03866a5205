"""The Mem0 calls the memory machines and tests share: adding, settling events, reading, listing all pages.

Every helper requires what FACTS.md documents about the answer's shape (a wrong shape is a
ContractViolation, never a KeyError) and returns plain data, so that the machines compare with
their models and nothing else.
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from conformance.client import ApiClient
from conformance.suite.support import eventually, expect
from conformance.verdicts import Severity, Source, fact, operation_source, require

ADD_MODES = ("v3-sync", "v1-sync", "v3-async", "v1-async")
QUEUED = ("PENDING", "RUNNING", "SUCCEEDED")
_SHAPES = {None: "a {results: [...]} envelope or an array", True: "a {results: [...]} envelope", False: "an array"}


def results_of(answer: Any, *, what: str, source: Source, envelope: bool | None = None) -> list[dict[str, Any]]:
    """The items of a Mem0 answer, each an object with an ``id``: from a ``{"results": [...]}``
    envelope or a bare array (``envelope`` True / False: only that shape)."""
    __tracebackhide__ = True
    if isinstance(answer, dict):
        items = answer.get("results") if envelope is not False else None
    else:
        items = answer if envelope is not True else None
    shape = f"{_SHAPES[envelope]} of objects with an id"
    require(isinstance(items, list) and all(isinstance(item, dict) and "id" in item for item in items),
            f"{what} answers no {shape}", received=answer, documented=shape, source=source)
    return items


def _text_of(result: dict[str, Any]) -> str:
    """The stored text of an add result: ``memory`` (v1.1, v3) or ``data.memory`` (v1.0)."""
    if isinstance(result.get("memory"), str):
        return result["memory"]
    data = result.get("data")
    return data.get("memory") if isinstance(data, dict) else None


def add_memories(mem0: ApiClient, texts: list[str], *, mode: str = "v1-sync", **fields: Any) -> list[tuple[str, str]]:
    """Add one memory per text (``infer: false``, one user message each); ``(id, stored text)`` pairs.

    ``mode``: ``v3-sync`` / ``v1-sync`` answer at once; ``v3-async`` / ``v1-async`` answer a queued
    event, polled with ``GET /v1/event/{id}/`` until SUCCEEDED, within the target's consistency wait.
    """
    version, _, timing = mode.partition("-")
    body = {"messages": [{"role": "user", "content": text} for text in texts], "infer": False,
            "async_mode": timing == "async", **fields}
    envelope = {"v1.0": False, "v1.1": True}.get(fields.get("output_format")) if version == "v1" else True
    operation = "POST /v3/memories/add/" if version == "v3" else "POST /v1/memories/"
    source = fact("Add", operation)
    answer = expect(mem0.post(operation.partition(" ")[2], json=body), 200, what=f"{operation} ({mode})", source=source)
    if timing == "async":
        event = answer if isinstance(answer, dict) and "event_id" in answer and version == "v3" else \
            _single(answer, operation, source, envelope)
        require(event.get("status") in QUEUED, f"{operation} ({mode}) answers a queued event with status {event.get('status')!r}",
                received=answer, documented=f"a queued event: status one of {' | '.join(QUEUED)}, an event_id",
                source=source)
        results = settle(mem0, event["event_id"])
    else:
        results = results_of(answer, what=f"{operation} ({mode})", source=source, envelope=envelope)
    require(all(result.get("event") == "ADD" for result in results), f"{operation} ({mode}) of new texts answers "
            f"events {[result.get('event') for result in results]}", received=results,
            documented="event ADD for every memory an add of new texts creates", source=source)
    created = [(result["id"], _text_of(result)) for result in results]
    stored = sorted(text for _, text in created)
    require(stored == sorted(texts),
            f"{operation} ({mode}) of {len(texts)} message(s) with infer false stores {len(created)} memories, "
            "not the messages verbatim",
            received=[text for _, text in created], documented=f"each message verbatim, one memory each: {texts!r}",
            source=source, severity=Severity.CRITICAL)
    return created


def _single(answer: Any, operation: str, source: Source, envelope: bool | None = None) -> dict[str, Any]:
    items = answer.get("results") if isinstance(answer, dict) and envelope is not False else (
        answer if envelope is not True else None)
    require(isinstance(items, list) and len(items) == 1 and isinstance(items[0], dict) and "event_id" in items[0],
            f"{operation} (queued) answers {len(items) if isinstance(items, list) else 'no list of'} events, not one",
            received=answer, documented='one queued event {message, status: "PENDING", event_id}', source=source)
    return items[0]


def settle(mem0: ApiClient, event_id: str) -> list[dict[str, Any]]:
    """Poll the event until it settles (bounded by the consistency wait, always in full: a replay
    must see the same queued work settle); the results of a SUCCEEDED one."""
    source = fact("Add", "GET /v1/event/{event_id}/")

    def settled() -> dict[str, Any]:
        event = expect(mem0.get(f"/v1/event/{event_id}/"), 200, source=source)
        status = event.get("status") if isinstance(event, dict) else None
        require(status in ("SUCCEEDED", "FAILED"), f"GET /v1/event/{event_id}/: the queued add is still {status!r}",
                received=event, documented="PENDING | RUNNING, then SUCCEEDED within the consistency wait",
                source=source)
        return event

    event = eventually(settled, within=mem0.wait, what=f"queued add {event_id} settles")
    require(event["status"] == "SUCCEEDED", f"GET /v1/event/{event_id}/: the queued add FAILED",
            received=event, documented="the add SUCCEEDED", source=source)
    return results_of(event.get("results") or [], what=f"GET /v1/event/{event_id}/", source=source)


def memory_of(mem0: ApiClient, memory_id: str, *, what: str = "", source: Source | None = None) -> dict[str, Any]:
    """``GET /v1/memories/{id}/``: the memory, a JSON object (200 required)."""
    __tracebackhide__ = True
    source = source or operation_source("GET /v1/memories/{memory_id}/")
    memory = expect(mem0.get(f"/v1/memories/{memory_id}/"), 200, what=what, source=source)
    require(isinstance(memory, dict), f"GET /v1/memories/{memory_id}/ answers no memory object",
            received=memory, documented="the memory: an object with id, memory, user_id, metadata, …", source=source)
    return memory


def expect_deleted(mem0: ApiClient, memory_id: str, *, what: str, source: Source) -> Any:
    """``GET /v1/memories/{id}/`` of a deleted memory: 404 (its body); a 2xx is a deleted memory still visible."""
    __tracebackhide__ = True
    response: httpx.Response = mem0.get(f"/v1/memories/{memory_id}/")
    require(not response.is_success, f"{what} answers {response.status_code}: the deleted memory is still there",
            received=f"{response.status_code} {response.text[:300]}", documented="404: a deleted memory is gone",
            source=source, severity=Severity.CRITICAL)
    return expect(response, 404, what=what, source=source)


def expect_kept(response: httpx.Response, *, what: str, source: Source) -> Any:
    """The body of a 200 for something that must still exist; a 404 is data lost (critical)."""
    __tracebackhide__ = True
    require(response.status_code != 404, f"{what} answers 404: it is gone",
            received=f"{response.status_code} {response.text[:300]}", documented="200: it is kept",
            source=source, severity=Severity.CRITICAL)
    return expect(response, 200, what=what, source=source)


def history_of(mem0: ApiClient, memory_id: str) -> list[dict[str, Any]]:
    """``GET /v1/memories/{id}/history/``: its entries, each an object with an ``event``."""
    source = fact("History", "GET /v1/memories/{memory_id}/history/")
    entries = expect(mem0.get(f"/v1/memories/{memory_id}/history/"), 200, source=source)
    require(isinstance(entries, list) and all(isinstance(entry, dict) and "event" in entry for entry in entries),
            f"GET /v1/memories/{memory_id}/history/ answers no array of history entries", received=entries,
            documented="an array of {id, memory_id, old_memory, new_memory, event: ADD|UPDATE|DELETE, …}", source=source)
    return entries


def pages(mem0: ApiClient, version: str, filters: dict[str, Any], page_size: int, *,
          params: dict[str, Any] | None = None, **body: Any) -> list[list[dict]]:
    """Every page of a v1, v2 or v3 list, walked by page number until ``next`` is null.

    v1 takes its entity ids (``filters``, flat) as query parameters, v2 and v3 the filter language in
    the body. Requires the envelope: the same ``count`` on every page, full pages but the last, and
    ``count`` items in all.
    """
    operation = "GET /v1/memories/" if version == "v1" else f"POST /{version}/memories/"
    source = fact("Pagination", operation)
    found: list[list[dict]] = []
    count = None
    page = 1
    while True:
        label = f"{operation} page {page} (page_size {page_size})"
        query = {**(params or {}), "page": page, "page_size": page_size}
        if version == "v1":
            response = mem0.get("/v1/memories/", params={**filters, **query})
        else:
            response = mem0.post(operation.partition(" ")[2], params=query, json={"filters": filters, **body})
        answer = expect(response, 200, what=label, source=source)
        require(isinstance(answer, dict) and set(answer) >= {"count", "next", "previous", "results"}
                and isinstance(answer["count"], int), f"{label} is not a {{count, next, previous, results}} envelope",
                received=answer, documented="{count: integer, next, previous, results}", source=source)
        require(count is None or answer["count"] == count, f"{label} says count {answer['count']}, the page before said {count}",
                received=answer["count"], documented=f"the same count on every page: {count}", source=source)
        count = answer["count"]
        results = results_of(answer, what=label, source=source, envelope=True)
        require(len(results) <= page_size, f"{label} holds {len(results)} items, more than the page size",
                received=len(results), documented=f"at most {page_size} items a page", source=source)
        require((answer["previous"] is None) == (page == 1), f"{label} has previous {answer['previous']!r}",
                received=answer["previous"], documented="a link to the page before, except on page 1", source=source)
        found.append(results)
        if answer["next"] is None:
            break
        of = math.ceil(count / page_size)
        require(len(results) == page_size,
                f"{operation} page {page} of {of} (page_size {page_size}) holds {len(results)} items but has a next page",
                received={"results": len(results), "next": answer["next"], "count": count},
                documented=f"every page but the last holds page_size ({page_size}) items", source=source)
        require(page <= count, f"{label} has a next page though count is {count}",
                received={"page": page, "next": answer["next"], "count": count},
                documented="no more pages than items", source=source)
        page += 1
    total = sum(map(len, found))
    require(total == count, f"{operation}: the {len(found)} pages (page_size {page_size}) hold {total} items, count says {count}",
            received=total, documented=f"count ({count}) items in all", source=source)
    return found


def listed(mem0: ApiClient, filters: dict[str, Any], *, page_size: int = 100,
           version: str = "v2") -> dict[str, dict[str, Any]]:
    """All memories a v2 or v3 list shows for ``filters``, by id (every page, no id twice)."""
    everything: dict[str, dict[str, Any]] = {}
    operation = f"POST /{version}/memories/"
    for number, page in enumerate(pages(mem0, version, filters, page_size), start=1):
        for memory in page:
            require(memory["id"] not in everything,
                    f"{operation} (page_size {page_size}) lists memory {memory['id']} twice (again on page {number})",
                    received=memory, documented="each memory on exactly one page",
                    source=fact("Pagination", operation))
            everything[memory["id"]] = memory
    return everything
