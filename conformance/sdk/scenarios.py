"""What each SDK call is expected to do against a conforming target: one :class:`Scenario` each.

A scenario drives the real SDK through a :class:`Context` (the SDK's clients, built on recorded
httpx clients, and run-prefixed ids registered for cleanup) and states its expectation and its
source. Several guard against regressions users met when upgrading mem0ai: an add whose entity
id is not stored (get_all with that filter comes back empty), search answering another shape,
memories still found after delete_all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.sdk.calls import CallLog
from conformance.sdk.versions import LIST, PAGE, REFUSED, RESULTS, SENT, Release
from conformance.suite.support import eventually
from conformance.verdicts import fact, require


@dataclass
class Context:
    """What a scenario may use.

    ``mem0`` (a MemoryClient) and ``klavis`` (a Klavis) are made on first use; ``make_mem0(**extra)``,
    ``async_mem0()`` and ``async_klavis()`` make more, on recorded httpx clients. Every client is
    watched: each public call is one record in ``log``. ``releases`` holds what the installed
    version of each SDK does differently (``conformance/sdk/versions.py``). ``new_user()`` is a
    run-prefixed user (deleted at the end), ``track_sandbox(id)`` releases a sandbox at the end,
    and ``memory(user, text)`` adds one memory through the SDK and answers its id."""

    log: CallLog
    releases: dict[str, Release]
    new_user: Callable[[], str]
    track_sandbox: Callable[[str], None]
    track_webhook: Callable[[str], None] = lambda webhook_id: None
    wait: float = 10.0  # the target's consistency wait: how long queued work may take to show
    prefix: str = "mct"  # the run prefix, for names the run gives (webhooks)
    make_mem0: Callable[..., Any] = lambda **extra: None  # a new MemoryClient (extra constructor arguments)
    async_mem0: Callable[[], Any] = lambda: None  # a new AsyncMemoryClient
    async_klavis: Callable[[], Any] = lambda: None  # a new AsyncKlavis
    mem0: Any = None
    klavis: Any = None
    npm: dict[str, Any] = field(default_factory=dict)  # "npm:mem0ai" -> its NpmClients (conformance/sdk/npm.py)

    def memory(self, user: str, text: str) -> str:
        added = self.mem0.add(text, user_id=user, infer=False, async_mode=False)
        results = added.get("results") if isinstance(added, dict) else added
        require(isinstance(results, list) and len(results) == 1 and results[0].get("id"),
                "MemoryClient.add(infer=False, async_mode=False) returns no single result with an id",
                received=added, documented='{"results": [{"id", "memory", "event": "ADD"}]}', source=fact("Add"))
        return results[0]["id"]


@dataclass(frozen=True, repr=False)
class Scenario:
    sdk: str  # "mem0ai" | "klavis"
    call: str  # the SDK call, as a user writes it
    expectation: str
    source: str  # a FACTS.md entry
    run: Callable[[Context], None]
    needs: tuple[str, ...] = ()  # what the target must offer beyond the SDK's API (a capability, "destructive")

    @property
    def id(self) -> str:
        return f"{self.sdk}: {self.call}"

    def __repr__(self) -> str:  # how the report shows the test's parameter
        return self.id


def _ids(found: Any) -> list[str]:
    items = found.get("results") if isinstance(found, dict) else found
    return [item.get("id") for item in items or [] if isinstance(item, dict)]


def _construct(ctx: Context) -> None:
    client = ctx.mem0
    require(client.org_id and client.project_id, "MemoryClient() learned no org_id or project_id from GET /v1/ping/",
            received={"org_id": client.org_id, "project_id": client.project_id},
            documented="org_id and project_id of the key", source=fact("GET /v1/ping/"))


def shape(answer: Any) -> str:
    """``results``, ``page`` or ``list`` (see :mod:`conformance.sdk.versions`), or the answer's type."""
    if isinstance(answer, list):
        return LIST
    if isinstance(answer, dict) and isinstance(answer.get("results"), list):
        return PAGE if {"count", "next", "previous"} <= answer.keys() else RESULTS
    return type(answer).__name__


def _same_shape(ctx: Context, call: str, answer: Any) -> None:
    release = ctx.releases["mem0ai"]
    require(shape(answer) == release.shapes[call],
            f"{call}() returns {shape(answer)}, where {release.label} returns {release.shapes[call]}",
            received=answer, documented=f"{release.shapes[call]} (conformance/sdk/versions.py)",
            source=fact("List/search filters (v2/v3)"))


