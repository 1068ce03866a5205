"""Projects of an organization and their members (``.../organizations/{org_id}/projects/...``).

404 ``{"message": "Organization or project not found"}`` for an unknown organization, an
unknown project, or a project of another organization.

Decisions where the documents are silent:
- The key's own project cannot be deleted by that key: 403 (declared). Deleting a project
  deletes its webhooks ("Project and related data").
- The key's user cannot change its own role in, or remove itself from, a project: 403
  "Unauthorized to modify project members." (declared).
- PATCH accepts the documented fields (name, description, custom_instructions,
  custom_categories) and the SDK's multilingual, decay and agent_custom_instructions; a
  PATCH without any field is a no-op answered 200 (a partial update with nothing to change).
"""

from __future__ import annotations

from typing import Any

from conformance.server import faults
from conformance.server.errors import ApiError
from conformance.server.handlers import mem0_account as account
from conformance.server.registry import Call, handles
from conformance.server.store import iso, now

OWN_PROJECT_DELETABLE = faults.declare(
    "own-project-deletable", "auth",
    "The API key may delete its own project: DELETE answers 200 and the project is gone, where 403 is right.",
)
MEMBER_ADD_OVERWRITES_ROLE = faults.declare(
    "project-member-add-overwrites-role", "consistency",
    "Adding an existing project member answers 200 and silently changes its role, instead of 400.",
)

FORBIDDEN_MEMBERS = ApiError(403, {"message": "Unauthorized to modify project members."})
OPTIONAL_SETTINGS = {"multilingual": bool, "decay": bool, "agent_custom_instructions": str}


def _bad(message: str) -> ApiError:
    return ApiError(400, {"error": message})


@handles("get_projects")
def list_projects(call: Call) -> tuple[int, Any]:
    """The organization's projects, oldest first; 404 for an unknown organization."""
    with call.store.lock:
        found = account.organization(call.store, call.settings, call.path["org_id"])
        projects = [p for p in call.store.table("projects").values() if p["org_id"] == found["org_id"]]
        return 200, [account.project_view(p) for p in projects]


@handles("create_project")
def create_project(call: Call) -> tuple[int, Any]:
    """200 ``{message, project_id}``; a blank name or a non-string description is 400."""
    with call.store.lock:
        found = account.organization(call.store, call.settings, call.path["org_id"])
        name, description = call.body["name"], call.body.get("description", "")
        if name and not name.strip():  # an empty name is the schema's minLength
            raise ApiError(400, {"message": "Project could not be created: the name may not be blank."})
        if not isinstance(description, str):
            raise ApiError(400, {"message": "Project could not be created: the description must be a string."})
        created = account.new_project(call.store, call.settings, found, name, description=description)
        return 200, {"message": "Project created successfully.", "project_id": created["project_id"]}


@handles("get_project")
def get_project(call: Call) -> tuple[int, Any]:
    with call.store.lock:
        found = account.project(call.store, call.settings, call.path["org_id"], call.path["project_id"])
        return 200, account.project_view(found)


def _project_changes(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a PATCH changes, checked (400 on a blank name or a mistyped SDK setting)."""
    changes = {key: body[key] for key in ("name", "description", "custom_instructions", "custom_categories")
               if key in body}
    if changes.get("name") and not changes["name"].strip():  # an empty name is the schema's minLength
        raise _bad("name: This field may not be blank.")
    for key, kind in OPTIONAL_SETTINGS.items():
        if key in body and body[key] is not None:
            if not isinstance(body[key], kind):
                raise _bad(f"{key}: must be a {'boolean' if kind is bool else 'string'}")
            changes[key] = body[key]
    return changes


@handles("update_project")
def update_project(call: Call) -> tuple[int, Any]:
    with call.store.lock:
        found = account.project(call.store, call.settings, call.path["org_id"], call.path["project_id"])
        changes = _project_changes(call.body or {})
        if changes:
            found.update(changes)
            found["updated_at"] = iso(now())
        return 200, {"message": "Project updated successfully"}


@handles("delete_project")
def delete_project(call: Call) -> tuple[int, Any]:
    """Deletes the project and its webhooks; the key's own project is 403."""
    with call.store.lock:
        found = account.project(call.store, call.settings, call.path["org_id"], call.path["project_id"])
        if found["project_id"] == call.settings.project_id and not call.fault(OWN_PROJECT_DELETABLE):
            raise ApiError(403, {"message": "Unauthorized to modify this project: it is the API key's own project."})
        account.delete_project(call.store, found["project_id"])
        return 200, {"message": "Project and related data deleted successfully."}


@handles("get_project_members")
def get_members(call: Call) -> tuple[int, Any]:
    with call.store.lock:
        found = account.project(call.store, call.settings, call.path["org_id"], call.path["project_id"])
        return 200, {"members": account.project_view(found)["members"]}


def _check_role(role: str) -> None:
    if role not in account.ROLES:
        raise _bad(f'role: "{role}" is not a valid choice. Choose READER or OWNER.')


@handles("add_project_member")
def add_member(call: Call) -> tuple[int, Any]:
    """200; an invalid email or role, or an existing member, is 400."""
    with call.store.lock:
        found = account.project(call.store, call.settings, call.path["org_id"], call.path["project_id"])
        email, role = call.body["email"], call.body["role"]
        if not account.is_email(email):
            raise _bad("email: Enter a valid email address.")
        _check_role(role)
        if email in found["members"] and not call.fault(MEMBER_ADD_OVERWRITES_ROLE):
            raise _bad("User is already a member of the project.")
        account.user_number(call.store, email)
        found["members"][email] = role
        return 200, {"message": "User added to the project successfully."}


def _member(call: Call, email: str) -> dict[str, Any]:
    """The project, after checking ``email`` is a member other than the key's own user."""
    found = account.project(call.store, call.settings, call.path["org_id"], call.path["project_id"])
    if email == call.settings.user_email:
        raise FORBIDDEN_MEMBERS
    if email not in found["members"]:
        raise account.not_found("Member not found in the project")
    return found


@handles("update_project_member")
def update_member(call: Call) -> tuple[int, Any]:
    """200; an invalid role is 400, the key's own user 403, an unknown member 404."""
    with call.store.lock:
        account.project(call.store, call.settings, call.path["org_id"], call.path["project_id"])
        _check_role(call.body["role"])
        found = _member(call, call.body["email"])
        found["members"][call.body["email"]] = call.body["role"]
        return 200, {"message": "User role updated successfully."}


@handles("deleteProjectMember")
def remove_member(call: Call) -> tuple[int, Any]:
    """200; the key's own user is 403, an unknown member 404."""
    with call.store.lock:
        found = _member(call, call.query["email"])
        del found["members"][call.query["email"]]
        return 200, {"message": "Member removed from the project"}
