"""The Mem0 platform resources around the memories as a rule machine beside a plain model.

The model holds what the run made: entities created explicitly (users, agents, apps and runs with
their metadata and display names), webhooks of the key's own project, and, where destructive
operations are allowed, projects of the key's organization and organizations of the run's own,
each with its members and their roles. Rules create, change and delete them; the invariant reads
every one of them back after every step (the entity list and each entity, the project's webhooks,
each project and organization with their members, the lists that hold them) and compares the whole
answer with the model. Views of the server's own fields (ids, times) must agree from read to read,
and ``updated_at`` moves only with a change.

Every name, email and URL carries the run prefix, and everything made is registered with the cleanup.
(The documents' schemas for entities, webhooks, projects and organizations; FACTS.md "GET /v1/ping/".)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conformance.client import ApiClient
from conformance.cleanup import Cleanup
from conformance.suite.machines.platform_reads import ORGS, WEBHOOKS, PlatformReads, Thing
from conformance.suite.support import expect, track_entity, track_webhook
from conformance.verdicts import operation_source, require
from conformance.strategies.memories import metadatas
from conformance.strategies.platform import ENTITY_KINDS, MEMBER_ROLES, event_type_lists


def _said(answer: Any, what: str, label: str) -> None:
    message = answer.get("message") if isinstance(answer, dict) else None
    require(isinstance(message, str) and message.strip(), f"{what} answers no message", received=answer,
            documented='{"message": "..."} (the documented answer)', source=operation_source(label))


class PlatformMachine(PlatformReads, RuleBasedStateMachine):
    """Entities, webhooks, projects, organizations and members, compared with a model after every step."""

    def __init__(self, *, mem0: ApiClient, prefix: str, new_name: Callable[[str], str], cleanup: Cleanup,
                 account: tuple[str, str, str], webhooks: bool, destructive: bool) -> None:
        super().__init__()
        self.mem0, self.prefix, self.new_name, self.cleanup = mem0, prefix, new_name, cleanup
        self.org_id, self.project_id, self.email = account  # the key's own (GET /v1/ping/)
        self.webhooks_on, self.destructive = webhooks, destructive
        # Rules draw from these in the order the machine made them, never sorted: the target assigns ids at random,
        # and sorted they would put another resource at the same place when Hypothesis replays a program.
        self.entities: dict[tuple[str, str], Thing] = {}
        self.webhooks: dict[str, Thing] = {}
        self.webhook_projects: dict[str, str] = {}  # webhook id -> its project's id
        self.projects: dict[str, Thing] = {}
        self.orgs: dict[str, Thing] = {}
        self.seen: dict[str, dict[str, Any]] = {}  # resource key -> server field -> last value seen
        self.moved: set[str] = set()
        self.shapes: dict[str, frozenset[str]] = {}  # webhook id -> the fields every view of it shows

    # --- the server's own fields ------------------------------------------------------------------

    # --- entities -------------------------------------------------------------------------------------

    @rule(kind=st.sampled_from(ENTITY_KINDS), metadata=metadatas(max_leaves=4), label=st.booleans(),
          again=st.booleans())
    def create_entity(self, kind, metadata, label, again):
        """POST /v1/{kind}s/ answers 201 with what it was given; creating it again replaces its metadata."""
        existing = [name for (k, name) in self.entities if k == kind]
        name = existing[0] if again and existing else self.new_name(kind)
        body: dict[str, Any] = {f"{kind}_id": name, "metadata": metadata}
        if label and kind != "user":
            body["name"] = f"{name} ✓{len(self.moved) + len(self.entities)}"  # a new label each time: a re-creation renames
        path = f"/v1/{kind}s/"
        if (kind, name) not in self.entities:
            track_entity(self.cleanup, self.mem0, kind, name)
        answer = expect(self.mem0.post(path, json=body), 201, source=operation_source(f"POST {path}"))
        self.shows(answer, body, f"POST {path}", kind)
        self.entities[(kind, name)] = Thing({"metadata": metadata})
        self.moved.add(f"{kind}:{name}")

    @precondition(lambda self: self.entities)
    @rule(data=st.data(), version=st.sampled_from(("v1", "v2")))
    def delete_entity(self, data, version):
        self.drop_entity(*data.draw(st.sampled_from(list(self.entities)), label="entity"), version)

    def drop_entity(self, kind: str, name: str, version: str) -> None:
        if version == "v1":
            path, label = f"/v1/entities/{kind}/{self.entity_view(kind, name)['id']}/", "DELETE /v1/entities/{entity_type}/{entity_id}/"
        else:
            path, label = f"/v2/entities/{kind}/{name}/", "DELETE /v2/entities/{entity_type}/{entity_name}/"
        _said(expect(self.mem0.delete(path), 200, source=operation_source(label)), f"DELETE {path}", label)
        del self.entities[(kind, name)]
        self.cleanup.forget(kind, name)

    def entity_list(self) -> dict[tuple[str, str], dict[str, Any]]:
        label = "GET /v1/entities/"
        answer = expect(self.mem0.get("/v1/entities/"), 200, source=operation_source(label))
        items = answer.get("results") if isinstance(answer, dict) else None
        require(isinstance(items, list) and all(isinstance(i, dict) for i in items), f"{label} answers no results",
                received=answer, documented="{count, next, previous, results: [entity]}", source=operation_source(label))
        missing = [key for key in ("count", "next", "previous") if key not in answer]
        require(not missing, f"{label} answers an envelope without {', '.join(missing)}", received=sorted(answer),
                documented="the envelope {count, next, previous, results} (FACTS.md Pagination)",
                source=operation_source(label))
        count, following, before = answer.get("count"), answer.get("next"), answer.get("previous")
        require(isinstance(count, int) and count >= len(items) and (following is not None or before is not None
                                                                     or count == len(items)),
                f"{label} says count {count!r} for a page of {len(items)} (next {following!r}, previous {before!r})",
                received={"count": count, "next": following, "previous": before, "results": len(items)},
                documented="count: every entity; a page without next or previous holds them all",
                source=operation_source(label))
        return {(i.get("type"), i.get("name")): i for i in items if str(i.get("name", "")).startswith(self.prefix)}

    def entity_view(self, kind: str, name: str) -> dict[str, Any]:
        return self.entity_list()[(kind, name)]

    # --- webhooks -------------------------------------------------------------------------------------

    @precondition(lambda self: self.webhooks_on)
    @rule(data=st.data(), event_types=event_type_lists(), active=st.booleans())
    def create_webhook(self, data, event_types, active):
        """A webhook of the key's project, or of one of the run's projects."""
        self.make_webhook(data.draw(st.sampled_from([self.project_id, *self.projects]), label="project"),
                          event_types, active)

    def make_webhook(self, project_id: str, event_types: list[str], active: bool) -> str:
        name = self.new_name("hook")
        body = {"name": name, "url": f"https://example.com/{self.prefix}/{name}", "event_types": event_types,
                "is_active": active}
        label = "POST /api/v1/webhooks/projects/{project_id}/"
        answer = expect(self.mem0.post(f"{WEBHOOKS}projects/{project_id}/", json=body), 201,
                        source=operation_source(label))
        require(isinstance(answer, dict) and answer.get("webhook_id") not in (None, ""), f"{label} answers no webhook_id",
                received=answer, documented="201 with the webhook", source=operation_source(label))
        webhook_id = str(answer["webhook_id"])
        track_webhook(self.cleanup, self.mem0, webhook_id)
        self.webhooks[webhook_id] = Thing(body)
        self.webhook_projects[webhook_id] = project_id
        self.check_webhook(answer, webhook_id, label)
        return webhook_id

    def check_webhook(self, view: dict[str, Any], webhook_id: str, label: str) -> None:
        expected = {**self.webhooks[webhook_id].fields, "event_types": sorted(self.webhooks[webhook_id].fields["event_types"])}
        shown = {**view, "event_types": sorted(view.get("event_types") or [])}
        self.shows(shown, expected, label, f"webhook {webhook_id}")
        project = self.project_name(self.webhook_projects[webhook_id])
        if project is not None and "project" in view:
            require(view["project"] == project, f"{label} shows webhook {webhook_id} in project {view['project']!r}",
                    received=view["project"], documented=project, source=operation_source(label))
        self.own_fields(f"webhook:{webhook_id}", view, label)
        shape = self.shapes.setdefault(webhook_id, frozenset(view))
        require(frozenset(view) == shape, f"{label} shows webhook {webhook_id} with the fields {sorted(view)}, another "
                f"answer with {sorted(shape)}", received=sorted(view), documented=sorted(shape),
                source=operation_source(label))

    def project_name(self, project_id: str) -> str | None:
        """The project's name (the ``project`` its webhooks show)."""
        if project_id in self.projects:
            return self.projects[project_id].fields["name"]
        answer = self.mem0.get(f"{ORGS}{self.org_id}/projects/{project_id}/")
        return answer.json().get("name") if answer.status_code == 200 else None

    @precondition(lambda self: self.webhooks)
    @rule(data=st.data(), name=st.booleans(), url=st.booleans(), events=st.none() | event_type_lists(),
          active=st.none() | st.booleans())
    def update_webhook(self, data, name, url, events, active):
        self.change_webhook(data.draw(st.sampled_from(list(self.webhooks)), label="webhook"), name, url, events, active)

    def change_webhook(self, webhook_id: str, name: bool, url: bool, events: list[str] | None,
                       active: bool | None) -> None:
        thing = self.webhooks[webhook_id]
        changes: dict[str, Any] = {}
        if name:
            changes["name"] = thing.fields["name"] + "-renamed-ñ"
        if url:
            changes["url"] = thing.fields["url"] + "/v2"
        if events is not None:
            changes["event_types"] = events
        if active is not None:
            changes["is_active"] = active
        changes = changes or {"name": thing.fields["name"] + "-x"}
        label = "PUT /api/v1/webhooks/{webhook_id}/"
        _said(expect(self.mem0.put(f"{WEBHOOKS}{webhook_id}/", json=changes), 200, source=operation_source(label)),
              f"PUT {WEBHOOKS}{webhook_id}/", label)
        thing.fields.update(changes)
        self.moved.add(f"webhook:{webhook_id}")

    @precondition(lambda self: self.webhooks)
    @rule(data=st.data())
    def delete_webhook(self, data):
        self.drop_webhook(data.draw(st.sampled_from(list(self.webhooks)), label="webhook"))

    def drop_webhook(self, webhook_id: str) -> None:
        label = "DELETE /api/v1/webhooks/{webhook_id}/"
        _said(expect(self.mem0.delete(f"{WEBHOOKS}{webhook_id}/"), 200, source=operation_source(label)),
              f"DELETE {WEBHOOKS}{webhook_id}/", label)
        del self.webhooks[webhook_id]
        self.cleanup.forget("webhook", webhook_id)

    # --- projects and organizations (destructive) -----------------------------------------------------

    @precondition(lambda self: self.destructive)
    @rule(description=st.sampled_from(("", "Scratch project — Projekt ✓")))
    def create_project(self, description):
        self.make_project(description)

    def make_project(self, description: str) -> str:
        name = self.new_name("project")
        label = "POST /api/v1/orgs/organizations/{org_id}/projects/"
        answer = expect(self.mem0.post(f"{ORGS}{self.org_id}/projects/", json={"name": name, "description": description}),
                        200, 201, source=operation_source(label))
        project_id = answer.get("project_id") if isinstance(answer, dict) else None
        require(isinstance(project_id, str) and project_id not in self.projects, f"{label} answers project_id {project_id!r}",
                received=answer, documented="a new project's id", source=operation_source(label))
        _said(answer, f"POST {ORGS}{self.org_id}/projects/", label)
        path = f"{ORGS}{self.org_id}/projects/{project_id}/"
        self.cleanup.add("project", project_id, lambda: self.mem0.delete(path))
        self.projects[project_id] = Thing({"name": name, "description": description}, {self.email: "OWNER"})
        return project_id

    @precondition(lambda self: self.projects)
    @rule(data=st.data(), name=st.booleans(), description=st.booleans(), instructions=st.booleans(),
          categories=st.booleans())
    def update_project(self, data, name, description, instructions, categories):
        self.change_project(data.draw(st.sampled_from(list(self.projects)), label="project"), name, description,
                            instructions, categories)

    def change_project(self, project_id: str, name: bool, description: bool, instructions: bool,
                       categories: bool) -> None:
        thing = self.projects[project_id]
        changes: dict[str, Any] = {}
        if name:
            changes["name"] = thing.fields["name"] + "-renamed"
        if description:
            changes["description"] = "Beschreibung ✓ " + project_id[:8]
        if instructions:
            changes["custom_instructions"] = "Keep only food preferences"
        if categories:
            changes["custom_categories"] = [{"food": "what they eat"}, {"travel": "where they go"}]
        changes = changes or {"description": "described"}
        label = "PATCH /api/v1/orgs/organizations/{org_id}/projects/{project_id}/"
        _said(expect(self.mem0.patch(f"{ORGS}{self.org_id}/projects/{project_id}/", json=changes), 200,
                     source=operation_source(label)), f"PATCH project {project_id}", label)
        thing.fields.update(changes)
        self.moved.add(f"project:{project_id}")

    @precondition(lambda self: self.projects)
    @rule(data=st.data())
    def delete_project(self, data):
        self.drop_project(data.draw(st.sampled_from(list(self.projects)), label="project"))

    def drop_project(self, project_id: str) -> None:
        label = "DELETE /api/v1/orgs/organizations/{org_id}/projects/{project_id}/"
        path = f"{ORGS}{self.org_id}/projects/{project_id}/"
        _said(expect(self.mem0.delete(path), 200, source=operation_source(label)), f"DELETE {path}", label)
        del self.projects[project_id]
        self.cleanup.forget("project", project_id)
        for webhook_id in [w for w, p in self.webhook_projects.items() if p == project_id and w in self.webhooks]:
            del self.webhooks[webhook_id]  # "Project and related data deleted": its webhooks go with it
            self.cleanup.forget("webhook", webhook_id)
        expect(self.mem0.get(path), 404, source=operation_source(label))

    @precondition(lambda self: self.destructive)
    @rule()
    def create_organization(self):
        self.make_organization()

    def make_organization(self) -> str:
        name = self.new_name("org")
        label = "POST /api/v1/orgs/organizations/"
        answer = expect(self.mem0.post(ORGS, json={"name": name}), 201, source=operation_source(label))
        org_id = answer.get("org_id") if isinstance(answer, dict) else None
        require(isinstance(org_id, str) and org_id not in self.orgs and org_id != self.org_id,
                f"{label} answers org_id {org_id!r}", received=answer, documented="a new organization's id",
                source=operation_source(label))
        _said(answer, f"POST {ORGS}", label)
        self.cleanup.add("organization", org_id, lambda: self.mem0.delete(f"{ORGS}{org_id}/"))
        self.orgs[org_id] = Thing({"name": name}, {self.email: "OWNER"})
        return org_id

    @precondition(lambda self: self.orgs)
    @rule(data=st.data())
    def delete_organization(self, data):
        self.drop_organization(data.draw(st.sampled_from(list(self.orgs)), label="organization"))

    def drop_organization(self, org_id: str) -> None:
        label = "DELETE /api/v1/orgs/organizations/{org_id}/"
        _said(expect(self.mem0.delete(f"{ORGS}{org_id}/"), 200, source=operation_source(label)), f"DELETE {ORGS}{org_id}/",
              label)
        del self.orgs[org_id]
        self.cleanup.forget("organization", org_id)
        expect(self.mem0.get(f"{ORGS}{org_id}/"), 404, source=operation_source(label))

    def _members_path(self, kind: str, ident: str) -> tuple[str, str]:
        """The members path of an organization or project, and its template."""
        if kind == "org":
            return f"{ORGS}{ident}/members/", f"{ORGS}{{org_id}}/members/"
        return f"{ORGS}{self.org_id}/projects/{ident}/members/", f"{ORGS}{{org_id}}/projects/{{project_id}}/members/"

    def _holders(self) -> list[tuple[str, str]]:
        return [("org", o) for o in self.orgs] + [("project", p) for p in self.projects]

    @precondition(lambda self: self.orgs or self.projects)
    @rule(data=st.data(), role=st.sampled_from(MEMBER_ROLES))
    def add_member(self, data, role):
        self.join(*data.draw(st.sampled_from(self._holders()), label="organization or project"), role)

    def join(self, kind: str, ident: str, role: str) -> str:
        thing = (self.orgs if kind == "org" else self.projects)[ident]
        email = f"{self.new_name('member')}@example.com"
        path, template = self._members_path(kind, ident)
        label = f"POST {template}"
        _said(expect(self.mem0.post(path, json={"email": email, "role": role}), 200, 201, source=operation_source(label)),
              f"POST {path}", label)
        thing.members[email] = role
        self.moved.add(f"{kind}:{ident}")
        return email

    def _others(self) -> list[tuple[str, str, str]]:
        return [(kind, ident, email) for kind, ident in self._holders()
                for email in (self.orgs if kind == "org" else self.projects)[ident].members if email != self.email]

    @precondition(lambda self: self._others())
    @rule(data=st.data(), how=st.sampled_from(("role", "remove")))
    def change_member(self, data, how):
        self.regrade(*data.draw(st.sampled_from(self._others()), label="member"), how)

    def regrade(self, kind: str, ident: str, email: str, how: str) -> None:
        thing = (self.orgs if kind == "org" else self.projects)[ident]
        path, template = self._members_path(kind, ident)
        self.moved.add(f"{kind}:{ident}")
        if how == "role":
            role = "OWNER" if thing.members[email] == "READER" else "READER"
            label = f"PUT {template}"
            _said(expect(self.mem0.put(path, json={"email": email, "role": role}), 200, source=operation_source(label)),
                  f"PUT {path}", label)
            thing.members[email] = role
        else:
            label = f"DELETE {template}"
            response = (self.mem0.request("DELETE", path, json={"email": email}) if kind == "org"
                        else self.mem0.delete(path, params={"email": email}))
            _said(expect(response, 200, 204, source=operation_source(label)), f"DELETE {path}", label)
            del thing.members[email]

    # --- the invariant ----------------------------------------------------------------------------------

    @invariant()
    def everything_reads_back_as_modelled(self):
        self.check_entities()
        if self.webhooks_on:
            self.check_webhooks()
        if self.destructive:
            self.check_projects()
            self.check_organizations()

    def teardown(self) -> None:
        """What this example made goes (the next example starts from nothing of its own)."""
        for (kind, name) in list(self.entities):
            self.mem0.delete(f"/v2/entities/{kind}/{name}/")
            self.cleanup.forget(kind, name)
        for webhook_id in list(self.webhooks):
            self.mem0.delete(f"{WEBHOOKS}{webhook_id}/")
            self.cleanup.forget("webhook", webhook_id)
        for project_id in list(self.projects):
            self.mem0.delete(f"{ORGS}{self.org_id}/projects/{project_id}/")
            self.cleanup.forget("project", project_id)
        for org_id in list(self.orgs):
            self.mem0.delete(f"{ORGS}{org_id}/")
            self.cleanup.forget("organization", org_id)

