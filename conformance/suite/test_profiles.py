"""The memory profiles API (overlay 0008): settings written back as sent, jobs that settle, profiles by status.

The settings are the project's, not the run's: every test here changes them, so each needs the
reference server or ``--allow-destructive`` (and the ``profiles`` capability), and sets what it
relies on first. What a generated profile holds is the reference server's rule (its texts that
mention a schema property's name); a live target's profiles are held only to what the SDKs
document: ``succeeded`` once a job settled, built from the user's own memories.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.suite.machines.mem0_calls import add_memories, memory_of
from conformance.suite.sources import refused
from conformance.suite.support import Patience, expect
from conformance.verdicts import Severity, operation_source, require

pytestmark = [pytest.mark.contract("Memory profiles"), pytest.mark.requires("mem0", "profiles", "destructive")]

SETTINGS = "/v2/profiles/settings/"
JOBS = "/v2/profiles/jobs/"
SCHEMA = {"type": "object", "properties": {"tea": {"type": "array", "description": "What the user drinks"},
                                           "city": {"type": "string", "description": "Where the user lives"}}}
UNSET = object()


def write(mem0, body: dict[str, Any]) -> dict[str, Any]:
    source = operation_source(f"POST {SETTINGS}")
    answer = expect(mem0.post(SETTINGS, json=body), 200, what=f"POST {SETTINGS} {body}", source=source)
    require(isinstance(answer, dict), f"POST {SETTINGS} answers no settings object", received=answer,
            documented="the settings as stored: {enabled, entities: {user: {schema, custom_instructions}}}", source=source)
    return answer


def read(mem0) -> dict[str, Any]:
    return expect(mem0.get(SETTINGS), 200, source=operation_source(f"GET {SETTINGS}"))


def stored(settings: dict[str, Any]) -> tuple[Any, Any, Any]:
    user = (settings.get("entities") or {}).get("user") or {}
    return settings.get("enabled"), user.get("schema"), user.get("custom_instructions")


def schemas() -> st.SearchStrategy[dict[str, Any] | None]:
    names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12)
    properties = st.dictionaries(names, st.builds(lambda d: {"type": "string", "description": d},
                                                  st.text(min_size=1, max_size=20)), min_size=1, max_size=3)
    return st.none() | properties.map(lambda props: {"type": "object", "properties": props})


@given(enabled=st.sampled_from([UNSET, True, False]), schema=st.sampled_from([UNSET]) | schemas(),
       instructions=st.sampled_from([UNSET, None]) | st.text(max_size=40))
def test_settings_are_written_back_as_sent_and_only_what_a_write_names(mem0, enabled, schema, instructions):
    """A settings write answers, and every later read shows, the settings as before with exactly what it named
    changed (null clears); the schema's property names come back verbatim."""
    before = stored(write(mem0, {"enabled": True, "entities": {"user": {"schema": SCHEMA,
                                                                        "custom_instructions": "Be brief."}}}))
    body: dict[str, Any] = {} if enabled is UNSET else {"enabled": enabled}
    user = {key: value for key, value in (("schema", schema), ("custom_instructions", instructions)) if value is not UNSET}
    if user:
        body["entities"] = {"user": user}
    expected = tuple(before[i] if value is UNSET else value for i, value in enumerate((enabled, schema, instructions)))
    answered = stored(write(mem0, body))
    source = operation_source(f"POST {SETTINGS}")
    require(answered == expected, f"POST {SETTINGS} {body} answers other settings", received=answered,
            documented=f"(enabled, schema, custom_instructions) = {expected}: only what the write names changes",
            source=source, severity=Severity.CRITICAL)
    again = stored(read(mem0))
    require(again == expected, f"GET {SETTINGS} after POST {body} shows other settings", received=again,
            documented=f"{expected}, as the write answered", source=operation_source(f"GET {SETTINGS}"),
            severity=Severity.CRITICAL)


