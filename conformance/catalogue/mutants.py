"""The mutant catalogue: every mutant of the reference server, generated from the effective documents.

A mutant is one named, reproducible change of the reference server's behaviour on one operation,
planted where the handlers meet the server (the request a handler reads, the store it changes,
the answer it gives: :mod:`conformance.server.mutation`), never inside a handler. Its id names
the operation, the site and the operator: ``memories_search_v2:request.filters.user_id:ignored``.

Families and operators (why each exists: ARCHITECTURE.md, "Mutants"):

=========  ======================  ================================================================
request    ``ignored``             an optional parameter is read as if it had not been sent
           ``off-by-one``          an integer parameter is read one higher than it was sent
           ``<bound>-off-by-one``  a documented bound lets one more through (``maxItems`` 1000: 1001)
           ``<bound>-tightened``   a documented bound refuses its own limit
           ``<bound>-unchecked``   a documented bound is not applied
state      ``no-op``               the operation answers as usual and changes nothing
           ``partial``             it leaves the last record it should change unchanged
           ``extra``               it also changes one more record of the same kind, not asked for
answer     ``dropped``             a property is left out
           ``other``               a property carries the value another record had in an answer
           ``before``              a property carries the record's value from before the request
           ``lose-last``           an array loses its last item
           ``gain-foreign``        an array gains an item an answer of another scope held
=========  ======================  ================================================================

Sites come from the documents: every optional query parameter and body property (at the top, inside
objects such as ``filters`` and inside the items of arrays such as ``memories`` or ``memory_list``,
two levels deep; ``filters`` objects also take the filter language's entity ids, FACTS.md "List/search
filters"), every ``minimum``/``maximum``/``minLength``/``maxLength``/``minItems``/``maxItems`` of a
request, every property of a declared answer (three levels deep; error answers: their top level),
and every array of a success answer. State mutants exist for every operation that changes state
(anything but GET and the POSTs that only read, :data:`conformance.retries.READING_POSTS`).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from conformance.apis import ENTITY_KEYS  # the filter language's entity ids (FACTS.md)
from conformance.catalogue.walk import bounds_of, branches, escape, follow, items_of, properties, types_of
from conformance.retries import READING_POSTS
from conformance.specs import APIS, HTTP_METHODS, effective

UPPER = frozenset({"maximum", "maxLength", "maxItems"})
FAMILIES = ("request", "state", "answer")
REQUEST_DEPTH = 2  # body properties: body.x, body.x.y, body.x[].y
ANSWER_DEPTH = 3  # answer properties: 200.results[].data.memory


@dataclass(frozen=True)
class Mutant:
    id: str
    api: str
    operation: str  # operationId
    label: str  # "POST /v2/memories/search/"
    family: str  # request | state | answer
    operator: str
    site: tuple[str, ...]  # ("query", "page") | ("body", "filters", "user_id") | ("200", "results", "[]", "memory") | ()
    sentence: str
    check: str  # what a test has to check to tell this mutant from the contract
    pointer: str | None = None  # bounds: the JSON pointer (effective document) of the schema carrying the keyword
    keyword: str | None = None
    limit: float | None = None
    # answers: the same documented property in the answer's other shapes (a bare list and its paginated envelope)
    alternatives: tuple[tuple[str, ...], ...] = ()

    @property
    def sites(self) -> tuple[tuple[str, ...], ...]:
        return (self.site, *self.alternatives)

    @property
    def reaches(self) -> tuple[str, ...]:
        """What a test must make the operation do for the mutant to be able to act: send this parameter, get this
        property (or a refusal) back, in any shape of the answer, change something (``<operation>:<site>``)."""
        name = self.id.split(":", 1)[0]
        if self.family != "answer" or not self.alternatives:
            return (self.id.rsplit(":", 1)[0],)
        return tuple(f"{name}:response.{render_site(site)}" for site in self.sites)

    @property
    def where(self) -> str:
        """The site as the id shows it: ``filters.user_id``, ``query.page``, ``200.results[].memory``."""
        return render_site(self.site[1:] if self.family == "request" and self.site[:1] == ("body",) else self.site)

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "api": self.api, "operation": self.operation, "label": self.label,
                "family": self.family, "operator": self.operator, "site": self.where, "sentence": self.sentence,
                "check": self.check}


def reached(operation: str, method: str, path: str, query: list[tuple[str, str]], body: Any, status: int,
            answer: Any) -> set[str]:
    """The reach keys (:attr:`Mutant.reaches`) one exchange of an operation touches: the parameters it sent,
    the properties its answer held, a success of a state-changing operation, a refusal with a body."""
    name = short_name(operation, method, path)
    found = {f"{name}:request.query.{key}" for key, _ in query}
    found |= {f"{name}:request.{where}" for where in _paths(body, "")}
    if 200 <= status < 300:
        found |= {f"{name}:response.{status}{where}" for where in _paths(answer, "", arrays=True)}
        if changes_state(method, path):
            found.add(f"{name}:state")
    elif 400 <= status < 500 and answer not in (None, "", {}):
        found.add(f"{name}:response.4xx")
    return found


def _paths(value: Any, prefix: str, *, arrays: bool = False, depth: int = 0) -> Iterator[str]:
    """Rendered sites of every property (and, with ``arrays``, every array) present in a JSON value."""
    if depth > 5:
        return
    if isinstance(value, list):
        if arrays:
            yield prefix
        for item in value:
            yield from _paths(item, prefix + "[]", arrays=arrays, depth=depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{prefix}.{key}" if prefix else (f".{key}" if arrays else key)
            yield where
            yield from _paths(item, where, arrays=arrays, depth=depth + 1)


def render_site(site: tuple[str, ...]) -> str:
    text = ""
    for segment in site:
        text += segment if segment == "[]" or not text else f".{segment}"
    return text


# --- request sites ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RequestSite:
    site: tuple[str, ...]
    schema: Any
    pointer: str
    required: bool


def request_sites(document: dict[str, Any], path: str, method: str) -> Iterator[RequestSite]:
    """Every query parameter and body property of one operation (see the module docstring)."""
    item = document["paths"][path]
    operation = item[method]
    base = f"/paths/{escape(path)}"
    parameters = [(p, f"{base}/parameters/{i}") for i, p in enumerate(item.get("parameters") or [])]
    parameters += [(p, f"{base}/{method}/parameters/{i}") for i, p in enumerate(operation.get("parameters") or [])]
    for raw, where in parameters:
        parameter, where = follow(document, raw, where)
        if parameter.get("in") == "query":
            yield RequestSite(("query", parameter["name"]), parameter.get("schema", {}), f"{where}/schema",
                              bool(parameter.get("required")))
    body, where = follow(document, operation.get("requestBody"), f"{base}/{method}/requestBody")
    media = ((body or {}).get("content") or {}).get("application/json")
    if media and "schema" in media:
        yield from _body_sites(document, media["schema"], f"{where}/content/application~1json/schema", ("body",), 1)


def _body_sites(document: dict[str, Any], node: Any, pointer: str, prefix: tuple[str, ...],
                depth: int) -> Iterator[RequestSite]:
    declared = properties(document, node, pointer)
    names = {name for name, *_ in declared}
    for name, schema, where, required in declared:
        site = (*prefix, name)
        yield RequestSite(site, schema, where, required)
        kinds = types_of(document, schema, where)
        if depth < REQUEST_DEPTH and "object" in kinds:
            yield from _body_sites(document, schema, where, site, depth + 1)
            if name == "filters":  # the filter language's entity ids (FACTS.md), not declared as properties
                known = {p for p, *_ in properties(document, schema, where)}
                yield from (RequestSite((*site, key), {"type": "string"}, where, False)
                            for key in ENTITY_KEYS if key not in known)
        found = items_of(document, schema, where) if "array" in kinds else None
        if depth < REQUEST_DEPTH and found is not None:
            yield from _body_sites(document, found[0], found[1], (*site, "[]"), depth + 1)
    del names


# --- answer sites ----------------------------------------------------------------------------------

def answer_sites(document: dict[str, Any], path: str,
                 method: str) -> Iterator[tuple[str, tuple[str, ...], bool, Any, str]]:
    """``(status, site, is_array, schema, pointer)`` of every property and array of every declared JSON answer."""
    responses = document["paths"][path][method].get("responses") or {}
    for status, raw in responses.items():
        response, where = follow(document, raw, f"/paths/{escape(path)}/{method}/responses/{status}")
        media = ((response or {}).get("content") or {}).get("application/json")
        if not media or "schema" not in media:
            continue
        schema, pointer = media["schema"], f"{where}/content/application~1json/schema"
        depth = ANSWER_DEPTH if status.startswith("2") else 1
        yield from _answer_walk(document, schema, pointer, (status,), depth, frozenset())


def _answer_walk(document: dict[str, Any], node: Any, pointer: str, site: tuple[str, ...], depth: int,
                 seen: frozenset[str]) -> Iterator[tuple[str, tuple[str, ...], bool, Any, str]]:
    status = site[0]
    found = items_of(document, node, pointer)
    if found is not None and "array" in types_of(document, node, pointer):
        yield status, site, True, node, pointer
        yield from _answer_walk(document, found[0], found[1], (*site, "[]"), depth, seen)
    if depth <= 0:
        return
    for name, schema, where, _ in properties(document, node, pointer):
        target = follow(document, schema, where)[1]
        if target in seen:
            continue
        child = (*site, name)
        yield status, child, False, schema, where
        yield from _answer_walk(document, schema, where, child, depth - 1, seen | {target})


# --- the catalogue ---------------------------------------------------------------------------------

def changes_state(method: str, path: str) -> bool:
    """Whether an operation can change what the server holds: anything but GET and the reading POSTs."""
    return method.upper() not in ("GET", "HEAD", "OPTIONS") and not (method.upper() == "POST" and path in READING_POSTS)


def short_name(operation_id: str, method: str, path: str) -> str:
    """The operation's name in mutant ids: its operationId, without the path and method that FastAPI
    appends to a generated one (``initialize_sandbox_sandbox_mem0__sandbox_id__initialize_post``:
    ``initialize_sandbox``)."""
    generated = re.sub(r"\W", "_", path) + "_" + method.lower()
    if operation_id.endswith(generated) and len(operation_id) > len(generated):
        return operation_id[:-len(generated)]
    return operation_id


def _mutant(api: str, operation: str, label: str, family: str, operator: str, site: tuple[str, ...],
            sentence: str, check: str, **bound: Any) -> Mutant:
    where = render_site(site[1:] if family == "request" and site[:1] == ("body",) else site)
    kind = "request." + where if family == "request" else "response." + where if family == "answer" else "state"
    method, _, path = label.partition(" ")
    return Mutant(f"{short_name(operation, method, path)}:{kind}:{operator}", api, operation, label, family, operator,
                  site, sentence, check, **bound)


def _request_mutants(api: str, operation: str, label: str, document: dict[str, Any], path: str,
                     method: str) -> Iterator[Mutant]:
    for found in request_sites(document, path, method):
        where = render_site(found.site[1:] if found.site[0] == "body" else found.site)
        named = f"the query parameter {found.site[1]}" if found.site[0] == "query" else where
        if not found.required:
            yield _mutant(api, operation, label, "request", "ignored", found.site,
                          f"{label} reads {named} as if it had not been sent.",
                          f"send {named} with a value that changes the outcome, and check the outcome")
        kinds = types_of(document, found.schema, found.pointer)
        if "integer" in kinds:
            yield _mutant(api, operation, label, "request", "off-by-one", found.site,
                          f"{label} reads the integer {named} one higher than it was sent.",
                          f"check that the outcome follows {named} exactly (an answer of that size, that moment, that page)")
        for keyword, limit, pointer in bounds_of(document, found.schema, found.pointer):
            shown = f"{keyword} {limit:g}"
            bound = {"pointer": pointer, "keyword": keyword, "limit": limit}
            yield _mutant(api, operation, label, "request", f"{keyword}-off-by-one", found.site,
                          f"{label} accepts {named} one past its documented {shown}.",
                          f"send {named} just past its {shown} and check the refusal", **bound)
            yield _mutant(api, operation, label, "request", f"{keyword}-tightened", found.site,
                          f"{label} refuses {named} at its documented {shown}.",
                          f"send {named} exactly at its {shown} and check it is accepted", **bound)
            yield _mutant(api, operation, label, "request", f"{keyword}-unchecked", found.site,
                          f"{label} does not apply the documented {shown} to {named}.",
                          f"send {named} well past its {shown} and check the refusal", **bound)


def _state_mutants(api: str, operation: str, label: str) -> Iterator[Mutant]:
    yield _mutant(api, operation, label, "state", "no-op", (), f"{label} answers as usual and changes nothing.",
                  "read back what the operation changed, and compare it with the model")
    yield _mutant(api, operation, label, "state", "partial", (),
                  f"{label} answers as usual and leaves the last record it should change unchanged.",
                  "change several records in one request and read every one of them back")
    yield _mutant(api, operation, label, "state", "extra", (),
                  f"{label} also applies its change to one more record of the same kind that the request did not name.",
                  "keep other records beside the one changed and check they stay as they were")


# Human-readable text: the documents fix no value for it, so another record's text, or the text from
# before, is as right as its own (its presence still counts: "dropped").
FREE_TEXT = frozenset({"message"})
# Bookkeeping any change moves, and what a new text moves besides (the memory's text is its ``memory``
# and its ``hash``, FACTS.md "History" and the Memory schema).
MOVED_BY_ANY_CHANGE = frozenset({"updated_at", "status"})
MOVED_BY = {"text": frozenset({"text", "memory", "hash"})}
# Operations whose answer is always a record the request made (an add's memories or queued event, a new
# webhook): nothing it shows existed before the request, so no ``before`` mutant applies to them.
MAKES_NEW = frozenset({"memories_create", "memories_add_v3", "create_webhook"})


def changeable(document: dict[str, Any], path: str, method: str) -> frozenset[str]:
    """The properties of a record that this operation can change: those its request names (and what they move)."""
    names = {site.site[-1] for site in request_sites(document, path, method) if len(site.site) == 2}
    names = {name for name in names if not (name == "id" or name.endswith("_id"))}  # an id names the record: it stays
    return frozenset(MOVED_BY_ANY_CHANGE | names | {moved for name in names for moved in MOVED_BY.get(name, ())})


def _single_valued(document: dict[str, Any], schema: Any, pointer: str) -> bool:
    """The documents allow one value only: a ``const`` or one-value ``enum`` on the property itself (beside a
    ``$ref``, as OpenAPI 3.1 allows) or on what it refers to."""
    nodes = [schema] if isinstance(schema, dict) else []
    nodes += [branch for branch, _ in branches(document, schema, pointer)]
    return any(len(node.get("enum") or [None, None]) == 1 or "const" in node for node in nodes)


def _answer_mutants(api: str, operation: str, label: str, document: dict[str, Any], path: str,
                    method: str) -> Iterator[Mutant]:
    """One mutant per operator and documented property (or array) of a success answer, acting on every shape of
    the answer that holds it (a bare list and its paginated envelope hold the same items); one ``emptied`` per
    operation that can refuse."""
    moved = changeable(document, path, method) if changes_state(method, path) else frozenset()
    refusals = False
    shapes: dict[tuple[str, bool, str], list[tuple[tuple[str, ...], Any, str]]] = {}
    for status, site, is_array, schema, pointer in answer_sites(document, path, method):
        if not status.startswith("2"):
            refusals = refusals or status.startswith("4")
            continue
        identity = pointer if not is_array else (items_of(document, schema, pointer) or (None, pointer))[1]
        identity = follow(document, {"$ref": "#" + identity} if identity.startswith("/") else schema, identity)[1]
        shapes.setdefault((status, is_array, identity + "|" + (site[-1] if not is_array else "")), []).append(
            (site, schema, pointer))
    for (status, is_array, _), found in shapes.items():
        found.sort(key=lambda entry: (len(entry[0]), entry[0]))  # the bare shape first: the id names it
        site, schema, pointer = found[0]
        alternatives = tuple(other for other, *_ in found[1:])
        field = render_site(site[1:])
        where = f"{field} of its {status} answer" if field else f"its {status} answer"
        extra = {"alternatives": alternatives}
        if is_array:
            yield _mutant(api, operation, label, "answer", "lose-last", site, f"{label} drops the last item of {where}.",
                          f"compare every item of {where} with the model, and their number", **extra)
            yield _mutant(api, operation, label, "answer", "gain-foreign", site,
                          f"{label} adds to {where} an item that an answer of another scope held.",
                          f"check that {where} holds nothing outside the request's scope", **extra)
            continue
        yield _mutant(api, operation, label, "answer", "dropped", site, f"{label} leaves {field} out of its {status} answer.",
                      f"require {field} in the {status} answer where the documents say it is sent", **extra)
        if site[-1] in FREE_TEXT or _single_valued(document, schema, pointer):
            continue
        yield _mutant(api, operation, label, "answer", "other", site,
                      f"{label} answers {where} with the value another record had.",
                      f"compare {field} with the model's value for this very record", **extra)
        if site[-1] in moved and operation not in MAKES_NEW:
            yield _mutant(api, operation, label, "answer", "before", site,
                          f"{label} answers {where} with the record's value from before the request.",
                          f"compare {field} with the model's value after the change", **extra)
    if refusals:
        yield _mutant(api, operation, label, "answer", "emptied", ("4xx",),
                      f"{label} refuses with an empty body (no error, message or detail).",
                      "check that every refusal of the operation says why (a non-empty error body)")


def _of_api(api: str) -> Iterator[Mutant]:
    document = effective(api)
    for path, item in document["paths"].items():
        for method, raw in item.items():
            if method not in HTTP_METHODS:
                continue
            operation, label = raw["operationId"], f"{method.upper()} {path}"
            yield from _request_mutants(api, operation, label, document, path, method)
            if changes_state(method, path):
                yield from _state_mutants(api, operation, label)
            yield from _answer_mutants(api, operation, label, document, path, method)


@functools.cache
def catalogue() -> dict[str, Mutant]:
    """Every mutant of both APIs by id, in document order (request, state, answer per operation)."""
    found: dict[str, Mutant] = {}
    for api in APIS:
        for mutant in _of_api(api):
            found.setdefault(mutant.id, mutant)
    return found


class UnknownMutant(ValueError):
    pass


def get(mutant_id: str) -> Mutant:
    try:
        return catalogue()[mutant_id]
    except KeyError:
        close = [m for m in catalogue() if mutant_id.split(":")[0] in m][:3]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownMutant(f"unknown mutant {mutant_id!r}{hint}; `mem0-conformance mutants list` lists them") from None


def matching(patterns: list[str] | tuple[str, ...]) -> list[Mutant]:
    """The mutants whose id matches any of the shell-style ``patterns`` (``*`` and ``?``), or contains one."""
    chosen = []
    for mutant in catalogue().values():
        if any(fnmatch.fnmatchcase(mutant.id, p) or ("*" not in p and "?" not in p and p in mutant.id) for p in patterns):
            chosen.append(mutant)
    return chosen
