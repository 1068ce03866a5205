"""The Mem0 calls the memory machines and tests share: adding, settling events, listing all pages.

Every helper asserts what FACTS.md documents about the answer's shape and returns plain data,
so that the machines compare with their models and nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.client import ApiClient
from conformance.suite.support import eventually, expect

ADD_MODES = ("v3-sync", "v1-sync", "v3-async", "v1-async")


def _text_of(result: dict[str, Any]) -> str:
    """The stored text of an add result: ``memory`` (v1.1, v3) or ``data.memory`` (v1.0)."""
    if isinstance(result.get("memory"), str):
        return result["memory"]
    return (result.get("data") or {}).get("memory")


def add_memories(mem0: ApiClient, texts: list[str], *, mode: str = "v1-sync", **fields: Any) -> list[tuple[str, str]]:
    """Add one memory per text (``infer: false``, one user message each); ``(id, stored text)`` pairs.

    ``mode``: ``v3-sync`` / ``v1-sync`` answer at once; ``v3-async`` / ``v1-async`` answer a queued
    event, polled with ``GET /v1/event/{id}/`` until SUCCEEDED, within the target's consistency wait.
    """
    version, _, timing = mode.partition("-")
    body = {"messages": [{"role": "user", "content": text} for text in texts], "infer": False,
            "async_mode": timing == "async", **fields}
    path = "/v3/memories/add/" if version == "v3" else "/v1/memories/"
    answer = expect(mem0.post(path, json=body), 200, what=f"add ({mode})")
    if timing == "async":
        event = answer if isinstance(answer, dict) and "event_id" in answer else _single(answer)
        assert event.get("status") in ("PENDING", "RUNNING", "SUCCEEDED"), f"queued add answered {event}"
        results = settle(mem0, event["event_id"])
    else:
        results = answer["results"] if isinstance(answer, dict) else answer
    created = [(result["id"], _text_of(result)) for result in results if result.get("event", "ADD") == "ADD"]
    assert sorted(text for _, text in created) == sorted(texts), (
        f"add ({mode}) of {len(texts)} message(s) with infer false stored {[t for _, t in created]!r}, "
        f"expected the messages verbatim: {texts!r}"
    )
    return created


def _single(answer: Any) -> dict[str, Any]:
    items = answer["results"] if isinstance(answer, dict) else answer
    assert isinstance(items, list) and len(items) == 1, f"a queued v1 add answers one event, got {answer!r}"
    return items[0]


def settle(mem0: ApiClient, event_id: str) -> list[dict[str, Any]]:
    """Poll the event until SUCCEEDED (bounded by the consistency wait, always in full: a replay
    must see the same queued work settle); its results."""

    def succeeded() -> list[dict[str, Any]]:
        event = expect(mem0.get(f"/v1/event/{event_id}/"), 200)
        if event["status"] == "FAILED":
            pytest.fail(f"event {event_id} FAILED: {event}")
        assert event["status"] == "SUCCEEDED", f"event {event_id} is {event['status']}"
        return event.get("results") or []

    return eventually(succeeded, within=mem0.wait, what=f"queued add {event_id} settles")


def pages(mem0: ApiClient, version: str, filters: dict[str, Any], page_size: int, **body: Any) -> list[list[dict]]:
    """Every page of a v2/v3 list, walked by page number until ``next`` is null.

    Asserts the envelope: the same ``count`` on every page, full pages but the last, and
    ``count`` items in all.
    """
    path = f"/{version}/memories/"
    found: list[list[dict]] = []
    count = None
    page = 1
    while True:
        answer = expect(mem0.post(path, params={"page": page, "page_size": page_size}, json={"filters": filters, **body}),
                        200, what=f"{version} list page {page} (page_size {page_size})")
        assert set(answer) >= {"count", "next", "previous", "results"}, f"page {page} is not an envelope: {answer!r}"
        assert count is None or answer["count"] == count, f"count changed from {count} to {answer['count']} on page {page}"
        count = answer["count"]
        assert len(answer["results"]) <= page_size, f"page {page} holds {len(answer['results'])} > {page_size} items"
        found.append(answer["results"])
        if answer["next"] is None:
            break
        assert len(answer["results"]) == page_size, f"page {page} is not full but has a next page"
        assert page <= count, f"more pages than items ({count})"
        page += 1
    assert sum(map(len, found)) == count, f"the pages hold {sum(map(len, found))} items, count says {count}"
    return found


def listed(mem0: ApiClient, filters: dict[str, Any], *, page_size: int = 100) -> dict[str, dict[str, Any]]:
    """All memories a v3 list shows for ``filters``, by id (every page, no id twice)."""
    everything: dict[str, dict[str, Any]] = {}
    for page in pages(mem0, "v3", filters, page_size):
        for memory in page:
            assert memory["id"] not in everything, f"memory {memory['id']} is listed twice"
            everything[memory["id"]] = memory
    return everything