@pytest.mark.parametrize("body", [
    pytest.param({"schema": SCHEMA}, id="flat schema"),
    pytest.param({"entities": {"agent": {"schema": SCHEMA}}}, id="another entity type"),
    pytest.param({"entities": {"user": {"schema": {"type": "object", "properties": {"tea": {"type": "string"}}}}}},
                 id="a property without a description"),
])
def test_settings_the_api_does_not_take_are_refused_and_change_nothing(mem0, body):
    """Flat settings, another entity type, or a schema property without a description: 400, settings unchanged."""
    before = stored(write(mem0, {"enabled": True, "entities": {"user": {"schema": SCHEMA, "custom_instructions": "x"}}}))
    refused(mem0.post(SETTINGS, json=body), 400, what=f"POST {SETTINGS} {body}", source=operation_source(f"POST {SETTINGS}"))
    after = stored(read(mem0))
    require(after == before, f"a refused POST {SETTINGS} changed the settings", received=after, documented=before,
            source=operation_source(f"POST {SETTINGS}"), severity=Severity.CRITICAL)


def profile(mem0, user: str) -> dict[str, Any]:
    path = f"/v2/entities/user/{user}/profile/"
    answer = expect(mem0.get(path), 200, source=operation_source("GET /v2/entities/user/{entity_id}/profile/"))
    require(isinstance(answer, dict) and answer.get("entity_id") == user,
            f"GET {path} answers no profile of {user}", received=answer,
            documented="{profile, status, entity_type: user, entity_id, updated_at, generation_count}",
            source=operation_source("GET /v2/entities/user/{entity_id}/profile/"))
    return answer


def trigger(mem0, user: str, key: str | None = None) -> dict[str, Any]:
    source = operation_source(f"POST {JOBS}")
    headers = {"Idempotency-Key": key} if key else {}
    answer = expect(mem0.post(JOBS, json={"operation": "trigger", "entity_type": "user", "entity_id": user},
                              headers=headers), 202, what=f"triggering the profile of {user}", source=source)
    require(isinstance(answer, dict) and isinstance(answer.get("job_id"), str)
            and answer.get("status_url") == f"{JOBS}{answer['job_id']}/",
            f"POST {JOBS} answers no job with its status_url", received=answer,
            documented=f"202 {{job_id, status, status_url: {JOBS}<job_id>/, …}}", source=source)
    return answer


def settled(mem0, job: dict[str, Any]) -> dict[str, Any]:
    """The job once its status is succeeded (read at its status_url), within the target's consistency wait."""
    source = operation_source("GET /v2/profiles/jobs/{job_id}/")

    def check() -> dict[str, Any]:
        answer = expect(mem0.get(job["status_url"]), 200, source=source)
        state = (answer or {}).get("job") or {}
        assert state.get("status") == "succeeded", f"job {job['job_id']} is {state.get('status')!r}"
        return state

    return Patience(mem0.wait).wait(check, what=f"profile job {job['job_id']} settling")


def test_a_triggered_profile_settles_from_the_user_s_own_memories(mem0, new_user):
    """Before a job a user's profile is insufficient_data; a triggered job settles (total 1, succeeded 1) and the
    profile, now succeeded, holds that user's memories by the schema, none of another user's."""
    write(mem0, {"enabled": True, "entities": {"user": {"schema": SCHEMA}}})
    ana, ben = new_user(), new_user()
    made = add_memories(mem0, ["Drinks green tea every morning", "Lives in Basel"], user_id=ana)
    add_memories(mem0, ["Drinks black tea at night"], user_id=ben)
    source = operation_source("GET /v2/entities/user/{entity_id}/profile/")
    fresh = profile(mem0, ana)
    require(fresh.get("status") == "insufficient_data" and fresh.get("generation_count") == 0,
            f"the profile of {ana} before any job", received=fresh,
            documented="status insufficient_data, generation_count 0", source=source)
    state = settled(mem0, trigger(mem0, ana))
    counts = {key: state.get(key) for key in ("total", "completed", "succeeded", "failed", "skipped")}
    require(counts == {"total": 1, "completed": 1, "succeeded": 1, "failed": 0, "skipped": 0},
            "a settled trigger job counts otherwise", received=counts,
            documented="total 1, completed 1 = succeeded 1 + failed 0 + skipped 0",
            source=operation_source("GET /v2/profiles/jobs/{job_id}/"))
    done = profile(mem0, ana)
    require(done.get("status") == "succeeded" and done.get("generation_count") == 1, f"the profile of {ana} after "
            "its job settled", received=done, documented="status succeeded, generation_count 1", source=source)
    newest = max(moment(memory_of(mem0, memory_id)["created_at"]) for memory_id, _ in made)
    generated = moment(done.get("updated_at"))
    require(generated is not None and newest is not None and generated >= newest,
            f"the profile of {ana} says it was generated at {done.get('updated_at')}, before her memories existed",
            received=done.get("updated_at"), documented=f"a moment at or after {newest} (her newest memory)",
            source=source)
    require(done.get("profile") == {"tea": ["Drinks green tea every morning"], "city": None},
            f"the profile of {ana} holds other memories than hers", received=done.get("profile"),
            documented="{tea: her texts that mention tea, city: null} (her memories only, by the schema)",
            source=source, severity=Severity.CRITICAL)
    other = profile(mem0, ben)
    require(other.get("status") == "insufficient_data", f"triggering {ana}'s profile changed {ben}'s", received=other,
            documented="status insufficient_data (no job named him)", source=source)


def moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def sample(mem0, limit: int) -> dict[str, Any]:
    source = operation_source(f"POST {JOBS}")
    answer = expect(mem0.post(JOBS, json={"operation": "sample", "entity_type": "user", "limit": limit}), 202,
                    what=f"a sample of {limit}", source=source)
    require(isinstance(answer, dict) and isinstance(answer.get("job_id"), str), f"POST {JOBS} answers no job",
            received=answer, documented="202 {job_id, status_url, sampled, entity_ids, …}", source=source)
    return answer


def test_jobs_answer_what_was_asked_and_read_back_as_they_settle(mem0, new_user):
    """A trigger and a sample of 1 (after a trigger, a sample of 2 and a replay): each answer names its own operation,
    the users it reserved (1; the one sampled, a user of the project), a fresh job and event, replayed false; each job read
    says the same job and, settled, counts every reserved user succeeded."""
    write(mem0, {"enabled": True})
    users = [new_user() for _ in range(3)]
    for user in users:
        add_memories(mem0, ["Drinks green tea every morning"], user_id=user)
    key = f"key-{uuid.uuid4().hex}"
    earlier = [trigger(mem0, users[0], key), sample(mem0, 2)]
    trigger(mem0, users[0], key)  # a replay: an answer that says replayed true
    made = [("trigger", 1, trigger(mem0, users[1])), ("sample", 1, sample(mem0, 1))]
    source = operation_source(f"POST {JOBS}")
    for operation, count, job in made:
        shown = {key: job.get(key) for key in ("operation", "entity_type", "entity_count_reserved", "replayed")}
        wanted = {"operation": operation, "entity_type": "user", "entity_count_reserved": count, "replayed": False}
        require(shown == wanted, f"POST {JOBS} ({operation}) answers {shown}", received=job, documented=wanted,
                source=source, severity=Severity.CRITICAL)
    picked = made[1][2].get("entity_ids")
    require(isinstance(picked, list) and len(picked) == 1 == made[1][2].get("sampled"),
            f"a sample of 1 picks {picked!r}", received=made[1][2], documented="sampled 1, one entity_id", source=source)
    for user in picked:
        profile(mem0, user)  # a user of the project: 200, not 404
    every = [*earlier, *(job for _, _, job in made)]
    jobs = [job["job_id"] for job in every]
    events = [job.get("event_id") for job in every if job.get("event_id") is not None]
    require(len(set(jobs)) == len(jobs) and len(set(events)) == len(events), "two jobs answer the same job or event",
            received={"jobs": jobs, "events": events}, documented="a job and an event of their own each", source=source)
    read = operation_source("GET /v2/profiles/jobs/{job_id}/")
    for operation, count, job in [("sample", 2, earlier[1]), *made]:
        state = settled(mem0, job)
        shown = {key: state.get(key) for key in ("id", "operation", "entity_type", "total", "completed", "succeeded")}
        wanted = {"id": job["job_id"], "operation": operation, "entity_type": "user", "total": count,
                  "completed": count, "succeeded": count}
        require(shown == wanted, f"GET {job['status_url']} once settled says {shown}", received=state,
                documented=wanted, source=read, severity=Severity.CRITICAL)


