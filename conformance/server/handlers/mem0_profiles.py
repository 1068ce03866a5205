"""The memory profiles API (overlay 0008): settings, generation jobs, and a user's profile.

Settings are the project's: ``{enabled, entities: {user: {schema, custom_instructions}},
capabilities}``, disabled and empty at first. A write names only what it changes (``null``
clears ``schema`` or ``custom_instructions``) and answers the settings as stored; anything else
in the body (a flat ``schema``, another entity type) is 400 "Unsupported settings: ..." and
changes nothing. A profile schema must be a JSON Schema object whose every property has a
``description`` (400 otherwise).

Jobs. ``trigger`` generates one user's profile, ``sample`` the profiles of up to ``limit``
(default 3) users of the project, the first by id. Profiles must be enabled (400) and a triggered
user must have memories in the project (404). A job is queued as a background event (it settles
like a queued add, ``processing_delay`` later) and answers 202 with ``status_url``; its job read
says queued until then, succeeded after. An ``Idempotency-Key`` seen before with the same body
answers that job again (``replayed: true``) and queues nothing; with another body it is 409.

Decisions where the SDKs' documentation is silent (no LLM here):
- A generated profile holds, for each property of the schema, the texts of the user's memories
  that mention the property's name as a word (case-insensitive, ``_`` read as a space), oldest
  first, or null when none does; without a schema, ``{"memories": [every text]}``. The profile
  is fixed when the job settles; ``generation_count`` counts the settled generations.
- A profile's status: ``not_enabled`` while profiles are disabled, else ``pending`` while a job
  for the user is queued, ``succeeded`` once one settled, ``insufficient_data`` before any job.
  A user without memories and without a profile is 404.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from conformance.server import faults
from conformance.server.errors import ApiError, mem0_error
from conformance.server.handlers.mem0_common import bad_request
from conformance.server.registry import Call, Reply, handles
from conformance.server.store import iso, json_copy, new_id, now

SETTINGS, JOBS, PROFILES, KEYS = "profile_settings", "profile_jobs", "profiles", "profile_idempotency_keys"
JOBS_PATH = "/v2/profiles/jobs/"
SAMPLE_LIMIT = 3
NOT_ENABLED = "Profiles are not enabled for this project: enable them in the profile settings first."
NO_USER = "Entity not found"

SETTINGS_DROP_INSTRUCTIONS = faults.declare(
    "profile-settings-drop-instructions", "roundtrip",
    "A profile settings write stores custom_instructions as null (the answer and every later read lose them).",
)
IDEMPOTENCY_IGNORED = faults.declare(
    "profile-job-idempotency-ignored", "consistency",
    "A repeated Idempotency-Key queues a second profile job instead of answering the first one again.",
)
PROFILE_OF_EVERYONE = faults.declare(
    "profile-of-everyone", "filters",
    "A generated profile is built from every memory of the project, not only the user's.",
)


def _settings(call: Call) -> dict[str, Any]:
    table = call.store.table(SETTINGS)
    return table.setdefault(call.settings.project_id, {
        "enabled": False, "entities": {"user": {"schema": None, "custom_instructions": None}},
        "capabilities": {"entity_types": ["user"]}})


@handles("profile_settings_read")
def settings_read(call: Call) -> Reply:
    """200 with the settings as stored."""
    with call.store.lock:
        return Reply(200, json_copy(_settings(call)))


def _checked_schema(schema: Any) -> Any:
    if schema is None:
        return None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict) or not properties:
        raise bad_request("Invalid profile schema: it must be an object schema with properties.")
    missing = [name for name, prop in properties.items() if not (isinstance(prop, dict) and prop.get("description"))]
    if missing:
        raise bad_request(f"Invalid profile schema: every property needs a description ({', '.join(missing[:5])}).")
    return schema


@handles("profile_settings_update")
def settings_update(call: Call) -> Reply:
    """200 with the settings as stored after writing what the body names; 400 for anything else, nothing written."""
    body = call.body if isinstance(call.body, dict) else {}
    unsupported = sorted(set(body) - {"enabled", "entities"})
    entities = body.get("entities", {})
    unsupported += [f"entities.{key}" for key in sorted(set(entities or {}) - {"user"})]
    user = (entities or {}).get("user", {}) or {}
    unsupported += [f"entities.user.{key}" for key in sorted(set(user) - {"schema", "custom_instructions"})]
    if unsupported:
        raise bad_request(f"Unsupported settings: {', '.join(unsupported)}")
    schema = _checked_schema(user["schema"]) if "schema" in user else None
    with call.store.lock:
        stored = _settings(call)
        if "enabled" in body:
            stored["enabled"] = body["enabled"]
        if "schema" in user:
            stored["entities"]["user"]["schema"] = json_copy(schema)
        if "custom_instructions" in user:
            kept = None if call.fault(SETTINGS_DROP_INSTRUCTIONS) else user["custom_instructions"]
            stored["entities"]["user"]["custom_instructions"] = kept
        return Reply(200, json_copy(stored))


def _texts_of(call: Call, user: str | None) -> list[str]:
    """The user's memory texts (every memory's with ``user`` None), oldest first."""
    memories = call.store.select() if user is None else call.store.select(user_id=user)
    return [memory.memory for memory in sorted(memories, key=lambda memory: (memory.created_at, memory.id))]


def _has_memories(call: Call, user: str) -> bool:
    return bool(call.store.select(user_id=user))


def _generate(call: Call, user: str) -> dict[str, Any]:
    """The profile of ``user`` now, by the rule in the module's docstring."""
    texts = _texts_of(call, None if call.fault(PROFILE_OF_EVERYONE) else user)
    schema = _settings(call)["entities"]["user"]["schema"]
    if not schema:
        return {"memories": texts}
    profile = {}
    for name in schema["properties"]:
        words = name.replace("_", " ").strip()
        found = [text for text in texts if words and re.search(rf"(?<!\w){re.escape(words)}(?!\w)", text, re.IGNORECASE)]
        profile[name] = found or None
    return profile


