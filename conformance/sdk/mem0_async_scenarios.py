"""The mem0ai Python SDK's ``AsyncMemoryClient`` scenarios: each asynchronous call held to what its synchronous
twin does (its ping goes through ``requests``, recorded too)."""

from __future__ import annotations

import json
from typing import Any

from conformance.sdk.context import Context, ids_of
from conformance.sdk.mem0_scenarios import EXPORT_SCHEMA, PROFILE_SCHEMA
from conformance.verdicts import fact, require


def _async_client(ctx: Context) -> None:
    import asyncio

    async def scenario() -> tuple[Any, list[str], list[str]]:
        client = ctx.async_mem0()  # construction pings through requests
        user = ctx.new_user()
        added = await client.add("Reads poetry at night", user_id=user, infer=False, async_mode=False)
        memory_id = (added.get("results") or [{}])[0].get("id")
        listed = ids_of(await client.get_all(filters={"user_id": user}))
        found = ids_of(await client.search("poetry", filters={"user_id": user}))
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
        seen["after delete_all"] = ids_of(await client.get_all(filters={"user_id": gone}))
        await client.delete_users(user_id=user)
        seen["after delete_users"] = ids_of(await client.get_all(filters={"user_id": user}))
        await client.async_client.aclose()
        return seen

    seen = asyncio.run(scenario())
    wanted = {"get": "Drinks coffee", "history": ["ADD", "UPDATE"], "after batch": ["Drinks tea", "Owns two kayaks"],
              "feedback": "POSITIVE", "summary": True, "users": True, "project": True, "webhooks": True,
              "after delete_all": [], "after delete_users": []}
    require(seen == wanted, f"AsyncMemoryClient's calls answer {seen}", received=seen, documented=wanted,
            source=fact("mem0ai Python SDK"))


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
