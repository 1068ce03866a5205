"""One request per operation that must succeed: the success path every schemathesis test ends with.

Generated cases reach an operation's 2xx only when they happen to address something that
exists: a member's email, a project of the organization in the path, an immutable-free memory.
Learned ids and scoped filters (:mod:`conformance.suite.learned`) make that likely, never
certain, so the number of operations whose success answer was validated changed from run to
run. Here each operation has a recipe: the resources it needs, made by the run through the
suite's client (run-prefixed, registered for cleanup), and the request that the effective
document allows and the API must answer with a 2xx. ``engine.run_operation`` sends it as a
schemathesis case after the generated ones, through the same hooks and every default check, and
requires the 2xx: the figure of validated operations in the summary is then exact on every run.

A recipe makes its resources fresh for its own test, since the generated cases before it may
have deleted or changed anything the run made earlier (they address learned ids). Only what
cannot be made is shared: the key's own organization and project (``GET /v1/ping/``). The
operations no run prefix can scope (``live_scope.UNSCOPED``) are skipped on a live target
before their recipe runs; their recipes make their own organization.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from conformance.cleanup import Cleanup, Ids
from conformance.client import ApiClient
from conformance.suite.machines.mem0_calls import add_memories
from conformance.suite.support import answer_of, expect, track_entity, track_sandbox
from conformance.verdicts import fact, operation_source, require

TEXT = "Prefers green tea in the morning"
HOOK_EVENTS = ["memory_add", "memory_update", "memory_delete"]
PROFILE_SCHEMA = {"type": "object", "properties": {"tea": {"type": "array", "description": "What the user drinks"}}}
NO_BODY = object()  # a request without a body (unlike an empty object)


@dataclass(frozen=True)
class Request:
    """What a success path sends: path parameters, query, body (``NO_BODY`` for none)."""

    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = NO_BODY

    def ids(self) -> set[str]:
        """The resource ids it names (path parameters, a body's ``memory_id`` at any depth)."""
        found = {str(value) for value in self.path.values()}

        def walk(data: Any) -> None:
            if isinstance(data, dict):
                found.update(str(v) for k, v in data.items() if k == "memory_id" and isinstance(v, str))
                for value in data.values():
                    walk(value)
            elif isinstance(data, list):
                for item in data:
                    walk(item)

        walk(self.body)
        return found


class Unavailable(Exception):
    """A success path the target can only reach through a change the run may not make there (a live target
    without allow_destructive): the operation's success path stays unvalidated, and the summary says so."""


class Mem0Resources:
    """What the Mem0 recipes need, made through the suite's client on first use in one test; ``destructive``:
    whether the run may change what is not its own (the project's profile settings)."""

    def __init__(self, mem0: ApiClient, ids: Ids, cleanup: Cleanup, *, destructive: bool = True) -> None:
        self.mem0, self.ids, self.cleanup, self.destructive = mem0, ids, cleanup, destructive

    def name(self, kind: str = "user") -> str:
        """A fresh run-prefixed user (agent, app, run) id; the entity is deleted at the end of the run."""
        name = self.ids.new(kind)
        track_entity(self.cleanup, self.mem0, kind, name)
        return name

    def entity(self, kind: str = "user") -> str:
        """A fresh run-prefixed user (agent, app, run) holding one memory; deleted at the end of the run."""
        name = self.name(kind)
        add_memories(self.mem0, [TEXT], **{f"{kind}_id": name})
        return name

    @cached_property
    def user(self) -> str:
        return self.entity()

    def memory(self, **fields: Any) -> str:
        """A fresh memory of a fresh user (``fields`` go into the add, e.g. ``immutable``)."""
        return add_memories(self.mem0, [TEXT], user_id=self.name(), **fields)[0][0]

    def event(self) -> str:
        """The event id of a queued add (``async_mode``), as its answer names it."""
        name = self.name()
        answer = expect(self.mem0.post("/v1/memories/", json={
            "messages": [{"role": "user", "content": TEXT}], "user_id": name, "infer": False, "async_mode": True}),
            200, source=fact("Add", "POST /v1/memories/"))
        events = answer if isinstance(answer, list) else [answer]
        event_id = next((item.get("event_id") for item in events if isinstance(item, dict)), None)
        require(isinstance(event_id, str), "POST /v1/memories/ with async_mode answers no event_id", received=answer,
                documented="a queued event with an event_id", source=fact("Add", "POST /v1/memories/"))
        return event_id

    def export_of_user(self) -> str:
        """The user (:attr:`user`) after an export of its memories was requested."""
        self.export()
        return self.user

    def export(self) -> str:
        """The id of a new export of :attr:`user`'s memories."""
        answer = expect(self.mem0.post("/v1/exports/", json={"schema": {"type": "object"},
                                                             "filters": {"user_id": self.user}}),
                        201, source=fact("Exports", "POST /v1/exports/"))
        require(isinstance(answer, dict) and isinstance(answer.get("id"), str), "POST /v1/exports/ answers no id",
                received=answer, documented="201 {message, id}", source=fact("Exports", "POST /v1/exports/"))
        return answer["id"]

    def enable_profiles(self) -> None:
        """Profile generation on, with :data:`PROFILE_SCHEMA`. These are the project's settings, not the run's: on a
        live target without allow_destructive they are left as they are (profiles on, or :class:`Unavailable`)."""
        source = operation_source("POST /v2/profiles/settings/")
        if self.destructive:
            expect(self.mem0.post("/v2/profiles/settings/", json={"enabled": True, "entities": {"user": {
                "schema": PROFILE_SCHEMA}}}), 200, source=source)
            return
        settings = expect(self.mem0.get("/v2/profiles/settings/"), 200, source=operation_source("GET /v2/profiles/settings/"))
        if not (isinstance(settings, dict) and settings.get("enabled") is True):
            raise Unavailable("profiles are not enabled in the project's settings, which a live run does not change")

    def profiled_user(self) -> str:
        """:attr:`user`, with profile generation enabled."""
        self.enable_profiles()
        return self.user

    def profile_job(self) -> str:
        """The id of a profile generation job for :attr:`user`."""
        source = operation_source("POST /v2/profiles/jobs/")
        answer = expect(self.mem0.post("/v2/profiles/jobs/", json={
            "operation": "trigger", "entity_type": "user", "entity_id": self.profiled_user()}), 202, source=source)
        require(isinstance(answer, dict) and isinstance(answer.get("job_id"), str),
                "POST /v2/profiles/jobs/ answers no job_id", received=answer,
                documented="202 {job_id, status, status_url, …}", source=source)
        return answer["job_id"]

    @cached_property
    def account(self) -> tuple[str, str]:
        """``(org_id, project_id)`` of the key: from ``GET /v1/ping/``, or, on a target without it (the seed
        documents have none), the first organization the key lists and that organization's first project."""
        ping = self.mem0.get("/v1/ping/")
        body = answer_of(ping) if ping.status_code == 200 else None
        if isinstance(body, dict) and body.get("org_id") and body.get("project_id"):
            return str(body["org_id"]), str(body["project_id"])
        source = operation_source("GET /api/v1/orgs/organizations/")
        orgs = expect(self.mem0.get("/api/v1/orgs/organizations/"), 200, source=source)
        require(isinstance(orgs, list) and orgs and isinstance(orgs[0], dict) and orgs[0].get("org_id"),
                "GET /api/v1/orgs/organizations/ lists no organization of the key", received=orgs,
                documented="an array of {org_id, name, …} holding the key's organization", source=source)
        org_id = str(orgs[0]["org_id"])
        source = operation_source("GET /api/v1/orgs/organizations/{org_id}/projects/")
        projects = expect(self.mem0.get(f"/api/v1/orgs/organizations/{org_id}/projects/"), 200, source=source)
        require(isinstance(projects, list) and projects and isinstance(projects[0], dict)
                and projects[0].get("project_id"), f"the key's organization {org_id} lists no project", received=projects,
                documented="an array of {project_id, name, …} holding the key's project", source=source)
        return org_id, str(projects[0]["project_id"])

    def organization(self) -> str:
        """A new organization of the run (unscoped: the reference server or allow_destructive only)."""
        source = operation_source("POST /api/v1/orgs/organizations/")
        answer = expect(self.mem0.post("/api/v1/orgs/organizations/", json={"name": self.ids.new("org")}), 201,
                        source=source)
        org_id = answer.get("org_id") if isinstance(answer, dict) else None
        require(org_id is not None, "POST /api/v1/orgs/organizations/ answers no org_id", received=answer,
                documented="201 {message, org_id}", source=source)
        self.cleanup.add("organization", str(org_id),
                         lambda: self.mem0.delete(f"/api/v1/orgs/organizations/{org_id}/"))
        return str(org_id)

    def project(self, org_id: str) -> str:
        source = operation_source("POST /api/v1/orgs/organizations/{org_id}/projects/")
        answer = expect(self.mem0.post(f"/api/v1/orgs/organizations/{org_id}/projects/",
                                       json={"name": self.ids.new("project")}), 200, source=source)
        project_id = answer.get("project_id") if isinstance(answer, dict) else None
        require(project_id is not None, "creating a project answers no project_id", received=answer,
                documented="200 {message, project_id}", source=source)
        return str(project_id)

    def member(self, org_id: str, project_id: str | None = None) -> str:
        """The email of a new READER of the organization (and of the project, when given)."""
        email = f"{self.ids.new('member')}@example.com"
        where = f"/api/v1/orgs/organizations/{org_id}/" + (f"projects/{project_id}/" if project_id else "")
        expect(self.mem0.post(f"{where}members/", json={"email": email, "role": "READER"}),
               200 if project_id else 201, source=operation_source(f"POST {where}members/"))
        return email

    def webhook(self) -> str:
        project_id = self.account[1]
        source = operation_source("POST /api/v1/webhooks/projects/{project_id}/")
        answer = expect(self.mem0.post(f"/api/v1/webhooks/projects/{project_id}/", json={
            "name": self.ids.new("hook"), "url": f"https://example.com/{self.ids.prefix}/hooks",
            "event_types": HOOK_EVENTS}), 201, source=source)
        webhook_id = answer.get("webhook_id") if isinstance(answer, dict) else None
        require(webhook_id is not None, "creating a webhook answers no webhook_id", received=answer,
                documented="201 {webhook_id, name, url, …}", source=source)
        self.cleanup.add("webhook", str(webhook_id), lambda: self.mem0.delete(f"/api/v1/webhooks/{webhook_id}/"))
        return str(webhook_id)


class KlavisResources:
    """What the Klavis recipes need: a sandbox acquired for the test, released at the end of the run."""

    def __init__(self, klavis: ApiClient, ids: Ids, cleanup: Cleanup) -> None:
        self.klavis, self.ids, self.cleanup = klavis, ids, cleanup

    @cached_property
    def sandbox(self) -> str:
        source = operation_source("POST /sandbox/mem0")
        answer = expect(self.klavis.post("/sandbox/mem0", json={"tag": self.ids.prefix}), 201, source=source)
        sandbox_id = answer.get("sandbox_id") if isinstance(answer, dict) else None
        require(isinstance(sandbox_id, str) and sandbox_id, "acquiring a mem0 sandbox names no sandbox_id",
                received=answer, documented="201 {sandbox_id, server_name, status, message}", source=source)
        track_sandbox(self.cleanup, self.klavis, sandbox_id)
        return sandbox_id


def _org(r: Mem0Resources) -> str:
    return r.account[0]


def _project(r: Mem0Resources) -> dict[str, str]:
    return {"org_id": r.account[0], "project_id": r.account[1]}


def _own_project_of_new_org(r: Mem0Resources) -> dict[str, str]:
    org_id = r.organization()
    return {"org_id": org_id, "project_id": r.project(org_id)}


def _org_member(r: Mem0Resources) -> tuple[dict[str, str], str]:
    """A new organization and the email of a member added to it."""
    org_id = r.organization()
    return {"org_id": org_id}, r.member(org_id)


def _project_member(r: Mem0Resources) -> tuple[dict[str, str], str]:
    """A new organization's new project and the email of an organization member added to the project."""
    path = _own_project_of_new_org(r)
    r.member(path["org_id"])
    return path, r.member(path["org_id"], path["project_id"])


def _member_change(made: Callable[[Mem0Resources], tuple[dict[str, str], str]], *, role: str | None = None,
                   in_query: bool = False) -> Callable[[Mem0Resources], Request]:
    """A recipe that changes (``role``) or removes a member that ``made`` adds first."""

    def recipe(r: Mem0Resources) -> Request:
        path, email = made(r)
        if in_query:
            return Request(path=path, query={"email": email})
        return Request(path=path, body={"email": email, **({"role": role} if role else {})})

    return recipe


def _new_project_member(r: Mem0Resources) -> Request:
    path = _own_project_of_new_org(r)
    return Request(path=path, body={"email": r.member(path["org_id"]), "role": "READER"})


def _user_filters(r: Mem0Resources) -> dict[str, str]:
    return {"user_id": r.user}


MEM0: dict[str, Callable[[Mem0Resources], Request]] = {
    # entities
    "users_create": lambda r: Request(body={"user_id": r.name("user")}),
    "agents_create": lambda r: Request(body={"agent_id": r.name("agent")}),
    "apps_create": lambda r: Request(body={"app_id": r.name("app")}),
    "runs_create": lambda r: Request(body={"run_id": r.name("run")}),
    "entities_list": lambda r: Request(),
    "entities_filters_list": lambda r: Request(),
    "entities_read": lambda r: Request(path={"entity_type": "user", "entity_id": r.user}),
    "entities_delete": lambda r: Request(path={"entity_type": "agent", "entity_id": r.entity("agent")}),
    "entities_delete_v2": lambda r: Request(path={"entity_type": "run", "entity_name": r.entity("run")}),
    "memories_entity_read": lambda r: Request(path={"entity_type": "user", "entity_id": r.user}),
    # memories
    "memories_create": lambda r: Request(body={"messages": [{"role": "user", "content": TEXT}], "user_id": r.user,
                                               "infer": False, "async_mode": False}),
    "memories_add_v3": lambda r: Request(body={"messages": [{"role": "user", "content": TEXT}],
                                               "filters": {"user_id": r.user}, "infer": False, "async_mode": False}),
    "memories_list": lambda r: Request(query={"user_id": r.user}),
    "memories_list_v2": lambda r: Request(body={"filters": _user_filters(r)}),
    "memories_list_v3": lambda r: Request(body={"filters": _user_filters(r)}),
    "memories_search_create": lambda r: Request(body={"query": "tea", "user_id": r.user}),
    "memories_search_v2": lambda r: Request(body={"query": "tea", "filters": _user_filters(r)}),
    "memories_search_v3": lambda r: Request(body={"query": "tea", "filters": _user_filters(r)}),
    "memories_read": lambda r: Request(path={"memory_id": r.memory()}),
    "memories_update": lambda r: Request(path={"memory_id": r.memory()}, body={"text": "Prefers black tea"}),
    "memories_delete": lambda r: Request(path={"memory_id": r.memory()}),
    "memories_delete_all": lambda r: Request(query={"user_id": r.entity()}),
    "memories_history_list": lambda r: Request(path={"memory_id": r.memory()}),
    "memories_batch_update": lambda r: Request(body={"memories": [{"memory_id": r.memory(), "text": "Prefers black tea"}]}),
    "memories_batch_delete": lambda r: Request(body={"memories": [{"memory_id": r.memory()}]}),
    "submit_feedback": lambda r: Request(body={"memory_id": r.memory(), "feedback": "POSITIVE"}),
    "summary_create": lambda r: Request(body={"filters": _user_filters(r)}),
    # activity
    "events_list": lambda r: Request(),
    "memories_events_list": lambda r: Request(),
    "event_read": lambda r: Request(path={"event_id": r.event()}),
    "stats_list": lambda r: Request(),
    "ping_read": lambda r: Request(),
    # exports
    "exports_create": lambda r: Request(body={"schema": {"type": "object"}, "filters": _user_filters(r)}),
    "exports_list": lambda r: Request(body={"filters": {"user_id": r.export_of_user()}}),
    "exports_get": lambda r: Request(body={"memory_export_id": r.export()}),
    # organizations and projects
    "organizations_read": lambda r: Request(),
    "create_organization": lambda r: Request(body={"name": r.ids.new("org")}),
    "get_organization": lambda r: Request(path={"org_id": _org(r)}),
    "delete_organization": lambda r: Request(path={"org_id": r.organization()}),
    "get_organization_members": lambda r: Request(path={"org_id": _org(r)}),
    "add_organization_member": lambda r: Request(path={"org_id": r.organization()},
                                                 body={"email": f"{r.ids.new('member')}@example.com", "role": "READER"}),
    "update_organization_member_role": _member_change(_org_member, role="OWNER"),
    "remove_organization_member": _member_change(_org_member),
    "get_projects": lambda r: Request(path={"org_id": _org(r)}),
    "create_project": lambda r: Request(path={"org_id": r.organization()}, body={"name": r.ids.new("project")}),
    "get_project": lambda r: Request(path=_project(r)),
    "update_project": lambda r: Request(path=_own_project_of_new_org(r), body={"name": r.ids.new("project")}),
    "delete_project": lambda r: Request(path=_own_project_of_new_org(r)),
    "get_project_members": lambda r: Request(path=_project(r)),
    "add_project_member": _new_project_member,
    "update_project_member": _member_change(_project_member, role="OWNER"),
    "deleteProjectMember": _member_change(_project_member, in_query=True),
    # memory profiles
    "profile_settings_read": lambda r: Request(),
    "profile_settings_update": lambda r: Request(body={"enabled": True, "entities": {"user": {
        "schema": PROFILE_SCHEMA, "custom_instructions": "Keep each entry short."}}}),
    "profile_jobs_create": lambda r: Request(body={"operation": "trigger", "entity_type": "user",
                                                   "entity_id": r.profiled_user()}),
    "profile_jobs_read": lambda r: Request(path={"job_id": r.profile_job()}),
    "profiles_read": lambda r: Request(path={"entity_id": r.user}),
    # webhooks
    "get_project_webhooks": lambda r: Request(path={"project_id": r.account[1]}),
    "create_webhook": lambda r: Request(path={"project_id": r.account[1]}, body={
        "name": r.ids.new("hook"), "url": f"https://example.com/{r.ids.prefix}/hooks", "event_types": HOOK_EVENTS}),
    "update_webhook": lambda r: Request(path={"webhook_id": r.webhook()}, body={"name": r.ids.new("hook")}),
    "delete_webhook": lambda r: Request(path={"webhook_id": r.webhook()}),
}

_SANDBOX = "sandbox_id"
KLAVIS: dict[str, Callable[[KlavisResources], Request]] = {
    "acquire_mem0_sandbox": lambda r: Request(body={"tag": r.ids.prefix}),
    "list_sandboxes": lambda r: Request(query={"tag": r.ids.prefix}),
    "get_mem0_sandbox": lambda r: Request(path={_SANDBOX: r.sandbox}),
    "initialize_sandbox_sandbox_mem0__sandbox_id__initialize_post": lambda r: Request(
        path={_SANDBOX: r.sandbox}, body={"memory_list": [{"content_text": TEXT, "user_id": r.ids.new("user")}]}),
    "dump_sandbox_sandbox_mem0__sandbox_id__dump_get": lambda r: Request(path={_SANDBOX: r.sandbox}),
    "reset_mem0_sandbox": lambda r: Request(path={_SANDBOX: r.sandbox}),
    "release_mem0_sandbox": lambda r: Request(path={_SANDBOX: r.sandbox}),
}

RECIPES: dict[str, dict[str, Callable[[Any], Request]]] = {"mem0": MEM0, "klavis": KLAVIS}
