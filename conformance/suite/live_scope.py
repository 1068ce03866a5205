"""Live-target safety for schemathesis: what the suite lets schemathesis send a target.

schemathesis generates ids at random and follows links, so on a live target it could address
data this run did not create. On a target that is not the embedded reference server and does
not allow destructive operations, a :class:`Scope` keeps every request inside the run:

1. operations that cannot be scoped to the run (delete-all, organization and project creation,
   change and deletion, every member change) are not generated at all (:data:`UNSCOPED`);
2. every entity id in a request (``user_id``, ``agent_id``, ``app_id``, ``run_id`` in the query,
   the body and at any depth inside ``filters``, and the ``{entity_id}``/``{entity_name}`` path
   parameters), an empty one included, becomes a run-prefixed id; the same generated value always
   maps to the same id, so that an add and the list after it still meet; sandbox tags and webhook
   names (:data:`LABELS`) become run-prefixed names the same way, and an acquire body without a
   tag gets one;
3. every path id (``memory_id``, ``sandbox_id``, ``webhook_id``, ``event_id``, ``org_id``,
   ``project_id``) and every ``memory_id`` in a body that the run has not seen in its own
   answers becomes a fresh random id that cannot exist.

The rewriting is plain functions on dicts, unit-tested without network in
``tests/test_schema_safety.py``; :mod:`conformance.suite.call_hooks` applies it to each case.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.apis import ENTITY_TYPES

# operationIds that no run prefix can scope: they act on the whole project, organization or
# membership. Not generated on a live target without allow_destructive.
UNSCOPED = frozenset({
    "memories_delete_all",
    "create_organization", "delete_organization",
    "add_organization_member", "update_organization_member_role", "remove_organization_member",
    "create_project", "update_project", "delete_project",
    "add_project_member", "update_project_member", "deleteProjectMember",
    # the project's profile settings, and jobs that generate the profiles of users the body names or the
    # server samples among all of the project's
    "profile_settings_update", "profile_jobs_create",
})
ENTITY_KEYS = {key: kind for kind, key in ENTITY_TYPES.items()}  # an entity id's key -> its entity type
# (path prefix, key): names in bodies and queries that tag what the run creates or lists, run-prefixed
# so that the run's sandboxes and webhooks are recognisable as its own (and its lists show only those).
LABELS = (("/sandbox", "tag"), ("/api/v1/webhooks/", "name"))
PATH_ENTITIES = ("entity_id", "entity_name")
PATH_IDS = frozenset({"memory_id", "sandbox_id", "webhook_id", "event_id", "org_id", "project_id"})
BODY_IDS = frozenset({"memory_id"})  # ids a body names (batch update/delete, feedback)
LEARNED_KEYS = frozenset({"id", "memory_id", "sandbox_id", "webhook_id", "event_id"})
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_ENTITY_TYPES = {"user": "user", "users": "user", "agent": "agent", "agents": "agent",
                 "app": "app", "apps": "app", "run": "run", "runs": "run"}


@dataclass
class Scope:
    """Rewrites the requests of one run; ``on_entity(kind, id)`` hears of each entity id it hands out."""

    prefix: str
    on_entity: Callable[[str, str], None] = lambda kind, ident: None
    known: set[str] = field(default_factory=set)  # ids seen in the run's own answers

    def owns(self, value: object) -> bool:
        return isinstance(value, str) and (value.startswith(f"{self.prefix}-") or value in self.known)

    # -- entity ids ------------------------------------------------------------------------------
    def entity(self, kind: str, value: Any) -> Any:
        """The run-prefixed id for a generated entity id (deterministic), an empty one included (a live
        platform may read ``?user_id=`` as no filter at all); null, booleans and containers unchanged."""
        ident = self.label(kind, value)
        if ident is not value:
            self.on_entity(kind, ident)
        return ident

    def label(self, kind: str, value: Any) -> Any:
        """``value`` as a run-prefixed name (``<prefix>-<kind>-<digest>``) unless the run owns it already."""
        if isinstance(value, bool) or value is None or not isinstance(value, (str, int, float)):
            return value
        if isinstance(value, str) and value.startswith(f"{self.prefix}-"):
            return value
        digest = hashlib.sha256(str(value).encode("utf-8", "surrogatepass")).hexdigest()[:12]
        return f"{self.prefix}-{kind}-{digest}"

    def labels(self, data: dict[str, Any], path: str) -> dict[str, Any]:
        """Names the run gives what it creates or looks up: sandbox tags, webhook names (:data:`LABELS`)."""
        return {key: self.label(key, value) if any(key == name and path.startswith(prefix) for prefix, name in LABELS)
                else value for key, value in data.items()}

    def entities(self, data: Any, kind: str | None = None) -> Any:
        """``data`` with every value under an entity key rewritten, at any depth (lists, operators)."""
        if isinstance(data, dict):
            return {key: self.entities(value, ENTITY_KEYS.get(key, kind) if isinstance(key, str) else kind)
                    for key, value in data.items()}
        if isinstance(data, list):
            return [self.entities(item, kind) for item in data]
        return self.entity(kind, data) if kind is not None else data

    # -- ids of resources --------------------------------------------------------------------------
    def absent(self, value: Any) -> Any:
        """``value`` when the run owns it, else a fresh random id of the same shape that cannot exist."""
        if self.owns(value):
            return value
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return 10**17 + uuid.uuid4().int % 10**17
        if isinstance(value, str) and _UUID.match(value):
            return str(uuid.uuid4())
        if isinstance(value, str):
            return f"{self.prefix}-absent-{uuid.uuid4().hex[:12]}"
        return value

    def body_ids(self, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: self.absent(value) if key in BODY_IDS and not isinstance(value, (dict, list))
                    else self.body_ids(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.body_ids(item) for item in data]
        return data

    def path(self, params: dict[str, Any]) -> dict[str, Any]:
        """Path parameters: entity ids run-prefixed (kind from ``entity_type``), resource ids owned or absent."""
        kind = _ENTITY_TYPES.get(str(params.get("entity_type", "")).lower(), "entity")
        result = {}
        for name, value in params.items():
            if name in PATH_ENTITIES:
                result[name] = self.entity(kind, value)
            elif name in PATH_IDS:
                result[name] = self.absent(value)
            else:
                result[name] = value
        return result

    def body(self, data: Any) -> Any:
        return self.body_ids(self.entities(data))

    def query(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.entities(params)

    # -- learning from answers ---------------------------------------------------------------------
    def learn(self, method: str, status: int, body: Any) -> None:
        """Remember the ids of resources in a 2xx answer that belong to the run.

        A resource belongs to the run when it names a run-prefixed entity, or when it is in the
        answer to a POST (a create) and names no entity of someone else.
        """
        if not 200 <= status < 300:
            return
        for obj in objects_in(body):
            entities = [obj[key] for key in ENTITY_KEYS if isinstance(obj.get(key), str) and obj[key]]
            mine = any(self.owns(e) for e in entities)
            foreign = any(not self.owns(e) for e in entities)
            if mine or (method.upper() == "POST" and not foreign):
                self.known.update(str(obj[key]) for key in LEARNED_KEYS
                                  if isinstance(obj.get(key), (str, int)) and not isinstance(obj.get(key), bool))


def objects_in(body: Any) -> list[dict]:
    """Every object in a JSON value, each before the values it holds, in document order. Walked with a stack, not
    a generator per value: every answer of a run is walked (a list of 20 memories holds about 300 values)."""
    found: list[dict] = []
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.append(node)
            stack.extend(reversed(node.values()))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return found


def rewrite_case(scope: Scope, case: Any) -> None:
    """Rewrite a schemathesis case in place (its query, body and path parameters)."""
    if case.path_parameters:
        linked = set(linked_parameters(case))
        case.path_parameters = scope.path(dict(case.path_parameters))
        keep_generated(case, linked)
    if case.query:
        case.query = scope.labels(scope.query(dict(case.query)), getattr(case, "path", ""))
    if isinstance(case.body, (dict, list)):
        case.body = scope.body(case.body)
    if isinstance(case.body, dict):
        case.body = scope.labels(case.body, getattr(case, "path", ""))
        if getattr(case, "path", "") == "/sandbox/mem0" and str(case.method).upper() == "POST" and "tag" not in case.body:
            case.body = {**case.body, "tag": scope.label("tag", "")}  # an acquired sandbox names the run


def linked_parameters(case: Any) -> dict[str, Any]:
    override = getattr(case, "_override", None)
    return dict(getattr(override, "path_parameters", None) or {})


def keep_generated(case: Any, linked: set[str]) -> None:
    """A replaced *generated* path id stays "generated" for schemathesis.

    schemathesis counts every value that differs from what it generated as explicit (as if it came
    from a link), and ensure_resource_availability then reads a 404 for the absent id as "the
    resource just created is gone". Updating schemathesis's stored copy (private state, hence
    the guards) keeps link-given values explicit and generated ones generated.
    """
    for location, stored in (getattr(case, "_components", None) or {}).items():
        if getattr(location, "container_name", None) == "path_parameters" and isinstance(stored.value, dict):
            for name, value in case.path_parameters.items():
                if name not in linked and name in stored.value:
                    stored.value[name] = value
