"""The account behind a Mem0 API key: organizations, projects, their members and users.

State lives in plain store tables (emptied by ``Store.reset``):

- ``organizations``: org_id -> {id, org_id, name, description, created_at, updated_at, members}
- ``projects``: project_id -> {id, project_id, org_id, name, description, settings..., members}
- ``platform_users``: email -> {id, email} (the integer ids the organization answers list)
- ``account``: bookkeeping (``seeded``, integer id counters)

The key's own organization (``settings.org_id``) and project (``settings.project_id``) exist
from the start: :func:`ensure_account` creates them on first use, with the key's user
(``settings.user_email``) as their OWNER.

Decisions where FACTS.md and the documents are silent:
- Members are identified by email; the email is also reported as ``user_id`` (organization
  members) and ``username`` (project members). Roles are ``READER`` and ``OWNER``, the two
  values the mem0ai SDK allows; any other role is rejected with 400.
- Project membership does not require organization membership.
- Every organization and project the key created is visible to it; ids of organizations and
  projects created through the API are UUIDs, their numeric ``id`` counts up from 1.
"""

from __future__ import annotations

import re
from typing import Any

from conformance.server.errors import ApiError
from conformance.server.settings import ServerSettings
from conformance.server.store import Store, iso, new_id, now

ROLES = ("READER", "OWNER")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_email(value: Any) -> bool:
    return isinstance(value, str) and bool(_EMAIL.match(value))


def not_found(message: str, key: str = "message") -> ApiError:
    return ApiError(404, {key: message})


def _next_number(store: Store, kind: str) -> int:
    counters = store.table("account").setdefault("counters", {})
    counters[kind] = counters.get(kind, 0) + 1
    return counters[kind]


def user_number(store: Store, email: str) -> int:
    """The integer id of the platform user with this email (created on first mention)."""
    with store.lock:
        users = store.table("platform_users")
        if email not in users:
            users[email] = {"id": _next_number(store, "user"), "email": email}
        return users[email]["id"]


def ensure_account(store: Store, settings: ServerSettings) -> None:
    """Create the key's organization and project (once per store reset)."""
    with store.lock:
        state = store.table("account")
        if state.get("seeded"):
            return
        state["seeded"] = {"at": iso(now())}
        organization = new_organization(store, settings, "Reference organization", org_id=settings.org_id)
        new_project(store, settings, organization, "Reference project", project_id=settings.project_id)


def new_organization(store: Store, settings: ServerSettings, name: str, *, org_id: str | None = None) -> dict[str, Any]:
    with store.lock:
        moment = iso(now())
        organization = {
            "id": _next_number(store, "organization"), "org_id": org_id or new_id(), "name": name,
            "description": "", "created_at": moment, "updated_at": moment,
            "members": {settings.user_email: "OWNER"},
        }
        user_number(store, settings.user_email)
        store.table("organizations")[organization["org_id"]] = organization
        return organization


def new_project(store: Store, settings: ServerSettings, organization: dict[str, Any], name: str, *,
                description: str = "", project_id: str | None = None) -> dict[str, Any]:
    with store.lock:
        moment = iso(now())
        project = {
            "id": _next_number(store, "project"), "project_id": project_id or new_id(),
            "org_id": organization["org_id"], "name": name, "description": description,
            "custom_instructions": None, "custom_categories": None,
            "created_at": moment, "updated_at": moment, "members": {settings.user_email: "OWNER"},
        }
        store.table("projects")[project["project_id"]] = project
        return project


def organization(store: Store, settings: ServerSettings, org_id: str) -> dict[str, Any]:
    """The organization ``org_id``, or 404 ``{"message": "Organization not found"}``."""
    ensure_account(store, settings)
    found = store.table("organizations").get(org_id)
    if found is None:
        raise not_found("Organization not found")
    return found


def project(store: Store, settings: ServerSettings, org_id: str, project_id: str) -> dict[str, Any]:
    """The project ``project_id`` of organization ``org_id``, or 404."""
    ensure_account(store, settings)
    found = store.table("projects").get(project_id)
    if org_id not in store.table("organizations") or found is None or found["org_id"] != org_id:
        raise not_found("Organization or project not found")
    return found


def project_anywhere(store: Store, settings: ServerSettings, project_id: str) -> dict[str, Any]:
    """The project ``project_id`` in any organization, or 404 ``{"error": "Project not found"}``."""
    ensure_account(store, settings)
    found = store.table("projects").get(project_id)
    if found is None:
        raise not_found("Project not found", key="error")
    return found


def delete_project(store: Store, project_id: str) -> None:
    """Remove a project and its related data (its webhooks)."""
    with store.lock:
        store.table("projects").pop(project_id, None)
        webhooks = store.table("webhooks")
        for webhook_id in [w for w, hook in webhooks.items() if hook["project_id"] == project_id]:
            del webhooks[webhook_id]


def delete_organization(store: Store, org_id: str) -> None:
    """Remove an organization with its projects."""
    with store.lock:
        for project_id in [p for p, proj in store.table("projects").items() if proj["org_id"] == org_id]:
            delete_project(store, project_id)
        store.table("organizations").pop(org_id, None)


def organization_view(store: Store, found: dict[str, Any]) -> dict[str, Any]:
    """An organization as the API shows it (GET .../organizations/ and .../{org_id}/)."""
    owner = next((email for email, role in found["members"].items() if role == "OWNER"), None)
    view = {
        "id": found["id"], "org_id": found["org_id"], "name": found["name"], "description": found["description"],
        "on_paid_plan": False, "created_at": found["created_at"], "updated_at": found["updated_at"],
        "members": [user_number(store, email) for email in found["members"]],
    }
    if owner is not None:
        view["owner"] = user_number(store, owner)
        view["contact_email"] = owner
    return view


def project_view(found: dict[str, Any]) -> dict[str, Any]:
    """A project as the API shows it (listing and GET .../projects/{project_id}/)."""
    view = {key: found[key] for key in ("id", "project_id", "name", "description", "created_at", "updated_at")}
    view["org_id"] = found["org_id"]
    for key in ("custom_instructions", "custom_categories", "multilingual", "decay", "agent_custom_instructions"):
        if found.get(key) is not None:
            view[key] = found[key]
    view["members"] = [{"username": email, "email": email, "role": role} for email, role in found["members"].items()]
    return view
