"""The mem0ai Python SDK's scenarios (``MemoryClient``): each drives the real SDK through a :class:`Context`
and states its expectation and its source (a FACTS.md entry)."""

from __future__ import annotations

import json
from typing import Any

from conformance.sdk.context import Context, ids_of, same_shape, shape
from conformance.sdk.versions import PAGE, REFUSED, SENT
from conformance.verdicts import eventually, fact, require


def _construct(ctx: Context) -> None:
    client = ctx.mem0
    require(client.org_id and client.project_id, "MemoryClient() learned no org_id or project_id from GET /v1/ping/",
            received={"org_id": client.org_id, "project_id": client.project_id},
            documented="org_id and project_id of the key", source=fact("GET /v1/ping/"))


def _add_then_get_all(ctx: Context) -> None:
    user = ctx.new_user()
    memory_id = ctx.memory(user, "I keep bees on the roof")
    answer = ctx.mem0.get_all(filters={"user_id": user})
    same_shape(ctx, "get_all", answer)
    listed = ids_of(answer)
    require(listed == [memory_id], f"get_all(filters={{'user_id': {user!r}}}) after an add for that user lists {listed}",
            received=listed, documented=[memory_id], source=fact("List/search filters (v2/v3)"))


def _paging(ctx: Context) -> None:
    user = ctx.new_user()
    added = {ctx.memory(user, text) for text in ("Has a cat", "Has a dog", "Has a parrot")}
    first = ctx.mem0.get_all(filters={"user_id": user}, page=1, page_size=2)
    second = ctx.mem0.get_all(filters={"user_id": user}, page=2, page_size=2)
    pages = [first, second]
    require([shape(page) for page in pages] == [PAGE, PAGE] and [page.get("count") for page in pages] == [3, 3],
            "get_all(page=..., page_size=2) answers no {count: 3, next, previous, results} page",
            received=pages, documented='{"count": 3, "next", "previous", "results"}', source=fact("Pagination"))
    ids = [ids_of(page) for page in pages]
    require([len(part) for part in ids] == [2, 1] and set(ids[0] + ids[1]) == added,
            f"pages 1 and 2 of size 2 over 3 memories hold {ids}", received=ids,
            documented="2 then 1 memories, together the 3 added", source=fact("Pagination"))


def _ids_as_documented(ctx: Context) -> None:
    """The listing call as the SDK version's own documentation writes it: top-level ``user_id`` (1.x)
    or inside ``filters`` (2.x). A target that answers it "filters are required" breaks users' code."""
    release = ctx.releases["mem0ai"]
    user = ctx.new_user()
    memory_id = ctx.memory(user, "Grows tomatoes")
    if release.documented_ids == "top-level":
        listed, found = ctx.mem0.get_all(user_id=user), ctx.mem0.search("tomatoes", user_id=user)
    else:
        listed, found = ctx.mem0.get_all(filters={"user_id": user}), ctx.mem0.search("tomatoes", filters={"user_id": user})
    require(ids_of(listed) == [memory_id] and memory_id in ids_of(found),
            f"get_all and search with the user's id ({release.documented_ids}) do not show the memory",
            received={"get_all": ids_of(listed), "search": ids_of(found)}, documented=[memory_id],
            source=fact("List/search filters (v2/v3)"))


def _top_level_ids(ctx: Context) -> None:
    """``get_all(user_id=u)``: versions that send top-level ids need a target that honours them;
    versions that refuse them must do so themselves, before sending anything (v3 answers 400)."""
    release = ctx.releases["mem0ai"]
    user = ctx.new_user()
    memory_id = ctx.memory(user, "Sails on weekends")
    if release.top_level_ids == SENT:
        listed = ids_of(ctx.mem0.get_all(user_id=user))
        require(listed == [memory_id], f"get_all(user_id={user!r}) lists {listed}", received=listed,
                documented=[memory_id], source=fact("List/search filters (v2/v3)"))
        return
    for name, call in (("get_all", lambda: ctx.mem0.get_all(user_id=user)),
                       ("search", lambda: ctx.mem0.search("sails", user_id=user))):
        try:
            call()
        except ValueError:
            if ctx.log.last(name).exchanges:
                raise  # sent after all, and the SDK surfaced the target's answer: judged as such
            continue
        require(False, f"{name}(user_id=...) was sent and answered, where {release.label} refuses top-level ids itself",
                received=[e.url for e in ctx.log.last(name).exchanges], documented=f"{REFUSED} by the SDK (ValueError)",
                source=fact("mem0ai Python SDK"))


