"""Steering generated positive cases towards success: ids the run learned, filters that name an entity.

A random ``memory_id`` never names a memory and generated ``filters`` rarely name an entity, so
without help a generated case meets only 404 and 400 and the operation's success answer stays
unchecked. :class:`Learned` remembers the ids of the run's own 2xx answers and
:func:`address_learned` points about half of the positive cases at them; :func:`with_entity`
ANDs the run's user into filters that name no entity. On a live target only ids the run owns
are used (:meth:`conformance.suite.live_scope.Scope.owns`). Negative cases are left alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.suite.live_scope import ENTITY_KEYS, PATH_IDS, Scope, keep_generated, linked_parameters, objects_in

# The path parameters an answer's objects name under a key of the same name. A memory is named by its ``id``
# (a history entry's ``memory_id`` may name a deleted one), a member by its ``email``.
_NAMED_AS_THEMSELVES = ("webhook_id", "sandbox_id", "event_id", "org_id", "project_id")


@dataclass
class Learned:
    """Ids of resources that the run's own 2xx answers showed, by the path parameter that addresses them.

    A random ``memory_id`` never names a memory, so a generated ``GET /v1/memories/{memory_id}/``
    only ever meets 404: its success path stays unseen. Positive cases therefore address one of
    these ids about half the time (chosen from the generated value, so a replay addresses the
    same). On a live target only ids the run owns are used (:meth:`Scope.owns`).
    """

    ids: dict[str, dict[str, None]] = field(default_factory=dict)  # in the order learned (a dict as an ordered set)

    def learn(self, body: Any, sent: Any = None) -> None:
        """Remember the ids in an answer ``body`` to a request whose body was ``sent``.

        A memory only when it is known to be mutable (an update of an immutable one is refused, so
        it is no success path): the answer to a synchronous add that did not ask for immutable, or
        a memory object that shows ``immutable: false`` (newer documents leave the field out).
        """
        mutable_add = isinstance(sent, dict) and "messages" in sent and sent.get("immutable") is not True
        ids = self.ids
        for obj in objects_in(body):
            for name in _NAMED_AS_THEMSELVES:
                value = obj.get(name)
                if isinstance(value, str) and value:
                    ids.setdefault(name, {})[value] = None
            value = obj.get("id")
            if isinstance(value, str) and value and (mutable_add or obj.get("immutable") is False) \
                    and isinstance(obj.get("memory", obj.get("data")), (str, dict)):
                ids.setdefault("memory_id", {})[value] = None  # a memory (v1.1, v3) or an add result (v1.0: data.memory)
            value = obj.get("email")
            if isinstance(value, str) and value and "role" in obj:
                ids.setdefault("email", {})[value] = None  # a member of an organization or project

    def copy(self) -> Learned:
        return Learned({name: dict(ids) for name, ids in self.ids.items()})

    def forget(self, values: Any) -> None:
        for known in self.ids.values():
            for value in values:
                known.pop(value, None)

    def pick(self, name: str, generated: Any, allowed: Callable[[str], bool] | None = None) -> str | None:
        """A learned id for the path parameter ``name`` in place of ``generated`` (one that ``allowed`` accepts,
        if given), or None (half the time)."""
        known = self.ids.get(name, {})
        candidates = list(known) if allowed is None else [ident for ident in known if allowed(ident)]
        digest = int(hashlib.sha256(repr(generated).encode("utf-8", "surrogatepass")).hexdigest()[:8], 16)
        return candidates[(digest >> 1) % len(candidates)] if candidates and digest % 2 else None


def address_learned(case: Any, learned: Learned, scope: Scope | None) -> None:
    """Point the path ids of a positive case at resources the run has seen, about half the time."""
    params = dict(case.path_parameters or {})
    # Only a case with an id the run has learned some of asks which of its parameters a link gave (schemathesis
    # works that out anew on each asking, a tenth of what the suite adds to a case).
    if any(name in PATH_IDS and learned.ids.get(name) for name in params):
        linked = set(linked_parameters(case))
        for name, value in params.items():
            if name in PATH_IDS and name not in linked:
                chosen = learned.pick(name, value, scope.owns if scope is not None else None)
                if chosen is not None:
                    params[name] = chosen
        if params != case.path_parameters:
            case.path_parameters = params
            keep_generated(case, linked)
    if isinstance(case.body, dict):  # ids a body names: feedback's memory, a member's email
        allowed = scope.owns if scope is not None else None
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
