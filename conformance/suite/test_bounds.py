"""Every bound a request schema documents holds: the limit itself is accepted, one past it is refused.

The bounds come from the effective documents, found by the same walk that makes the mutant
catalogue (every ``minimum``, ``maximum``, ``minLength`` and ``maxLength`` of a query parameter or
body property). Each operation with a bound has one valid request here, into which the bound's
value goes; an operation with a bound and no request here fails, so a bound a newer document adds
is never skipped quietly. ``maxItems`` (the batch limit of 1000) is ``test_batch.py``'s.

One past a bound: one character shorter or longer, an integer one lower or higher, a number half
a unit past. Whatever a request creates is run-prefixed and registered with the cleanup; an entity
id of one character cannot carry the run prefix, so those bounds run only where destructive
operations are allowed (the reference server).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from conformance.catalogue.mutants import UPPER, catalogue
from conformance.suite.support import expect, expect_error, track_entity, track_sandbox
from conformance.verdicts import Severity, operation_source, require

pytestmark = [pytest.mark.contract("Request bounds")]


@dataclass(frozen=True)
class Bound:
    api: str
    operation: str  # operationId
    label: str
    site: tuple[str, ...]
    keyword: str
    limit: float

    @property
    def name(self) -> str:
        return self.site[-1]

    def values(self) -> tuple[Any, Any]:
        """The value at the bound and one past it."""
        step = 1 if self.keyword in UPPER else -1
        limit = int(self.limit) if float(self.limit).is_integer() else self.limit
        if self.keyword.endswith("Length"):
            return "x" * int(limit), "x" * int(limit + step)
        if isinstance(limit, int) and self.name not in NUMBERS:
            return limit, limit + step
        return limit, limit + step / 2


NUMBERS = ("threshold",)  # number-typed properties: half a unit past the bound


def documented_bounds() -> list[Bound]:
    found = {}
    for mutant in catalogue().values():
        if mutant.keyword and mutant.keyword != "maxItems":
            found[(mutant.operation, mutant.site, mutant.keyword)] = Bound(
                mutant.api, mutant.operation, mutant.label, mutant.site, mutant.keyword, mutant.limit)
    return list(found.values())


# --- one valid request per operation with a bound ------------------------------------------------------

@dataclass
class Context:
    """What a request needs: run-prefixed names, the cleanup, the key's organization (for projects)."""

    mem0: Any
    klavis: Any
    ids: Any
    cleanup: Any
    request: pytest.FixtureRequest

    def user(self) -> str:
        name = self.ids.new("user")
        track_entity(self.cleanup, self.mem0, "user", name)
        return name

    def org(self) -> str:
        from conformance.suite.test_platform import account

        return account(self.mem0)[0]


Request = tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]  # method, path, query, body


def _entity(kind: str) -> Callable[[Context, str, Any], Request]:
    key = f"{kind}_id"

    def make(c: Context, name: str, value: Any) -> Request:
        body = {key: c.ids.new(kind), **({"name": "n"} if kind != "user" else {})}
        body[name] = value
        return "POST", f"/v1/{kind}s/", None, body

    return make


def _add(c: Context, name: str, value: Any) -> Request:
    return "POST", "/v1/memories/", None, {"messages": [{"role": "user", "content": "Likes tea"}], "user_id": c.user(),
                                          "infer": False, "async_mode": False, name: value}


def _search_v1(c: Context, name: str, value: Any) -> Request:
    return "POST", "/v1/memories/search/", None, {"query": "tea", "user_id": c.user(), name: value}


def _search_v3(c: Context, name: str, value: Any) -> Request:
    return "POST", "/v3/memories/search/", None, {"query": "tea", "filters": {"user_id": c.user()}, name: value}


def _list_v3(c: Context, name: str, value: Any) -> Request:
    return "POST", "/v3/memories/", {name: value}, {"filters": {"user_id": c.user()}}


def _organization(c: Context, name: str, value: Any) -> Request:
    return "POST", "/api/v1/orgs/organizations/", None, {name: value}


def _project(c: Context, name: str, value: Any) -> Request:
    return "POST", f"/api/v1/orgs/organizations/{c.org()}/projects/", None, {name: value}


def _project_update(c: Context, name: str, value: Any) -> Request:
    projects = f"/api/v1/orgs/organizations/{c.org()}/projects/"
    created = expect(c.mem0.post(projects, json={"name": c.ids.new("project")}), 200, 201)
    project_id = created.get("project_id") if isinstance(created, dict) else None
    require(isinstance(project_id, str), f"POST {projects} answers no project_id", received=created,
            documented="the new project, with its project_id", source=operation_source(f"POST {projects}"))
    c.cleanup.add("project", project_id, lambda: c.mem0.delete(f"{projects}{project_id}/"))
    return "PATCH", f"{projects}{project_id}/", None, {name: value}


def _acquire(c: Context, name: str, value: Any) -> Request:
    return "POST", "/sandbox/mem0", None, {"tag": c.request.getfixturevalue("run_prefix"), name: value}