def _constructor(ctx: Context) -> None:
    """Each constructor argument of the version's row is accepted; each one it removed raises TypeError."""
    release = ctx.releases["mem0ai"]
    values = {"org_id": ctx.mem0.org_id, "project_id": ctx.mem0.project_id}
    given = {name: values[name] for name in sorted(set(release.constructor) & values.keys())}
    if given:  # together: 1.0.x refuses one without the other
        made = ctx.make_mem0(**given)
        require(made.project_id == ctx.mem0.project_id, f"MemoryClient({', '.join(given)}) has another project",
                received=made.project_id, documented=ctx.mem0.project_id, source=fact("GET /v1/ping/"))
    for name in release.removed:
        try:
            ctx.make_mem0(**{name: values.get(name, "x")})
        except TypeError:
            continue
        require(False, f"MemoryClient({name}=...) is accepted, where {release.label} removed it",
                received="constructed", documented="TypeError (conformance/sdk/versions.py)",
                source=fact("mem0ai Python SDK"))


def _users_and_project(ctx: Context) -> None:
    user = ctx.new_user()
    ctx.memory(user, "Bakes sourdough")
    entities = ctx.mem0.users()
    names = [entity.get("name") for entity in entities.get("results") or []] if isinstance(entities, dict) else None
    complete = isinstance(entities, dict) and entities.get("next") is None
    require(isinstance(names, list) and (user in names or not complete),
            f"users() after an add for {user!r} does not list that user", received=entities,
            documented=f'{{"count", "next", "previous", "results": [{{"name": "{user}", "type": "user"}}, ...]}}',
            source=fact("mem0ai Python SDK"))
    project = ctx.mem0.get_project()
    require(isinstance(project, dict) and project.get("project_id") == ctx.mem0.project_id,
            "get_project() answers another project than the key's", received=project,
            documented=f"the project {ctx.mem0.project_id}", source=fact("GET /v1/ping/"))


def _get(ctx: Context) -> None:
    memory_id = ctx.memory(ctx.new_user(), "My bike is green")
    memory = ctx.mem0.get(memory_id)
    require(isinstance(memory, dict) and memory.get("memory") == "My bike is green",
            f"get({memory_id!r}) returns another memory", received=memory, documented="the memory 'My bike is green'",
            source=fact("Add"))


def _search(ctx: Context) -> None:
    user = ctx.new_user()
    memory_id = ctx.memory(user, "Loves hiking in the Alps")
    found = ctx.mem0.search("hiking", filters={"user_id": user})
    same_shape(ctx, "search", found)
    require(memory_id in ids_of(found),
            "search('hiking', filters=...) answers no {results: [...]} holding the memory", received=found,
            documented=f'{{"results": [{{"id": "{memory_id}", ...}}]}}', source=fact("List/search filters (v2/v3)"))


def _update_and_history(ctx: Context) -> None:
    memory_id = ctx.memory(ctx.new_user(), "Drinks coffee")
    ctx.mem0.update(memory_id, text="Drinks tea")
    events = [entry.get("event") for entry in ctx.mem0.history(memory_id)]
    require(events == ["ADD", "UPDATE"], f"history({memory_id!r}) after update holds {events}",
            received=events, documented=["ADD", "UPDATE"], source=fact("History"))


def _delete(ctx: Context) -> None:
    user = ctx.new_user()
    memory_id = ctx.memory(user, "Temporary note")
    ctx.mem0.delete(memory_id)
    listed = ids_of(ctx.mem0.get_all(filters={"user_id": user}))
    require(listed == [], f"get_all after delete({memory_id!r}) still lists {listed}", received=listed,
            documented=[], source=fact("Add"))


def _delete_all(ctx: Context) -> None:
    user = ctx.new_user()
    ctx.memory(user, "Plays the cello")
    ctx.mem0.delete_all(user_id=user)
    found = ids_of(ctx.mem0.search("cello", filters={"user_id": user}))
    require(found == [], f"search after delete_all(user_id={user!r}) still finds {found}", received=found,
            documented=[], source=fact("Delete-all"))