def _queue(call: Call, job: dict[str, Any], users: list[str]) -> None:
    """Queue the job's generations as one background event; the job and the profiles change when it settles."""
    for user in users:
        call.store.table(PROFILES).setdefault(user, {"profile": {}, "updated_at": None, "generation_count": 0})
        call.store.table(PROFILES)[user]["pending"] = job["job_id"]

    def run() -> list[dict[str, Any]]:
        for user in users:
            entry = call.store.table(PROFILES)[user]
            entry.update(profile=_generate(call, user), updated_at=iso(now()),
                         generation_count=entry["generation_count"] + 1)
            if entry.get("pending") == job["job_id"]:
                entry.pop("pending")
        job.update(status="succeeded", completed=len(users), succeeded=len(users))
        return [{"entity_id": user} for user in users]

    event = call.store.schedule("PROFILE", run)
    job["event_id"] = event.id


@handles("profile_jobs_create")
def jobs_create(call: Call) -> Reply:
    """202 with the queued job (or, for a repeated Idempotency-Key and the same body, the first job again)."""
    body = call.body if isinstance(call.body, dict) else {}
    key = call.headers.get("idempotency-key")
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8", "surrogatepass")).hexdigest()
    with call.store.lock:
        seen = call.store.table(KEYS).get(key) if key and not call.fault(IDEMPOTENCY_IGNORED) else None
        if seen is not None:
            if seen["digest"] != digest:
                raise ApiError(409, {"error": "This Idempotency-Key was used with another request body."})
            return Reply(202, {**_created(call.store.table(JOBS)[seen["job_id"]], seen["sampled"]), "replayed": True})
        if not _settings(call)["enabled"]:
            raise bad_request(NOT_ENABLED)
        if body.get("operation") == "trigger":
            user = body.get("entity_id")
            if not isinstance(user, str) or not user:
                raise bad_request("entity_id is required to trigger a profile generation.")
            if not _has_memories(call, user):
                raise mem0_error(404, NO_USER)
            users = [user]
        else:
            limit = body.get("limit", SAMPLE_LIMIT)
            users = sorted(user for user in call.store.memories.values_of("user_id") if user)[:limit]
        job_id = new_id()
        job = {"job_id": job_id, "operation": body.get("operation"), "entity_type": "user", "status": "queued",
               "total": len(users), "enumeration_complete": True, "completed": 0, "succeeded": 0, "failed": 0,
               "skipped": 0, "created_at": iso(now())}
        call.store.table(JOBS)[job_id] = job
        _queue(call, job, users)
        sampled = users if body.get("operation") == "sample" else None
        if key:
            call.store.table(KEYS)[key] = {"digest": digest, "job_id": job_id, "sampled": sampled}
        return Reply(202, {**_created(job, sampled), "replayed": False})


def _created(job: dict[str, Any], sampled: list[str] | None) -> dict[str, Any]:
    answer = {"job_id": job["job_id"], "status": "queued", "status_url": f"{JOBS_PATH}{job['job_id']}/",
              "operation": job["operation"], "entity_type": "user", "entity_count_reserved": job["total"],
              "event_id": job["event_id"]}
    return answer if sampled is None else {**answer, "sampled": len(sampled), "entity_ids": list(sampled)}


@handles("profile_jobs_read")
def jobs_read(call: Call) -> Reply:
    """200 ``{job: {...}}``; 404 for a job the project does not have."""
    job = call.store.table(JOBS).get(call.path["job_id"])
    if job is None:
        raise mem0_error(404, "Job not found")
    view = {key: job[key] for key in ("operation", "entity_type", "status", "total", "enumeration_complete",
                                      "completed", "succeeded", "failed", "skipped", "created_at")}
    return Reply(200, {"job": {"id": job["job_id"], **view}})


@handles("profiles_read")
def profile_read(call: Call) -> Reply:
    """200 with the profile and its status; 404 for a user with neither memories nor a profile."""
    user = call.path["entity_id"]
    with call.store.lock:
        entry = call.store.table(PROFILES).get(user)
        if entry is None and not _has_memories(call, user):
            raise mem0_error(404, NO_USER)
        entry = entry or {"profile": {}, "updated_at": None, "generation_count": 0}
        if not _settings(call)["enabled"]:
            status = "not_enabled"
        elif entry.get("pending"):
            status = "pending"
        elif entry["generation_count"]:
            status = "succeeded"
        else:
            status = "insufficient_data"
        return Reply(200, {"profile": json_copy(entry["profile"]), "status": status, "entity_type": "user",
                           "entity_id": user, "updated_at": entry["updated_at"],
                           "generation_count": entry["generation_count"], "error": None})
