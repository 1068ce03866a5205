"""Checks that encode published facts about the Mem0 platform API (see FACTS.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.lint import Document, check

Yield = Iterator[tuple[tuple[Any, ...], str]]
MEM0 = ("mem0",)
A_UUID = "7b3f1c2e-9a4d-4c51-8e0f-2d6a9b1c3e5f"


def _body_schema(doc: Document, method: str, path: str) -> tuple[Any, ...] | None:
    found = doc.operation(method, path)
    if found is None or "application/json" not in found[1].get("requestBody", {}).get("content", {}):
        return None
    return found[0] + ("requestBody", "content", "application/json", "schema")


def _response_schema(doc: Document, method: str, path: str, status: str) -> tuple[Any, ...] | None:
    found = doc.operation(method, path)
    if found is None:
        return None
    response = found[1].get("responses", {}).get(status, {})
    if "application/json" not in response.get("content", {}):
        return None
    return found[0] + ("responses", status, "content", "application/json", "schema")


@check("messages-not-required", "MemoryInput does not require messages", apis=MEM0)
def messages_not_required(doc: Document) -> Yield:
    schema = doc.raw.get("components", {}).get("schemas", {}).get("MemoryInput")
    if schema is not None and "messages" not in schema.get("required", []):
        yield ("components", "schemas", "MemoryInput"), "an add without messages is valid by the schema"


@check("add-response-lacks-queued", "The add response does not allow the queued (async) answer", apis=MEM0)
def add_response_lacks_queued(doc: Document) -> Yield:
    queued = {"message": "Memory processing has been queued for background execution", "status": "PENDING", "event_id": A_UUID}
    parts = _response_schema(doc, "POST", "/v1/memories/", "200")
    if parts is not None and not doc.accepts(parts, queued):
        yield parts, "the answer to an add in async mode (the platform default) is rejected by the schema"


@check("batch-delete-body", "The batch delete body is not {memories: [{memory_id}]}", apis=MEM0)
def batch_delete_body(doc: Document) -> Yield:
    parts = _body_schema(doc, "DELETE", "/v1/batch/")
    if parts is not None and not doc.accepts(parts, {"memories": [{"memory_id": A_UUID}]}):
        yield parts, "the body the API and SDKs send ({memories: [{memory_id}]}) is rejected by the schema"


@check("batch-update-requires-text", "A batch update item must carry text", apis=MEM0)
def batch_update_requires_text(doc: Document) -> Yield:
    parts = _body_schema(doc, "PUT", "/v1/batch/")
    if parts is not None and not doc.accepts(parts, {"memories": [{"memory_id": A_UUID, "metadata": {"k": "v"}}]}):
        yield parts, "a metadata-only batch update item is rejected by the schema"


@check("custom-categories-not-list", "custom_categories is typed as an object, not a list", apis=MEM0)
def custom_categories_not_list(doc: Document) -> Yield:
    for parts, schema in doc.schemas():
        if parts and parts[-2:] == ("properties", "custom_categories") and not doc.accepts(parts, [{"hobbies": "what the user does for fun"}]):
            yield parts, "a list of {name: description} objects is rejected by the schema"


@check("expiration-date-not-date", "expiration_date is not typed as a date (YYYY-MM-DD)", apis=MEM0)
def expiration_date_not_date(doc: Document) -> Yield:
    for parts, schema in doc.schemas():
        if parts[-2:] == ("properties", "expiration_date") and schema.get("format") != "date":
            yield parts, f"format is {schema.get('format')!r}, but the value is a YYYY-MM-DD date"


@check("webhook-event-names", "Webhook event names differ from the documented memory_add, memory_update, memory_delete", apis=MEM0)
def webhook_event_names(doc: Document) -> Yield:
    for parts, schema in doc.schemas():
        enum = schema.get("enum", [])
        if any(isinstance(v, str) and v.startswith("memory:") for v in enum):
            yield parts + ("enum",), f"event names {enum} use ':' where the documentation uses '_'"


@check("memory-text-named-name", "A memory listing names the memory text 'name' instead of 'memory'", apis=MEM0)
def memory_text_named_name(doc: Document) -> Yield:
    for method, path in (("GET", "/v1/memories/"), ("POST", "/v2/memories/")):
        parts = _response_schema(doc, method, path, "200")
        if parts is None:
            continue
        items = doc.resolve(doc.resolve(doc.node(parts)).get("items", {}))
        if isinstance(items, dict) and "name" in items.get("properties", {}) and "memory" not in items.get("properties", {}):
            yield parts + ("items", "properties", "name"), f"{method} {path} lists memories with 'name', the API sends 'memory'"