def _queued_add(ctx: Context) -> None:
    user = ctx.new_user()
    queued = ctx.mem0.add("Speaks Portuguese at home", user_id=user, infer=False)
    require(isinstance(queued, dict) and (queued.get("event_id") or queued.get("results")),
            "add() with the platform default (queued) answers no event", received=queued,
            documented='{"message", "status": "PENDING", "event_id"}', source=fact("Add"))

    def listed() -> None:
        texts = [m.get("memory") for m in (ctx.mem0.get_all(filters={"user_id": user}).get("results") or [])]
        require(texts == ["Speaks Portuguese at home"], f"get_all after a queued add lists {texts}", received=texts,
                documented=["Speaks Portuguese at home"], source=fact("Add"))

    eventually(listed, within=ctx.wait, what="the queued add is listed")


def _batch(ctx: Context) -> None:
    user = ctx.new_user()
    first, second = ctx.memory(user, "Owns a kayak"), ctx.memory(user, "Owns a canoe")
    ctx.mem0.batch_update([{"memory_id": first, "text": "Owns two kayaks"}])
    ctx.mem0.batch_delete([{"memory_id": second}])
    texts = sorted(m.get("memory") for m in ctx.mem0.get_all(filters={"user_id": user}).get("results") or [])
    require(texts == ["Owns two kayaks"], f"get_all after batch_update and batch_delete lists {texts}",
            received=texts, documented=["Owns two kayaks"], source=fact("Batch"))


def _feedback(ctx: Context) -> None:
    memory_id = ctx.memory(ctx.new_user(), "Dislikes olives")
    answer = ctx.mem0.feedback(memory_id, feedback="POSITIVE", feedback_reason="accurate")
    require(isinstance(answer, dict) and answer.get("feedback") == "POSITIVE", "feedback() answers another feedback",
            received=answer, documented='{"id", "feedback": "POSITIVE", "feedback_reason"}', source=fact("Add"))


EXPORT_SCHEMA = {"type": "object", "properties": {"memory": {"type": "string"}}}


def _exported(ctx: Context, schema: Any, source: str) -> None:
    """create_memory_export(schema, filters) for a user with one memory, then get_memory_export holds it."""
    user = ctx.new_user()
    ctx.memory(user, "Collects stamps")
    created = ctx.mem0.create_memory_export(schema=schema, filters={"user_id": user})
    require(isinstance(created, dict) and created.get("id"), "create_memory_export() answers no export id",
            received=created, documented='{"message", "id"}', source=fact(source))

    def exported() -> None:
        found = ctx.mem0.get_memory_export(memory_export_id=created["id"])
        require("Collects stamps" in json.dumps(found, ensure_ascii=False),
                "get_memory_export() does not hold the user's memory", received=found,
                documented="the export of the user's memories", source=fact(source))

    eventually(exported, within=ctx.wait, what="the export holds the memory")


def _export(ctx: Context) -> None:
    """The export as the SDK annotates it: the schema as a JSON string."""
    _exported(ctx, json.dumps(EXPORT_SCHEMA), "Add")


def _export_as_documented(ctx: Context) -> None:
    """The export with its schema as the document types it (an object; the SDK annotates a str but sends what
    it is given), so that get_memory_export is reached whatever the string form meets."""
    _exported(ctx, EXPORT_SCHEMA, "Exports")


def _project_update(ctx: Context) -> None:
    """update_project writes the key's project; get_project reads it back (a settings change: destructive)."""
    ctx.mem0.update_project(custom_instructions="Keep memories short.")
    project = ctx.mem0.get_project(fields=["custom_instructions"])
    require(isinstance(project, dict) and project.get("custom_instructions") == "Keep memories short.",
            "get_project(fields=['custom_instructions']) after update_project does not read it back",
            received=project, documented={"custom_instructions": "Keep memories short."}, source=fact("mem0ai Python SDK"))


def _summary(ctx: Context) -> None:
    user = ctx.new_user()
    ctx.memory(user, "Runs marathons")
    answer = ctx.mem0.get_summary(filters={"user_id": user})
    require(isinstance(answer, dict), "get_summary() answers no object", received=answer,
            documented="a summary object", source=fact("Add"))