def test_a_repeated_idempotency_key_answers_the_first_job_and_queues_nothing(mem0, new_user):
    """The same Idempotency-Key and body again: the same job, replayed, one generation; with another body: 409."""
    write(mem0, {"enabled": True})
    user = new_user()
    add_memories(mem0, ["Drinks green tea every morning"], user_id=user)
    key = f"key-{uuid.uuid4().hex}"
    first, again = trigger(mem0, user, key), trigger(mem0, user, key)
    source = operation_source(f"POST {JOBS}")
    require(again.get("job_id") == first["job_id"] and first.get("replayed") is False and again.get("replayed") is True,
            f"POST {JOBS} with a repeated Idempotency-Key answers another job", received=[first, again],
            documented="the first job again, replayed: true (and replayed: false the first time)", source=source,
            severity=Severity.CRITICAL)
    settled(mem0, first)
    count = profile(mem0, user).get("generation_count")
    require(count == 1, f"a repeated Idempotency-Key generated the profile {count} times", received=count,
            documented="one generation: a replay queues nothing", source=source, severity=Severity.CRITICAL)
    other = new_user()
    add_memories(mem0, ["Lives in Basel"], user_id=other)
    refused(mem0.post(JOBS, json={"operation": "trigger", "entity_type": "user", "entity_id": other},
                      headers={"Idempotency-Key": key}), 409, what="the Idempotency-Key again with another body",
            source=source)


def test_without_profiles_enabled_a_profile_says_so_and_no_job_is_taken(mem0, new_user):
    """Profiles disabled: a user's profile answers not_enabled, a trigger is refused with 400; an unknown user 404."""
    user = new_user()
    add_memories(mem0, ["Drinks green tea every morning"], user_id=user)
    write(mem0, {"enabled": False})
    shown = profile(mem0, user)
    require(shown.get("status") == "not_enabled", f"the profile of {user} with profiles disabled", received=shown,
            documented="status not_enabled", source=operation_source("GET /v2/entities/user/{entity_id}/profile/"))
    refused(mem0.post(JOBS, json={"operation": "trigger", "entity_type": "user", "entity_id": user}), 400,
            what="a trigger with profiles disabled", source=operation_source(f"POST {JOBS}"))
    write(mem0, {"enabled": True})
    nobody = new_user()
    refused(mem0.get(f"/v2/entities/user/{nobody}/profile/"), 404, what="the profile of a user without memories",
            source=operation_source("GET /v2/entities/user/{entity_id}/profile/"))
    refused(mem0.post(JOBS, json={"operation": "trigger", "entity_type": "user", "entity_id": nobody}), 404,
            what="a trigger for a user without memories", source=operation_source(f"POST {JOBS}"))


def test_a_sample_picks_users_of_the_project_within_its_limit(mem0, new_user):
    """A sample of limit 1 picks one user who has memories, the job counts it, and that user's profile settles."""
    write(mem0, {"enabled": True})
    user = new_user()
    add_memories(mem0, ["Drinks green tea every morning"], user_id=user)
    source = operation_source(f"POST {JOBS}")
    job = expect(mem0.post(JOBS, json={"operation": "sample", "entity_type": "user", "limit": 1}), 202, source=source)
    picked = job.get("entity_ids") if isinstance(job, dict) else None
    require(isinstance(picked, list) and len(picked) == 1 and job.get("sampled") == 1,
            f"POST {JOBS} sample with limit 1 picks {picked!r}", received=job,
            documented="sampled 1, entity_ids: one user id", source=source)
    state = settled(mem0, job)
    require(state.get("total") == 1 and state.get("succeeded") == 1, "a settled sample job counts otherwise",
            received=state, documented="total 1, succeeded 1", source=operation_source("GET /v2/profiles/jobs/{job_id}/"))
    require(profile(mem0, picked[0]).get("status") == "succeeded", f"the sampled user {picked[0]}'s profile",
            received=profile(mem0, picked[0]), documented="status succeeded once the sample settled",
            source=operation_source("GET /v2/entities/user/{entity_id}/profile/"))
