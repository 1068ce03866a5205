"""How the platform machine (:mod:`conformance.suite.machines.platform`) reads back what it made: the entity
list and each entity, the project's webhooks, each project and organization with their members, compared
whole with the model; the server's own fields agreeing from read to read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.suite.support import expect
from conformance.verdicts import Severity, operation_source, require

ORGS = "/api/v1/orgs/organizations/"
WEBHOOKS = "/api/v1/webhooks/"
SERVER_OWN = ("created_at", "updated_at")


@dataclass
class Thing:
    """One resource of the model: what every read of it must show, and its members."""

    fields: dict[str, Any]
    members: dict[str, str] = field(default_factory=dict)  # email -> role


class PlatformReads:
    """The reads of :class:`~conformance.suite.machines.platform.PlatformMachine` (its model and client are its own)."""

    def own_fields(self, key: str, view: dict[str, Any], label: str, names: tuple[str, ...] = SERVER_OWN) -> None:
        """``view``'s server fields agree with the last read of ``key`` (``updated_at`` may move after a change)."""
        seen = self.seen.setdefault(key, {})
        for name in names:
            if name not in view:
                require(name not in seen, f"{label} leaves out its {name}, which another answer showed",
                        received=sorted(view), documented=f"{name}: {seen.get(name)!r}", source=operation_source(label))
                continue
            if name in seen and not (name == "updated_at" and key in self.moved):
                require(view[name] == seen[name], f"{label} shows {name} {view[name]!r}, an earlier answer "
                        f"{seen[name]!r}, with no change in between", received=view[name], documented=seen[name],
                        source=operation_source(label))
            seen[name] = view[name]
        self.moved.discard(key)

    def shows(self, view: Any, expected: dict[str, Any], label: str, what: str) -> None:
        require(isinstance(view, dict), f"{label} shows no {what}", received=view, documented=expected,
                source=operation_source(label))
        shown = {name: view.get(name) for name in expected}
        require(shown == expected, f"{label} shows the {what} otherwise than it was made", received=shown,
                documented=expected, source=operation_source(label), severity=Severity.CRITICAL)

    def check_entities(self) -> None:
        label = "GET /v1/entities/"
        listed = self.entity_list()
        require(set(listed) == set(self.entities), f"{label} lists the run's entities {sorted(listed)}",
                received=sorted(listed), documented=sorted(self.entities), source=operation_source(label))
        owners = {(view.get("owner"), view.get("organization")) for view in listed.values()}
        require(len(owners) <= 1, f"{label} shows the key's entities with {len(owners)} owners or organizations",
                received=sorted(map(str, owners)), documented="one owner and organization: the key's",
                source=operation_source(label))
        for (kind, name), view in listed.items():
            expected = {"type": kind, "name": name, "metadata": self.entities[(kind, name)].fields["metadata"] or None,
                        "total_memories": 0}
            shown = {**{key: view.get(key) for key in expected}, "metadata": view.get("metadata") or None}
            require(shown == expected, f"{label} shows the {kind} {name} otherwise than it was made", received=shown,
                    documented=expected, source=operation_source(label), severity=Severity.CRITICAL)
            self.own_fields(f"{kind}:{name}", view, label, ("id", "created_at", "updated_at"))
            path = f"/v1/entities/{kind}/{view.get('id')}/"
            single = expect(self.mem0.get(path), 200, source=operation_source("GET /v1/entities/{entity_type}/{entity_id}/"))
            self.shows(single, {key: view.get(key) for key in ("id", "name", "type", "total_memories", "metadata",
                                                                  "created_at", "updated_at", "owner", "organization")},
                       "GET /v1/entities/{entity_type}/{entity_id}/", f"{kind} {name}")

    def check_webhooks(self) -> None:
        label = "GET /api/v1/webhooks/projects/{project_id}/"
        for project_id in [self.project_id, *sorted(self.projects)]:
            hooks = expect(self.mem0.get(f"{WEBHOOKS}projects/{project_id}/"), 200, source=operation_source(label))
            require(isinstance(hooks, list), f"{label} answers no list", received=hooks, documented="[webhook]",
                    source=operation_source(label))
            mine = {str(h.get("webhook_id")): h for h in hooks
                    if isinstance(h, dict) and str(h.get("name", "")).startswith(self.prefix)}
            wanted = {w for w, p in self.webhook_projects.items() if p == project_id and w in self.webhooks}
            require(set(mine) == wanted, f"GET {WEBHOOKS}projects/{project_id}/ lists the run's webhooks {sorted(mine)}",
                    received=sorted(mine), documented=sorted(wanted), source=operation_source(label))
            for webhook_id, view in mine.items():
                self.check_webhook(view, webhook_id, label)

    def check_projects(self) -> None:
        listed = expect(self.mem0.get(f"{ORGS}{self.org_id}/projects/"), 200,
                        source=operation_source(f"GET {ORGS}{{org_id}}/projects/"))
        mine = {p.get("project_id"): p for p in listed if isinstance(p, dict) and self.made(p)} \
            if isinstance(listed, list) else {}
        require(set(mine) == set(self.projects), f"GET {ORGS}{self.org_id}/projects/ lists the run's projects "
                f"{sorted(mine)}", received=sorted(mine), documented=sorted(self.projects),
                source=operation_source(f"GET {ORGS}{{org_id}}/projects/"))
        for project_id, thing in self.projects.items():
            label = "GET /api/v1/orgs/organizations/{org_id}/projects/{project_id}/"
            view = expect(self.mem0.get(f"{ORGS}{self.org_id}/projects/{project_id}/"), 200, source=operation_source(label))
            self.shows(view, {"project_id": project_id, **thing.fields}, label, f"project {project_id}")
            self.check_members(view.get("members"), thing, label, "username")
            self.shows(mine[project_id], {key: view.get(key) for key in set(view) | set(mine[project_id])},
                       f"GET {ORGS}{{org_id}}/projects/", f"project {project_id}")
            self.own_fields(f"project:{project_id}", view, label, ("id", "created_at", "updated_at"))
            members = expect(self.mem0.get(f"{ORGS}{self.org_id}/projects/{project_id}/members/"), 200)
            self.check_members(members.get("members") if isinstance(members, dict) else None, thing,
                               f"GET {ORGS}{{org_id}}/projects/{{project_id}}/members/", "username")
        self.listed_as_read(listed, "project_id", self.project_id, f"{ORGS}{self.org_id}/projects/{self.project_id}/",
                            f"GET {ORGS}{{org_id}}/projects/", "the key's project")

    def check_organizations(self) -> None:
        label = "GET /api/v1/orgs/organizations/"
        listed = expect(self.mem0.get(ORGS), 200, source=operation_source(label))
        mine = {o.get("org_id"): o for o in listed if isinstance(o, dict) and self.made(o)} \
            if isinstance(listed, list) else {}
        require(set(mine) == set(self.orgs), f"{label} lists the run's organizations {sorted(mine)}",
                received=sorted(mine), documented=sorted(self.orgs), source=operation_source(label))
        for org_id, thing in self.orgs.items():
            single = "GET /api/v1/orgs/organizations/{org_id}/"
            view = expect(self.mem0.get(f"{ORGS}{org_id}/"), 200, source=operation_source(single))
            self.shows(view, {"org_id": org_id, **thing.fields}, single, f"organization {org_id}")
            require(isinstance(view.get("members"), list) and len(view["members"]) == len(thing.members),
                    f"{single} shows {view.get('members')!r} as the members of {org_id}", received=view.get("members"),
                    documented=f"{len(thing.members)} members", source=operation_source(single))
            self.shows(mine[org_id], {key: view.get(key) for key in set(view) | set(mine[org_id])}, label,
                       f"organization {org_id}")
            self.own_fields(f"org:{org_id}", view, single, ("id", "created_at", "updated_at"))
            members = expect(self.mem0.get(f"{ORGS}{org_id}/members/"), 200)
            self.check_members(members.get("members") if isinstance(members, dict) else None, thing,
                               f"GET {ORGS}{{org_id}}/members/", "user_id")
        self.listed_as_read(listed, "org_id", self.org_id, f"{ORGS}{self.org_id}/", label, "the key's organization")

    def listed_as_read(self, listed: Any, key: str, ident: str, path: str, label: str, what: str) -> None:
        """The list shows the key's own organization (project) as reading it shows it, field for field."""
        found = [item for item in listed if isinstance(item, dict) and item.get(key) == ident] \
            if isinstance(listed, list) else []
        require(len(found) == 1, f"{label} lists {what} {ident} {len(found)} times", received=len(found), documented=1,
                source=operation_source(label))
        view = expect(self.mem0.get(path), 200)
        self.shows(found[0], {name: view.get(name) for name in set(view) | set(found[0])}, label, what)
        self.own_fields(f"{key}:{ident}", view, label, ("id", "created_at", "updated_at"))

    def made(self, view: dict[str, Any]) -> bool:
        """Made by this machine (its name carries the prefix), whether the model still holds it or not."""
        return str(view.get("name", "")).startswith(self.prefix)

    def check_members(self, members: Any, thing: Thing, label: str, key: str) -> None:
        require(isinstance(members, list) and all(isinstance(m, dict) for m in members), f"{label} answers no members",
                received=members, documented="[{" + key + ", role}]", source=operation_source(label))
        shown = {str(m.get(key)): m.get("role") for m in members}
        require(shown == thing.members, f"{label} lists members {shown}", received=shown, documented=thing.members,
                source=operation_source(label), severity=Severity.CRITICAL)