def _webhooks(ctx: Context) -> None:
    project = ctx.mem0.project_id
    created = ctx.mem0.create_webhook(url="https://example.invalid/hook", name=f"{ctx.prefix}-sdk-hook",
                                      project_id=project, event_types=["memory_add"])
    webhook_id = created.get("webhook_id") or created.get("id") if isinstance(created, dict) else None
    require(webhook_id is not None, "create_webhook() answers no webhook id", received=created,
            documented='{"webhook_id", "name", "url", "event_types", ...}', source=fact("Add"))
    ctx.track_webhook(str(webhook_id))
    ctx.mem0.update_webhook(webhook_id, name=f"{ctx.prefix}-sdk-hook-renamed")
    listed = ctx.mem0.get_webhooks(project_id=project)
    names = [hook.get("name") for hook in listed if isinstance(hook, dict)] if isinstance(listed, list) else listed
    require(isinstance(names, list) and f"{ctx.prefix}-sdk-hook-renamed" in names,
            "get_webhooks() after update_webhook does not show the new name", received=listed,
            documented=f"a webhook named {ctx.prefix}-sdk-hook-renamed", source=fact("Add"))
    ctx.mem0.delete_webhook(webhook_id)


def _delete_users(ctx: Context) -> None:
    user = ctx.new_user()
    ctx.memory(user, "Lives by the sea")
    ctx.mem0.delete_users(user_id=user)
    listed = ids_of(ctx.mem0.get_all(filters={"user_id": user}))
    require(listed == [], f"get_all after delete_users(user_id={user!r}) still lists {listed}", received=listed,
            documented=[], source=fact("Delete-all"))


PROFILE_SCHEMA = {"type": "object", "properties": {"tea": {"type": "array", "description": "What the user drinks"}}}


def _profiles(ctx: Context) -> None:
    client = ctx.mem0
    if not hasattr(client, "get_profile"):
        import pytest

        pytest.skip(f"{ctx.releases['mem0ai'].label} has no memory profile methods")
    written = client.update_profile_settings(enabled=True, schema=PROFILE_SCHEMA, custom_instructions="Keep it short.")
    wanted = {"schema": PROFILE_SCHEMA, "custom_instructions": "Keep it short."}
    for name, settings in (("update_profile_settings", written), ("get_profile_settings", client.get_profile_settings())):
        user = (settings.get("entities") or {}).get("user") if isinstance(settings, dict) else None
        require(isinstance(user, dict) and settings.get("enabled") is True
                and {key: user.get(key) for key in wanted} == wanted,
                f"{name}() after update_profile_settings(enabled=True, schema, custom_instructions) answers other settings",
                received=settings, documented={"enabled": True, "entities": {"user": wanted}},
                source=fact("mem0ai Python SDK"))
    user = ctx.new_user()
    ctx.memory(user, "Drinks green tea every morning")
    job = client.generate_profile(user)
    require(isinstance(job, dict) and job.get("job_id") and job.get("status_url"),
            "generate_profile() answers no job with a status_url", received=job,
            documented="{job_id, status, status_url, operation: trigger, …}", source=fact("mem0ai Python SDK"))

    def settled() -> None:
        state = (client.get_profile_job(job["status_url"]) or {}).get("job") or {}
        require(state.get("status") == "succeeded", f"get_profile_job({job['status_url']!r}) says {state.get('status')!r}",
                received=state, documented="succeeded once the job settled", source=fact("mem0ai Python SDK"))

    eventually(settled, within=ctx.wait, what="the profile job settles")
    profile = client.get_profile(user)
    require(isinstance(profile, dict) and profile.get("status") == "succeeded" and profile.get("entity_id") == user,
            f"get_profile({user!r}) after its job settled answers {profile}", received=profile,
            documented="status succeeded, entity_id the user", source=fact("mem0ai Python SDK"))
    sample = client.sample_profiles(limit=1)
    picked = sample.get("entity_ids") if isinstance(sample, dict) else None
    require(isinstance(picked, list) and len(picked) <= 1 and sample.get("job_id"),
            f"sample_profiles(limit=1) picks {picked!r}", received=sample,
            documented="a job of at most one user: {job_id, sampled, entity_ids}", source=fact("mem0ai Python SDK"))
