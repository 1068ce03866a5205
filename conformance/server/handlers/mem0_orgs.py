"""Organizations and their members (``/api/v1/orgs/organizations/...``).

Answers follow the documented shapes: 404 ``{"message": "Organization not found"}``; the
member operations' 400 is Django REST's ``{"errors": {field: [message]}}`` where the
operation declares it, ``{"error": ...}`` otherwise.

Decisions where the documents are silent:
- The key's own organization cannot be deleted by that key: 403 (declared).
- The key's user cannot change its own role in, or remove itself from, an organization: 400
  (nothing else is declared). Removing a member also removes it from the organization's projects.
- Creating an organization makes the key's user its OWNER; no project is created with it.
"""

from __future__ import annotations

from typing import Any

from conformance.server.errors import ApiError
from conformance.server.handlers import mem0_account as account
from conformance.server.registry import Call, handles
from conformance.server.store import iso, now


def _field_errors(**errors: str) -> ApiError:
    return ApiError(400, {"errors": {field: [message] for field, message in errors.items()}})


def _check_member_input(body: dict[str, Any], *, email: bool = True) -> None:
    """Email and role of a member body (Django-style 400 on the first problem)."""
    if email and not account.is_email(body["email"]):
        raise _field_errors(email="Enter a valid email address.")
    if body["role"] not in account.ROLES:
        raise _field_errors(role=f'"{body["role"]}" is not a valid choice. Choose READER or OWNER.')


@handles("organizations_read")
def list_organizations(call: Call) -> tuple[int, Any]:
    """Every organization the key's user belongs to, oldest first."""
    with call.store.lock:
        account.ensure_account(call.store, call.settings)
        organizations = call.store.table("organizations").values()
        found = [org for org in organizations if call.settings.user_email in org["members"]]
        return 200, [account.organization_view(call.store, org) for org in found]


@handles("create_organization")
def create_organization(call: Call) -> tuple[int, Any]:
    """201 ``{message, org_id}``; a name of spaces only is 400 (an empty one is the schema's minLength)."""
    name = call.body["name"]
    if name and not name.strip():
        raise _field_errors(name="This field may not be blank.")
    with call.store.lock:
        account.ensure_account(call.store, call.settings)
        created = account.new_organization(call.store, call.settings, name)
        return 201, {"message": "Organization created successfully.", "org_id": created["org_id"]}


@handles("get_organization")
def get_organization(call: Call) -> tuple[int, Any]:
    with call.store.lock:
        found = account.organization(call.store, call.settings, call.path["org_id"])
        return 200, account.organization_view(call.store, found)


@handles("delete_organization")
def delete_organization(call: Call) -> tuple[int, Any]:
    """Deletes the organization and its projects; the key's own organization is 403."""
    with call.store.lock:
        found = account.organization(call.store, call.settings, call.path["org_id"])
        if found["org_id"] == call.settings.org_id:
            raise ApiError(403, {"message": "Unauthorized: an API key cannot delete its own organization."})
        account.delete_organization(call.store, found["org_id"])
        return 200, {"message": "Organization deleted successfully!"}


@handles("get_organization_members")
def get_members(call: Call) -> tuple[int, Any]:
    with call.store.lock:
        found = account.organization(call.store, call.settings, call.path["org_id"])
        members = [{"user_id": email, "email": email, "role": role} for email, role in found["members"].items()]
        return 200, {"members": members}


@handles("add_organization_member")
def add_member(call: Call) -> tuple[int, Any]:
    """201; an invalid email or role, or an existing member, is 400."""
    with call.store.lock:
        found = account.organization(call.store, call.settings, call.path["org_id"])
        _check_member_input(call.body)
        email = call.body["email"]
        if email in found["members"]:
            raise _field_errors(email="User is already a member of the organization.")
        account.user_number(call.store, email)
        found["members"][email] = call.body["role"]
        found["updated_at"] = iso(now())
        return 201, {"message": "User added to the organization."}


@handles("update_organization_member_role")
def update_member(call: Call) -> tuple[int, Any]:
    """200; an invalid role or the key's own user is 400, an unknown member 404."""
    with call.store.lock:
        found = account.organization(call.store, call.settings, call.path["org_id"])
        _check_member_input(call.body, email=False)
        email = call.body["email"]
        if email not in found["members"]:
            raise account.not_found("Member not found in the organization")
        if email == call.settings.user_email:
            raise _field_errors(email="You cannot change your own role.")
        found["members"][email] = call.body["role"]
        found["updated_at"] = iso(now())
        return 200, {"message": "User role updated successfully"}


@handles("remove_organization_member")
def remove_member(call: Call) -> tuple[int, Any]:
    """200; an unknown member is 404, the key's own user 400. Also leaves the org's projects."""
    with call.store.lock:
        found = account.organization(call.store, call.settings, call.path["org_id"])
        email = call.body["email"]
        if email not in found["members"]:
            raise account.not_found("Member not found in the organization")
        if email == call.settings.user_email:
            raise ApiError(400, {"error": "You cannot remove yourself from the organization."})
        del found["members"][email]
        found["updated_at"] = iso(now())
        for project in call.store.table("projects").values():
            if project["org_id"] == found["org_id"]:
                project["members"].pop(email, None)
        return 200, {"message": "User removed from organization."}
