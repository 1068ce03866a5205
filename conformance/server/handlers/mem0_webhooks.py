"""Webhooks of a project (``/api/v1/webhooks/...``).

A webhook is ``{webhook_id, name, url, event_types, is_active, project, created_at,
updated_at}``, ``project`` being the project's name (as documented). Event types are
``memory_add | memory_update | memory_delete | memory_categorize`` (the request schemas enforce them). The
reference server never calls a webhook: it keeps the configuration only.

Decisions where the documents are silent:
- ``webhook_id`` is a decimal string counting up from 1 (the SDK types it an int, the
  document a string; a numeric string satisfies both).
- ``url`` must be an absolute http(s) URL (400 otherwise); ``name`` defaults to "";
  ``event_types`` defaults to the three memory changes (add, update, delete; not categorize); duplicates are dropped; ``is_active`` defaults to true.
- The project comes from the path; a ``project_id`` in the create body is ignored.
- Update (PUT) changes only the fields it is given (name, url, event_types, is_active).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from conformance.server import faults
from conformance.server.errors import ApiError
from conformance.server.handlers import mem0_account as account
from conformance.server.registry import Call, handles
from conformance.server.store import iso, now

EVENT_TYPES = ("memory_add", "memory_update", "memory_delete")  # the default; memory_categorize is asked for

UPDATE_DROPS_EVENT_TYPES = faults.declare(
    "webhook-update-drops-event-types", "roundtrip",
    "A webhook update that does not name event_types clears them (PUT treated as a full replace).",
)


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range or not a number)
    except ValueError:
        valid = False
    if not valid:
        raise ApiError(400, {"error": "url: Enter a valid URL."})


def _event_types(given: list[str]) -> list[str]:
    return list(dict.fromkeys(given))


def _view(call: Call, hook: dict[str, Any]) -> dict[str, Any]:
    project = call.store.table("projects").get(hook["project_id"])
    view = {key: hook[key] for key in ("webhook_id", "name", "url", "is_active", "created_at", "updated_at")}
    view["event_types"] = list(hook["event_types"])
    view["project"] = project["name"] if project else ""
    return view


def _webhook(call: Call) -> dict[str, Any]:
    account.ensure_account(call.store, call.settings)
    hook = call.store.table("webhooks").get(call.path["webhook_id"])
    if hook is None:
        raise account.not_found("Webhook not found", key="error")
    return hook


@handles("get_project_webhooks")
def list_webhooks(call: Call) -> tuple[int, Any]:
    """The project's webhooks, oldest first; 404 for an unknown project."""
    with call.store.lock:
        project = account.project_anywhere(call.store, call.settings, call.path["project_id"])
        hooks = [h for h in call.store.table("webhooks").values() if h["project_id"] == project["project_id"]]
        return 200, [_view(call, hook) for hook in hooks]


@handles("create_webhook")
def create_webhook(call: Call) -> tuple[int, Any]:
    """201 with the webhook; an unknown project is 404, a URL that is not http(s) 400."""
    with call.store.lock:
        project = account.project_anywhere(call.store, call.settings, call.path["project_id"])
        body = call.body
        _check_url(body["url"])
        counters = call.store.table("account").setdefault("counters", {})
        counters["webhook"] = counters.get("webhook", 0) + 1
        moment = iso(now())
        hook = {
            "webhook_id": str(counters["webhook"]), "project_id": project["project_id"],
            "name": body.get("name", ""), "url": body["url"],
            "event_types": _event_types(body.get("event_types", list(EVENT_TYPES))),
            "is_active": body.get("is_active", True), "created_at": moment, "updated_at": moment,
        }
        call.store.table("webhooks")[hook["webhook_id"]] = hook
        return 201, _view(call, hook)


@handles("update_webhook")
def update_webhook(call: Call) -> tuple[int, Any]:
    """200 ``{message}``; an unknown webhook is 404, a bad URL or is_active 400."""
    with call.store.lock:
        hook = _webhook(call)
        body = call.body
        if "url" in body:
            _check_url(body["url"])
        if "is_active" in body and not isinstance(body["is_active"], bool):
            raise ApiError(400, {"error": "is_active: Must be a valid boolean."})
        for key in ("name", "url", "is_active"):
            if key in body:
                hook[key] = body[key]
        if "event_types" in body:
            hook["event_types"] = _event_types(body["event_types"])
        elif call.fault(UPDATE_DROPS_EVENT_TYPES):
            hook["event_types"] = []
        hook["updated_at"] = iso(now())
        return 200, {"message": "Webhook updated successfully"}


@handles("delete_webhook")
def delete_webhook(call: Call) -> tuple[int, Any]:
    with call.store.lock:
        hook = _webhook(call)
        del call.store.table("webhooks")[hook["webhook_id"]]
        return 200, {"message": "Webhook deleted successfully"}
