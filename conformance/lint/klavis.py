"""Checks that encode published facts about the Klavis mem0 sandbox API (see FACTS.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.lint import Document, check

Yield = Iterator[tuple[tuple[Any, ...], str]]
KLAVIS = ("klavis",)


@check("records-created-undocumented", "The initialize response does not declare records_created", apis=KLAVIS)
def records_created_undocumented(doc: Document) -> Yield:
    schema = doc.raw.get("components", {}).get("schemas", {}).get("InitializeSandboxResponse")
    if schema is not None and "records_created" not in schema.get("properties", {}):
        yield ("components", "schemas", "InitializeSandboxResponse", "properties"), (
            "real servers send records_created, which the schema does not declare"
        )


@check("non-nullable-booleans", "Mem0Memory booleans reject null while every other field accepts it", apis=KLAVIS)
def non_nullable_booleans(doc: Document) -> Yield:
    properties = doc.raw.get("components", {}).get("schemas", {}).get("Mem0Memory", {}).get("properties", {})
    for name, schema in properties.items():
        parts = ("components", "schemas", "Mem0Memory", "properties", name)
        if schema.get("type") == "boolean" and not doc.accepts(parts, None):
            yield parts, f"{name} rejects null (the klavis SDK types it Optional[bool])"