def _add_then_get_all(ctx: Context) -> None:
    user = ctx.new_user()
    memory_id = ctx.memory(user, "I keep bees on the roof")
    answer = ctx.mem0.get_all(filters={"user_id": user})
    _same_shape(ctx, "get_all", answer)
    listed = _ids(answer)
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
    ids = [_ids(page) for page in pages]
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
    require(_ids(listed) == [memory_id] and memory_id in _ids(found),
            f"get_all and search with the user's id ({release.documented_ids}) do not show the memory",
            received={"get_all": _ids(listed), "search": _ids(found)}, documented=[memory_id],
            source=fact("List/search filters (v2/v3)"))


def _top_level_ids(ctx: Context) -> None:
    """``get_all(user_id=u)``: versions that send top-level ids need a target that honours them;
    versions that refuse them must do so themselves, before sending anything (v3 answers 400)."""
    release = ctx.releases["mem0ai"]
    user = ctx.new_user()
    memory_id = ctx.memory(user, "Sails on weekends")
    if release.top_level_ids == SENT:
        listed = _ids(ctx.mem0.get_all(user_id=user))
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
    _same_shape(ctx, "search", found)
    require(memory_id in _ids(found),
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
    listed = _ids(ctx.mem0.get_all(filters={"user_id": user}))
    require(listed == [], f"get_all after delete({memory_id!r}) still lists {listed}", received=listed,
            documented=[], source=fact("Add"))


def _delete_all(ctx: Context) -> None:
    user = ctx.new_user()
    ctx.memory(user, "Plays the cello")
    ctx.mem0.delete_all(user_id=user)
    found = _ids(ctx.mem0.search("cello", filters={"user_id": user}))
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


def _export(ctx: Context) -> None:
    user = ctx.new_user()
    ctx.memory(user, "Collects stamps")
    schema = {"type": "object", "properties": {"memory": {"type": "string"}}}
    created = ctx.mem0.create_memory_export(schema=json.dumps(schema), filters={"user_id": user})
    require(isinstance(created, dict) and created.get("id"), "create_memory_export() answers no export id",
            received=created, documented='{"message", "id"}', source=fact("Add"))

    def exported() -> None:
        found = ctx.mem0.get_memory_export(memory_export_id=created["id"])
        require("Collects stamps" in json.dumps(found, ensure_ascii=False),
                "get_memory_export() does not hold the user's memory", received=found,
                documented="the export of the user's memories", source=fact("Add"))

    eventually(exported, within=ctx.wait, what="the export holds the memory")


EXPORT_SCHEMA = {"type": "object", "properties": {"memory": {"type": "string"}}}


def _export_as_documented(ctx: Context) -> None:
    """The export with its schema as the document types it (an object; the SDK annotates a str but sends what
    it is given), so that get_memory_export is reached whatever the string form meets."""
    user = ctx.new_user()
    ctx.memory(user, "Collects stamps")
    created = ctx.mem0.create_memory_export(schema=EXPORT_SCHEMA, filters={"user_id": user})
    require(isinstance(created, dict) and created.get("id"), "create_memory_export(schema={...}) answers no export id",
            received=created, documented='{"message", "id"}', source=fact("Exports"))

    def exported() -> None:
        found = ctx.mem0.get_memory_export(memory_export_id=created["id"])
        require("Collects stamps" in json.dumps(found, ensure_ascii=False),
                "get_memory_export() does not hold the user's memory", received=found,
                documented="the export of the user's memories", source=fact("Exports"))

    eventually(exported, within=ctx.wait, what="the export holds the memory")


def _project_update(ctx: Context) -> None:
    """update_project writes the key's project; get_project reads it back (a settings change: destructive)."""
    ctx.mem0.update_project(custom_instructions="Keep memories short.")
    project = ctx.mem0.get_project(fields=["custom_instructions"])
    require(isinstance(project, dict) and project.get("custom_instructions") == "Keep memories short.",
            "get_project(fields=['custom_instructions']) after update_project does not read it back",
            received=project, documented={"custom_instructions": "Keep memories short."}, source=fact("mem0ai Python SDK"))


def _async_settings(ctx: Context) -> None:
    """The asynchronous twins of the profile, project-update and export calls, checked as the synchronous ones are."""
    import asyncio

    if not hasattr(ctx.mem0, "get_profile"):
        import pytest

        pytest.skip(f"{ctx.releases['mem0ai'].label} has no memory profile methods")
    user = ctx.new_user()
    ctx.memory(user, "Drinks green tea every morning")

    async def scenario() -> dict[str, Any]:
        client = ctx.async_mem0()
        written = await client.update_profile_settings(enabled=True, schema=PROFILE_SCHEMA,
                                                       custom_instructions="Keep it short.")
        read = await client.get_profile_settings()
        seen: dict[str, Any] = {"settings": [((s.get("entities") or {}).get("user") or {}).get("custom_instructions")
                                             for s in (written, read)]}
        job = await client.generate_profile(user)
        state, deadline = {}, asyncio.get_running_loop().time() + ctx.wait
        while state.get("status") != "succeeded" and asyncio.get_running_loop().time() < deadline:
            state = ((await client.get_profile_job(job["status_url"])) or {}).get("job") or {}
            await asyncio.sleep(0.1 if state.get("status") != "succeeded" else 0)
        seen["job"] = state.get("status")
        profile = await client.get_profile(user)
        seen["profile"] = (profile.get("status"), profile.get("entity_id") == user)
        sample = await client.sample_profiles(limit=1)
        seen["sample"] = len(sample.get("entity_ids") or []) <= 1 and bool(sample.get("job_id"))
        await client.update_project(custom_instructions="Keep memories short.")
        seen["project"] = (await client.get_project(fields=["custom_instructions"])).get("custom_instructions")
        created = await client.create_memory_export(schema=EXPORT_SCHEMA, filters={"user_id": user})
        found, deadline = {}, asyncio.get_running_loop().time() + ctx.wait
        while "green tea" not in json.dumps(found) and asyncio.get_running_loop().time() < deadline:
            found = await client.get_memory_export(memory_export_id=created["id"])
        seen["export"] = "green tea" in json.dumps(found)
        await client.async_client.aclose()
        return seen

    seen = asyncio.run(scenario())
    wanted = {"settings": ["Keep it short.", "Keep it short."], "job": "succeeded", "profile": ("succeeded", True),
              "sample": True, "project": "Keep memories short.", "export": True}
    require(seen == wanted, f"AsyncMemoryClient's profile, project and export calls answer {seen}", received=seen,
            documented=wanted, source=fact("mem0ai Python SDK"))


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
    listed = _ids(ctx.mem0.get_all(filters={"user_id": user}))
    require(listed == [], f"get_all after delete_users(user_id={user!r}) still lists {listed}", received=listed,
            documented=[], source=fact("Delete-all"))


def _async_client(ctx: Context) -> None:
    import asyncio

    async def scenario() -> tuple[Any, list[str], list[str]]:
        client = ctx.async_mem0()  # construction pings through requests
        user = ctx.new_user()
        added = await client.add("Reads poetry at night", user_id=user, infer=False, async_mode=False)
        memory_id = (added.get("results") or [{}])[0].get("id")
        listed = _ids(await client.get_all(filters={"user_id": user}))
        found = _ids(await client.search("poetry", filters={"user_id": user}))
        await client.delete(memory_id)
        await client.async_client.aclose()
        return client, listed, found + [memory_id]

    client, listed, found = asyncio.run(scenario())
    require(client.org_id and client.project_id, "AsyncMemoryClient() learned no org_id or project_id from its ping",
            received={"org_id": client.org_id, "project_id": client.project_id},
            documented="org_id and project_id of the key", source=fact("GET /v1/ping/"))
    memory_id = found[-1]
    require(listed == [memory_id] and memory_id in found[:-1],
            "AsyncMemoryClient get_all/search after an add do not show the memory",
            received={"get_all": listed, "search": found[:-1]}, documented=[memory_id],
            source=fact("List/search filters (v2/v3)"))


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


def _async_calls(ctx: Context) -> None:
    """The asynchronous client's calls beyond those of _async_client, each checked as its synchronous twin is."""
    import asyncio

    user, gone = ctx.new_user(), ctx.new_user()

    async def scenario() -> dict[str, Any]:
        client = ctx.async_mem0()
        added = [(await client.add(text, user_id=user, infer=False, async_mode=False))["results"][0]["id"]
                 for text in ("Owns a kayak", "Owns a canoe", "Drinks coffee")]
        await client.add("Plays the cello", user_id=gone, infer=False, async_mode=False)
        seen: dict[str, Any] = {"get": (await client.get(added[2])).get("memory")}
        await client.update(added[2], text="Drinks tea")
        seen["history"] = [entry.get("event") for entry in await client.history(added[2])]
        await client.batch_update([{"memory_id": added[0], "text": "Owns two kayaks"}])
        await client.batch_delete([{"memory_id": added[1]}])
        seen["after batch"] = sorted(m.get("memory") for m in (await client.get_all(filters={"user_id": user}))["results"])
        seen["feedback"] = (await client.feedback(added[0], feedback="POSITIVE", feedback_reason="accurate")).get("feedback")
        seen["summary"] = isinstance(await client.get_summary(filters={"user_id": user}), dict)
        entities = await client.users()
        seen["users"] = isinstance(entities, dict) and isinstance(entities.get("results"), list)
        seen["project"] = (await client.get_project()).get("project_id") == client.project_id
        hook = await client.create_webhook(url="https://example.invalid/hook", name=f"{ctx.prefix}-async-hook",
                                           project_id=client.project_id, event_types=["memory_add"])
        ctx.track_webhook(str(hook["webhook_id"]))
        await client.update_webhook(hook["webhook_id"], name=f"{ctx.prefix}-async-hook-renamed")
        seen["webhooks"] = f"{ctx.prefix}-async-hook-renamed" in [
            h.get("name") for h in await client.get_webhooks(project_id=client.project_id)]
        await client.delete_webhook(hook["webhook_id"])
        await client.delete_all(user_id=gone)
        seen["after delete_all"] = _ids(await client.get_all(filters={"user_id": gone}))
        await client.delete_users(user_id=user)
        seen["after delete_users"] = _ids(await client.get_all(filters={"user_id": user}))
        await client.async_client.aclose()
        return seen

    seen = asyncio.run(scenario())
    wanted = {"get": "Drinks coffee", "history": ["ADD", "UPDATE"], "after batch": ["Drinks tea", "Owns two kayaks"],
              "feedback": "POSITIVE", "summary": True, "users": True, "project": True, "webhooks": True,
              "after delete_all": [], "after delete_users": []}
    require(seen == wanted, f"AsyncMemoryClient's calls answer {seen}", received=seen, documented=wanted,
            source=fact("mem0ai Python SDK"))


KLAVIS = "Klavis mem0 sandbox API (`Authorization: Bearer <key>`)"


def _item(ctx: Context, user: str, text: str) -> Any:
    """One Klavis memory item, stored as written, with the field names of the installed klavis version."""
    from klavis.types import Mem0Memory, Mem0Message

    names = ctx.releases["klavis"].names
    return Mem0Memory(**{names["messages"]: [Mem0Message(role="user", content=text)], "user_id": user,
                         names["infer"]: False, names["background"]: False})


def _initializing(ctx: Context, items: list[Any]) -> dict[str, Any]:
    """The keyword arguments of ``initialize_mem0sandbox`` that carry ``items`` in the installed version."""
    names = ctx.releases["klavis"].names
    if names["initialize"] == "request":
        from klavis.types import Mem0DataInput

        return {names["default_data"]: False, "request": Mem0DataInput(**{names["items"]: items})}
    return {names["initialize"]: items}


def _texts(ctx: Context, dumped: Any) -> list[str]:
    names = ctx.releases["klavis"].names
    return [getattr(memory, names["text"]) for memory in getattr(dumped.data, names["items"]) or []]


def _sandbox_lifecycle(ctx: Context) -> None:
    from klavis.types import SandboxMcpServer

    sandbox_id = ctx.klavis.sandbox.create_sandbox(server_name=SandboxMcpServer.MEM0).sandbox_id
    ctx.track_sandbox(sandbox_id)
    got = ctx.klavis.sandbox.get_sandbox(server_name="mem0", sandbox_id=sandbox_id)
    require(got.sandbox_id == sandbox_id and str(getattr(got.status, "value", got.status)) == "occupied",
            f"get_sandbox({sandbox_id!r}) after create_sandbox answers {got.sandbox_id} {got.status}", received=got,
            documented=f"{sandbox_id} occupied", source=fact(KLAVIS))
    ctx.klavis.sandbox.initialize_mem0sandbox(sandbox_id, **_initializing(ctx, [
        _item(ctx, ctx.new_user(), "Prefers window seats")]))
    dumped = _texts(ctx, ctx.klavis.sandbox.dump_mem0sandbox(sandbox_id))
    require(dumped == ["Prefers window seats"], f"dump_mem0sandbox({sandbox_id!r}) after initialize holds {dumped}",
            received=dumped, documented=["Prefers window seats"], source=fact(KLAVIS))
    ctx.klavis.sandbox.reset_sandbox(server_name="mem0", sandbox_id=sandbox_id)
    after = _texts(ctx, ctx.klavis.sandbox.dump_mem0sandbox(sandbox_id))
    require(after == [], f"dump_mem0sandbox({sandbox_id!r}) after reset_sandbox holds {len(after)} memories",
            received=len(after), documented=0, source=fact(KLAVIS))
    status = ctx.klavis.sandbox.delete_sandbox(server_name="mem0", sandbox_id=sandbox_id).status
    require(str(getattr(status, "value", status)) == "idle", f"delete_sandbox({sandbox_id!r}) answers status {status}",
            received=status, documented="idle", source=fact(KLAVIS))


def _default_data(ctx: Context) -> None:
    from klavis.types import SandboxMcpServer

    release = ctx.releases["klavis"]
    if not release.names["default_data"]:
        import pytest

        pytest.skip(f"{release.label} cannot ask for the default data set (conformance/sdk/versions.py)")
    sandbox_id = ctx.klavis.sandbox.create_sandbox(server_name=SandboxMcpServer.MEM0).sandbox_id
    ctx.track_sandbox(sandbox_id)
    ctx.klavis.sandbox.initialize_mem0sandbox(sandbox_id, **{release.names["default_data"]: True})
    dumped = _texts(ctx, ctx.klavis.sandbox.dump_mem0sandbox(sandbox_id))
    require(len(dumped) > 0, f"dump_mem0sandbox({sandbox_id!r}) after initialize with default data is empty",
            received=len(dumped), documented="the default data set's memories", source=fact(KLAVIS))


def _async_klavis(ctx: Context) -> None:
    import asyncio

    from klavis.types import SandboxMcpServer

    item = _item(ctx, ctx.new_user(), "Takes the night train")

    async def scenario() -> dict[str, Any]:
        client = ctx.async_klavis()
        sandbox_id = (await client.sandbox.create_sandbox(server_name=SandboxMcpServer.MEM0)).sandbox_id
        ctx.track_sandbox(sandbox_id)
        got = (await client.sandbox.get_sandbox(server_name="mem0", sandbox_id=sandbox_id)).status
        await client.sandbox.initialize_mem0sandbox(sandbox_id, **_initializing(ctx, [item]))
        dumped = _texts(ctx, await client.sandbox.dump_mem0sandbox(sandbox_id))
        await client.sandbox.reset_sandbox(server_name="mem0", sandbox_id=sandbox_id)
        after = _texts(ctx, await client.sandbox.dump_mem0sandbox(sandbox_id))
        status = (await client.sandbox.delete_sandbox(server_name="mem0", sandbox_id=sandbox_id)).status
        return {"details": str(getattr(got, "value", got)), "dump": dumped, "after reset": after,
                "release": str(getattr(status, "value", status))}

    seen = asyncio.run(scenario())
    wanted = {"details": "occupied", "dump": ["Takes the night train"], "after reset": [], "release": "idle"}
    require(seen == wanted, f"AsyncKlavis: details, dump, dump after reset and release answer {seen}",
            received=seen, documented=wanted, source=fact(KLAVIS))


SCENARIOS = (
    Scenario("mem0ai", "MemoryClient(api_key, host)", "construction pings and learns the key's org and project",
             "GET /v1/ping/", _construct),
    Scenario("mem0ai", "add(user_id=u) then get_all(filters={'user_id': u})", "the added memory is listed for its user",
             "List/search filters (v2/v3)", _add_then_get_all),
    Scenario("mem0ai", "get_all(filters, page=1|2, page_size=2)", "two pages of 2 and 1 of the user's 3 memories",
             "Pagination", _paging),
    Scenario("mem0ai", "get_all and search with entity ids as the version documents them",
             "the memory is listed and found (no 'filters are required' for a documented call)",
             "List/search filters (v2/v3)", _ids_as_documented),
    Scenario("mem0ai", "get_all(user_id=u), search(q, user_id=u): top-level entity ids",
             "sent and honoured, or refused by the SDK itself with nothing sent, as the version's row says",
             "mem0ai Python SDK", _top_level_ids),
    Scenario("mem0ai", "MemoryClient(org_id=..., project_id=...)",
             "the version's constructor arguments are accepted; the ones it removed raise TypeError",
             "mem0ai Python SDK", _constructor),
    Scenario("mem0ai", "users(), get_project()", "the run's user is listed; the project is the key's",
             "mem0ai Python SDK", _users_and_project),
    Scenario("mem0ai", "get(memory_id)", "returns the memory added", "Add", _get),
    Scenario("mem0ai", "search(query, filters={'user_id': u})", "answers {results: [...]} holding the user's memory",
             "List/search filters (v2/v3)", _search),
    Scenario("mem0ai", "update(memory_id, text) then history(memory_id)", "history holds ADD then UPDATE", "History",
             _update_and_history),
    Scenario("mem0ai", "delete(memory_id)", "the memory is no longer listed", "Add", _delete),
    Scenario("mem0ai", "delete_all(user_id=u) then search", "nothing of the user is found any more", "Delete-all",
             _delete_all),
    Scenario("mem0ai", "add(user_id=u) (queued) then get_all", "the queued add is listed within the consistency wait",
             "Add", _queued_add),
    Scenario("mem0ai", "AsyncMemoryClient: construction, add, get_all, search, delete",
             "the asynchronous client pings (through requests) and does what the synchronous one does",
             "GET /v1/ping/", _async_client),
    Scenario("mem0ai", "batch_update then batch_delete", "one memory changed, the other gone", "Batch", _batch),
    Scenario("mem0ai", "AsyncMemoryClient: get, update, history, batch_update, batch_delete, feedback, get_summary, "
             "users, get_project, webhooks, delete_all, delete_users",
             "each does what its synchronous twin does", "mem0ai Python SDK", _async_calls),
    Scenario("mem0ai", "feedback(memory_id, 'POSITIVE', reason)", "the feedback is accepted and echoed", "Add", _feedback),
    Scenario("mem0ai", "create_memory_export(schema, filters) then get_memory_export", "the export holds the memory",
             "Add", _export),
    Scenario("mem0ai", "create_memory_export(schema={...}, filters) then get_memory_export",
             "with the schema as the document types it, the export holds the memory", "Exports", _export_as_documented),
    Scenario("mem0ai", "update_project(custom_instructions) then get_project(fields)",
             "the project's instructions read back as written", "mem0ai Python SDK", _project_update,
             needs=("destructive",)),
    Scenario("mem0ai", "AsyncMemoryClient: profile settings, generate_profile, get_profile_job, get_profile, "
             "sample_profiles, update_project, create_memory_export, get_memory_export",
             "each does what its synchronous twin does", "mem0ai Python SDK", _async_settings,
             needs=("profiles", "destructive")),
    Scenario("mem0ai", "get_summary(filters={'user_id': u})", "answers a summary object", "Add", _summary),
    Scenario("mem0ai", "create_webhook, update_webhook, get_webhooks, delete_webhook",
             "the renamed webhook is listed, then deleted", "Add", _webhooks),
    Scenario("mem0ai", "delete_users(user_id=u) then get_all", "nothing of the user is listed any more", "Delete-all",
             _delete_users),
    Scenario("mem0ai", "update_profile_settings, get_profile_settings, generate_profile, get_profile_job, get_profile, "
             "sample_profiles", "settings read back as written; the user's profile job settles and the profile says "
             "succeeded; a sample of one", "mem0ai Python SDK", _profiles, needs=("profiles", "destructive")),
    Scenario("klavis", "create_sandbox, get_sandbox, initialize_mem0sandbox, dump, reset_sandbox, delete_sandbox",
             "the dump holds what was initialized, nothing after reset; release answers idle",
             "Klavis mem0 sandbox API", _sandbox_lifecycle),
    Scenario("klavis", "initialize_mem0sandbox(init_default_data=True)", "the dump holds the default data set",
             "Klavis mem0 sandbox API", _default_data),
    Scenario("klavis", "AsyncKlavis: create_sandbox, get_sandbox, initialize_mem0sandbox, dump_mem0sandbox, "
             "reset_sandbox, delete_sandbox", "the asynchronous client does what the synchronous one does",
             "Klavis mem0 sandbox API", _async_klavis),
)