def _profile_job(c: Context, name: str, value: Any) -> Request:
    """A trigger (for an entity_id bound: a user of that name with a memory) or a sample, profiles enabled."""
    expect(c.mem0.post("/v2/profiles/settings/", json={"enabled": True}), 200)
    if name == "entity_id":
        if isinstance(value, str) and value:
            track_entity(c.cleanup, c.mem0, "user", value)
            expect(c.mem0.post("/v1/memories/", json={"messages": [{"role": "user", "content": "Likes tea"}],
                                                      "user_id": value, "infer": False, "async_mode": False}), 200)
        return "POST", "/v2/profiles/jobs/", None, {"operation": "trigger", "entity_type": "user", name: value}
    return "POST", "/v2/profiles/jobs/", None, {"operation": "sample", "entity_type": "user", name: value}


REQUESTS: dict[str, Callable[[Context, str, Any], Request]] = {
    "agents_create": _entity("agent"), "apps_create": _entity("app"), "runs_create": _entity("run"),
    "users_create": _entity("user"), "memories_create": _add, "memories_search_create": _search_v1,
    "memories_search_v3": _search_v3, "memories_list_v3": _list_v3, "create_organization": _organization,
    "create_project": _project, "update_project": _project_update, "acquire_mem0_sandbox": _acquire,
    "profile_jobs_create": _profile_job,
}
# Requests that write outside the run's prefix (an entity id of one character, an organization, a project):
# only where destructive operations are allowed.
DESTRUCTIVE = {("agents_create", "agent_id"), ("apps_create", "app_id"), ("runs_create", "run_id"),
               ("users_create", "user_id"), ("create_organization", "name"), ("create_project", "name"),
               ("update_project", "name"), ("profile_jobs_create", "entity_id"), ("profile_jobs_create", "limit")}


def _register(c: Context, bound: Bound, method: str, body: dict[str, Any] | None, answer: Any) -> None:
    """Register what an accepted request created with the cleanup."""
    if bound.operation in ("agents_create", "apps_create", "runs_create", "users_create") and body:
        kind = bound.operation.removesuffix("s_create")
        track_entity(c.cleanup, c.mem0, kind, body[f"{kind}_id"])
    if bound.operation == "acquire_mem0_sandbox" and isinstance(answer, dict) and isinstance(answer.get("sandbox_id"), str):
        track_sandbox(c.cleanup, c.klavis, answer["sandbox_id"])
    if bound.operation == "create_organization" and isinstance(answer, dict) and isinstance(answer.get("org_id"), str):
        org_id = answer["org_id"]
        c.cleanup.add("organization", org_id, lambda: c.mem0.delete(f"/api/v1/orgs/organizations/{org_id}/"))
    if bound.operation == "create_project" and isinstance(answer, dict) and isinstance(answer.get("project_id"), str):
        path = f"/api/v1/orgs/organizations/{c.org()}/projects/{answer['project_id']}/"
        c.cleanup.add("project", answer["project_id"], lambda: c.mem0.delete(path))


def _params() -> list[Any]:
    params = []
    for bound in documented_bounds():
        needs = [bound.api] + (["destructive"] if (bound.operation, bound.name) in DESTRUCTIVE else [])
        needs += ["v3"] if "/v3/" in bound.label else []
        needs += ["profiles"] if "/profiles/" in bound.label else []
        ident = f"{bound.label} {'.'.join(bound.site[1:])} {bound.keyword} {bound.limit:g}"
        params.append(pytest.param(bound, marks=[pytest.mark.requires(*needs)], id=ident))
    return params


def test_every_bounded_operation_has_a_request():
    """Each operation with a documented bound has a valid request here (a new bound is never skipped quietly)."""
    missing = sorted({bound.label for bound in documented_bounds() if bound.operation not in REQUESTS})
    assert not missing, f"no request for the bounded operations {missing}: add one to REQUESTS"


@pytest.mark.parametrize("bound", _params())
def test_a_documented_bound_holds(bound: Bound, request, ids, cleanup):
    """The value at the documented bound is accepted and one past it is refused with a 4xx and an error body."""
    client = request.getfixturevalue(bound.api)
    c = Context(request.getfixturevalue("mem0") if bound.api == "mem0" else None,
                client if bound.api == "klavis" else None, ids, cleanup, request)
    at, past = bound.values()
    source = operation_source(bound.label)
    for value, accepted in ((at, True), (past, False)):
        method, path, query, body = REQUESTS[bound.operation](c, bound.name, value)
        response = client.request(method, path, params=query, json=body)
        what = f"{bound.label} with {bound.name} = {value!r} ({bound.keyword} {bound.limit:g})"
        if accepted:
            answer = expect(response, 200, 201, 202, what=what + ": at the bound", source=source)
            _register(c, bound, method, body, answer)
        else:
            if response.is_success:
                _register(c, bound, method, body, response.json() if response.content else None)
            require(not response.is_success, f"{what}: one past the bound is accepted with {response.status_code}",
                    received=f"{response.status_code} {response.text[:200]}",
                    documented=f"a 4xx refusal: {bound.name} {bound.keyword} {bound.limit:g}", source=source,
                    severity=Severity.NORMAL)
            expect_error(response, what=what + ": one past the bound", source=source)
