"""Checks that apply to any OpenAPI document."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from conformance.lint import Document, check

Yield = Iterator[tuple[tuple[Any, ...], str]]


@check("duplicate-operation-id", "Two operations share an operationId")
def duplicate_operation_ids(doc: Document) -> Yield:
    seen: dict[str, list[tuple[tuple[Any, ...], str]]] = defaultdict(list)
    for parts, method, path, operation in doc.operations():
        if "operationId" in operation:
            seen[operation["operationId"]].append((parts, f"{method} {path}"))
    for operation_id, uses in seen.items():
        if len(uses) > 1:
            names = ", ".join(name for _, name in uses)
            for parts, _ in uses:
                yield parts + ("operationId",), f"operationId {operation_id!r} is used by {names}"


@check("required-without-property", "A schema requires a property it does not declare")
def required_without_property(doc: Document) -> Yield:
    for parts, schema in doc.schemas():
        required = schema.get("required")
        properties = schema.get("properties")
        if isinstance(required, list) and isinstance(properties, dict):
            missing = [name for name in required if name not in properties]
            if missing:
                yield parts + ("required",), f"requires {', '.join(missing)}, which are not among its properties"


@check("body-on-204", "A 204 No Content response declares a body")
def body_on_204(doc: Document) -> Yield:
    for parts, method, path, operation in doc.operations():
        response = doc.resolve(operation.get("responses", {}).get("204"))
        if isinstance(response, dict) and response.get("content"):
            yield parts + ("responses", "204"), f"{method} {path} declares a body on 204"


@check("array-without-items", "An array schema has no items")
def array_without_items(doc: Document) -> Yield:
    for parts, schema in doc.schemas():
        if schema.get("type") == "array" and "items" not in schema:
            yield parts, "type array without items"


@check("nullable-enum-without-null", "A nullable enum does not list null")
def nullable_enum_without_null(doc: Document) -> Yield:
    for parts, schema in doc.schemas():
        if schema.get("nullable") is True and "enum" in schema and None not in schema["enum"]:
            yield parts + ("enum",), "nullable: true, but the enum does not contain null, so null is rejected"


def _requires_auth(doc: Document, operation: dict[str, Any]) -> bool:
    security = operation.get("security", doc.raw.get("security", []))
    return any(requirement for requirement in security)


@check("auth-without-401", "An operation requires authentication but declares no 401")
def auth_without_401(doc: Document) -> Yield:
    for parts, method, path, operation in doc.operations():
        if _requires_auth(doc, operation) and "401" not in operation.get("responses", {}):
            yield parts + ("responses",), f"{method} {path} requires authentication and declares no 401"


@check("resource-without-404", "An operation addresses a resource by path parameter but declares no 404")
def resource_without_404(doc: Document) -> Yield:
    for parts, method, path, operation in doc.operations():
        if "{" in path and "404" not in operation.get("responses", {}):
            yield parts + ("responses",), f"{method} {path} can address a missing resource and declares no 404"


@check("server-url-trailing-slash", "A server URL ends in '/', so joined paths get '//'")
def server_url_trailing_slash(doc: Document) -> Yield:
    for index, server in enumerate(doc.raw.get("servers", [])):
        if server.get("url", "").endswith("/"):
            yield ("servers", index, "url"), f"server URL {server['url']!r} ends in '/'"


@check("multiple-servers", "The document lists several servers; a target must say which one it is")
def multiple_servers(doc: Document) -> Yield:
    servers = doc.raw.get("servers", [])
    if len(servers) > 1:
        yield ("servers",), f"{len(servers)} servers: {', '.join(s.get('url', '?') for s in servers)}"


@check("duplicate-schema-title", "Two component schemas share a title")
def duplicate_schema_title(doc: Document) -> Yield:
    titles: dict[str, list[str]] = defaultdict(list)
    for name, schema in doc.raw.get("components", {}).get("schemas", {}).items():
        if isinstance(schema, dict) and "title" in schema:
            titles[schema["title"]].append(name)
    for title, names in titles.items():
        if len(names) > 1:
            for name in names:
                yield ("components", "schemas", name, "title"), f"title {title!r} is shared by {', '.join(names)}"


def _undeclared(doc: Document, schema: Any, value: Any, parts: tuple[Any, ...]) -> Yield:
    schema = doc.resolve(schema)
    if not isinstance(schema, dict):
        return
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        branch = doc.resolve(branch)
        if isinstance(branch, dict) and branch.get("type") == ("object" if isinstance(value, dict) else "array"):
            yield from _undeclared(doc, branch, value, parts)
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        properties = schema["properties"]
        for key, item in value.items():
            if key in properties:
                yield from _undeclared(doc, properties[key], item, parts + (key,))
            elif schema.get("additionalProperties") in (None, False):
                yield parts + (key,), f"the example sets {key!r}, which the schema does not declare"
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from _undeclared(doc, schema["items"], item, parts + (index,))


@check("example-undeclared-property", "An example carries a property its schema does not declare")
def example_undeclared_property(doc: Document) -> Yield:
    for parts, _method, _path, operation in doc.operations():
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            base = parts + ("requestBody", "content", media)
            if "example" in content:
                yield from _undeclared(doc, content.get("schema"), content["example"], base + ("example",))
            for name, example in content.get("examples", {}).items():
                if isinstance(example, dict) and "value" in example:
                    value_parts = base + ("examples", name, "value")
                    yield from _undeclared(doc, content.get("schema"), example["value"], value_parts)
