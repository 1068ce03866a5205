"""Live safety for the schemathesis tests (``test_schema.py``): what schemathesis may send a target.

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
``tests/test_schema_safety.py``. The hooks at the end connect one active :class:`CallHooks` to
schemathesis's ``before_call``/``after_call``: they rewrite (live only), keep to the target's
rate limit and record every exchange into the suite's recorder, keys redacted.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import schemathesis

from conformance.client import Exchange, RateLimiter, Recorder
from conformance.apis import ENTITY_TYPES, UNSERVED
from conformance.verdicts import TargetBroken

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
        for obj in _objects(body):
            entities = [obj[key] for key in ENTITY_KEYS if isinstance(obj.get(key), str) and obj[key]]
            mine = any(self.owns(e) for e in entities)
            foreign = any(not self.owns(e) for e in entities)
            if mine or (method.upper() == "POST" and not foreign):
                self.known.update(str(obj[key]) for key in LEARNED_KEYS
                                  if isinstance(obj.get(key), (str, int)) and not isinstance(obj.get(key), bool))


def _objects(body: Any) -> Iterator[dict]:
    if isinstance(body, dict):
        yield body
        for value in body.values():
            yield from _objects(value)
    elif isinstance(body, list):
        for item in body:
            yield from _objects(item)


def rewrite_case(scope: Scope, case: Any) -> None:
    """Rewrite a schemathesis case in place (its query, body and path parameters)."""
    if case.path_parameters:
        linked = set(_overridden_path_parameters(case))
        case.path_parameters = scope.path(dict(case.path_parameters))
        _keep_generated(case, linked)
    if case.query:
        case.query = scope.labels(scope.query(dict(case.query)), getattr(case, "path", ""))
    if isinstance(case.body, (dict, list)):
        case.body = scope.body(case.body)
    if isinstance(case.body, dict):
        case.body = scope.labels(case.body, getattr(case, "path", ""))
        if getattr(case, "path", "") == "/sandbox/mem0" and str(case.method).upper() == "POST" and "tag" not in case.body:
            case.body = {**case.body, "tag": scope.label("tag", "")}  # an acquired sandbox names the run


def _overridden_path_parameters(case: Any) -> dict[str, Any]:
    override = getattr(case, "_override", None)
    return dict(getattr(override, "path_parameters", None) or {})


def _keep_generated(case: Any, linked: set[str]) -> None:
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


# -- a success path for generated ids ------------------------------------------------------------
# Which key of an answer's objects names a resource that a path parameter addresses.
_ANSWER_KEYS = {"memory_id": ("memory_id",), "webhook_id": ("webhook_id",), "sandbox_id": ("sandbox_id",),
                "event_id": ("event_id",), "org_id": ("org_id",), "project_id": ("project_id",)}


@dataclass
class Learned:
    """Ids of resources that the run's own 2xx answers showed, by the path parameter that addresses them.

    A random ``memory_id`` never names a memory, so a generated ``GET /v1/memories/{memory_id}/``
    only ever meets 404: its success path stays unseen. Positive cases therefore address one of
    these ids about half the time (chosen from the generated value, so a replay addresses the
    same). On a live target only ids the run owns are used (:meth:`Scope.owns`).
    """

    ids: dict[str, list[str]] = field(default_factory=dict)

    def learn(self, body: Any, sent: Any = None) -> None:
        """Remember the ids in an answer ``body`` to a request whose body was ``sent``.

        A memory only when it is known to be mutable (an update of an immutable one is refused, so
        it is no success path): the answer to a synchronous add that did not ask for immutable, or
        a memory object that shows ``immutable: false`` (newer documents leave the field out).
        """
        mutable_add = isinstance(sent, dict) and "messages" in sent and sent.get("immutable") is not True
        for obj in _objects(body):
            found = {name: obj.get(key) for name, keys in _ANSWER_KEYS.items() for key in keys}
            found.pop("memory_id")
            if isinstance(obj.get("id"), str) and (mutable_add or obj.get("immutable") is False) \
                    and isinstance(obj.get("memory", obj.get("data")), (str, dict)):
                found["memory_id"] = obj["id"]  # a memory object (v1.1, v3) or an add result (v1.0: data.memory)
            if isinstance(obj.get("email"), str) and "role" in obj:
                found["email"] = obj["email"]  # a member of an organization or project
            for name, value in found.items():
                if isinstance(value, str) and value and value not in self.ids.setdefault(name, []):
                    self.ids[name].append(value)

    def copy(self) -> Learned:
        return Learned({name: list(ids) for name, ids in self.ids.items()})

    def forget(self, values: Any) -> None:
        for known in self.ids.values():
            for value in values:
                if value in known:
                    known.remove(value)

    def pick(self, name: str, generated: Any, allowed: Callable[[str], bool] = lambda ident: True) -> str | None:
        """A learned id for the path parameter ``name`` in place of ``generated``, or None (half the time)."""
        candidates = [ident for ident in self.ids.get(name, ()) if allowed(ident)]
        digest = int(hashlib.sha256(repr(generated).encode("utf-8", "surrogatepass")).hexdigest()[:8], 16)
        return candidates[(digest >> 1) % len(candidates)] if candidates and digest % 2 else None


def address_learned(case: Any, learned: Learned, scope: Scope | None) -> None:
    """Point the path ids of a positive case at resources the run has seen, about half the time."""
    linked = set(_overridden_path_parameters(case))
    params = dict(case.path_parameters or {})
    for name, value in params.items():
        if name in PATH_IDS and name not in linked:
            chosen = learned.pick(name, value, scope.owns if scope is not None else (lambda ident: True))
            if chosen is not None:
                params[name] = chosen
    if params and params != case.path_parameters:
        case.path_parameters = params
        _keep_generated(case, linked)
    if isinstance(case.body, dict):  # ids a body names: feedback's memory, a member's email
        allowed = scope.owns if scope is not None else (lambda ident: True)
        names = ("memory_id", "email") if "/members/" in getattr(case, "path", "") else ("memory_id",)
        chosen = {name: learned.pick(name, case.body[name], allowed) for name in names
                  if isinstance(case.body.get(name), str)}
        case.body = {**case.body, **{name: ident for name, ident in chosen.items() if ident is not None}}


# -- a success path for generated filters --------------------------------------------------------
def _names_an_entity(data: Any) -> bool:
    if isinstance(data, dict):
        return any(key in ENTITY_KEYS or _names_an_entity(value) for key, value in data.items())
    if isinstance(data, list):
        return any(_names_an_entity(item) for item in data)
    return False


# Operations whose ``filters`` select memories and must name an entity: lists, searches, a new export
# (not the lookup of an export, whose filters must match the export's own).
SCOPED_FILTERS = frozenset({"/v2/memories/", "/v3/memories/", "/v2/memories/search/", "/v3/memories/search/",
                            "/v1/exports/"})


def with_entity(body: dict[str, Any], user: str) -> dict[str, Any]:
    """``body`` whose ``filters`` (an object) names no entity id gets ``user_id: user`` ANDed in.

    The v2/v3 list and search (and an export's filters) refuse filters without an entity id with
    400, which the documents allow: generated filters rarely hold one, so without this a search
    answering the wrong shape would never be seen. Flat filters get the key (implicit AND), an
    ``AND`` list one more item, any other root (``OR``, ``NOT``) is wrapped in an ``AND``.
    """
    filters = body.get("filters")
    if not isinstance(filters, dict) or _names_an_entity(filters):
        return body
    if not filters.keys() & {"AND", "OR", "NOT"}:
        scoped: dict[str, Any] = {**filters, "user_id": user}
    elif set(filters) == {"AND"} and isinstance(filters["AND"], list):
        scoped = {"AND": [*filters["AND"], {"user_id": user}]}
    else:
        scoped = {"AND": [{"user_id": user}, filters]}
    return {**body, "filters": scoped}


def _stateful(case: Any) -> bool:
    phase = getattr(getattr(case, "meta", None), "phase", None)
    return str(getattr(phase, "name", "")) == "stateful"


def _negative(case: Any) -> bool:
    """Whether schemathesis generated any part of ``case`` as negative data (an example is positive)."""
    meta = getattr(case, "meta", None)
    generation = getattr(meta, "generation", None)
    mode = getattr(generation, "mode", None)
    return bool(getattr(mode, "is_negative", False))


# -- the active session and the schemathesis hooks -----------------------------------------------
@dataclass
class CallHooks:
    """What the hooks do for the test that runs: rewrite (when ``scope``), rate-limit, record."""

    recorder: Recorder
    secrets: tuple[str, ...]
    limiter: RateLimiter
    scope: Scope | None = None  # None: the embedded server or allow_destructive, nothing rewritten
    on_created: Callable[[str, str, Any, Any], None] = lambda method, path, body, case: None
    filter_user: str | None = None  # the run-scoped user a generated positive filter without an entity gets
    learned: Learned | None = None  # ids the run's answers showed (learning goes on)
    picks: Learned | None = None  # what positive cases address: the ids learned before the test began, so that
    #                               Hypothesis replays a case against the same resource
    as_built: bool = False  # a success path's request (success_paths.py) goes out as built

    @contextmanager
    def sending_as_built(self, ids: set[str]) -> Iterator[None]:
        """Send a success path's request as its recipe built it: no learned ids put in, and its resource ids
        (which the run made through its own client) known to the scope as the run's own."""
        if self.scope is not None:
            self.scope.known.update(ids)
        self.as_built = True
        try:
            yield
        finally:
            self.as_built = False

    def before(self, case: Any) -> None:
        if self.scope is not None:
            rewrite_case(self.scope, case)
        if not _negative(case) and not self.as_built:
            if self.filter_user and isinstance(case.body, dict) and getattr(case, "path", "") in SCOPED_FILTERS:
                case.body = with_entity(case.body, self.filter_user)
            if self.picks is not None and not _stateful(case):  # the stateful phase follows its links
                address_learned(case, self.picks, self.scope)
        self.limiter.wait()

    def after(self, case: Any, response: Any) -> None:
        self.recorder.record(Exchange.of_requests(response, self.secrets))
        if response.status_code in UNSERVED:
            raise TargetBroken(f"{case.method} {case.formatted_path} answered {response.status_code} {response.reason}",
                               operation=f"{case.method} {case.path}")
        try:
            body = json.loads(response.content) if response.content else None
        except ValueError:
            body = None
        if self.scope is not None:
            self.scope.learn(case.method, response.status_code, body)
        if self.learned is not None and 200 <= response.status_code < 300:
            if case.method.upper() == "DELETE":
                self.learned.forget((case.path_parameters or {}).values())
            else:
                self.learned.learn(body, case.body)
        if 200 <= response.status_code < 300 and case.method.upper() == "POST":
            self.on_created(case.method, case.formatted_path, body, case)


_ACTIVE: list[CallHooks] = []


@contextmanager
def active(hooks: CallHooks) -> Iterator[CallHooks]:
    """Route schemathesis's calls through ``hooks`` while the block runs."""
    _ACTIVE.append(hooks)
    try:
        yield hooks
    finally:
        _ACTIVE.remove(hooks)


@schemathesis.hook
def before_call(context, case, kwargs) -> None:  # noqa: ARG001 - schemathesis's hook signature
    if _ACTIVE:
        _ACTIVE[-1].before(case)


@schemathesis.hook
def after_call(context, case, response) -> None:  # noqa: ARG001
    if _ACTIVE:
        _ACTIVE[-1].after(case, response)
