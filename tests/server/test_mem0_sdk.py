"""The real mem0ai SDK (2.2.x) works against the reference server over HTTP on loopback."""

from __future__ import annotations

import asyncio

import pytest
from mem0 import AsyncMemoryClient, MemoryClient

from tests.server.conftest import SETTINGS


@pytest.fixture
def client(served, server) -> MemoryClient:
    return MemoryClient(api_key=SETTINGS.mem0_key, host=served.url)


def test_construction_pings_and_learns_org_and_project(client):
    """MemoryClient's construction pings /v1/ping/ and takes org_id and project_id from it."""
    assert (client.org_id, client.project_id) == (SETTINGS.org_id, SETTINGS.project_id)
    assert client.user_email == SETTINGS.user_email


def test_a_wrong_key_fails_construction(served, server):
    """With a key the server does not accept, construction fails with the server's 401 detail."""
    with pytest.raises(ValueError, match="Invalid API key"):
        MemoryClient(api_key="wrong", host=served.url)


def test_sync_client_lifecycle(client):
    """add, get, get_all, search, update, history, batch_update, batch_delete and delete all work."""
    added = client.add("I love hiking in the Alps", user_id="alice", infer=False, async_mode=False)
    (first,) = added["results"]
    memory_id = first["id"]
    second = client.add("I drink green tea", user_id="alice", infer=False, async_mode=False)["results"][0]["id"]

    assert client.get(memory_id)["memory"] == "I love hiking in the Alps"
    listed = client.get_all(filters={"user_id": "alice"})
    assert {m["id"] for m in listed["results"]} == {memory_id, second}
    found = client.search("hiking", filters={"user_id": "alice"})
    assert found["results"][0]["id"] == memory_id

    client.update(memory_id, text="I love climbing", metadata={"sport": "climbing"})
    assert client.get(memory_id)["memory"] == "I love climbing"
    assert [h["event"] for h in client.history(memory_id)] == ["ADD", "UPDATE"]

    client.batch_update([{"memory_id": memory_id, "text": "I love bouldering"}])
    assert client.get(memory_id)["memory"] == "I love bouldering"

    client.batch_delete([{"memory_id": second}])
    client.delete(memory_id)
    assert client.get_all(filters={"user_id": "alice"})["results"] == []


def test_default_add_is_queued_then_visible(client):
    """An add with the platform default (async) is queued; once its event settles the memory is listed."""
    queued = client.add("My cat is called Miso", user_id="bob", infer=False)
    assert queued.get("status") == "PENDING" or queued["results"][0].get("status") == "PENDING"
    listed = client.get_all(filters={"user_id": "bob"})["results"]
    assert [m["memory"] for m in listed] == ["My cat is called Miso"]


def test_async_client_lifecycle(served, server):
    """AsyncMemoryClient (which pings with requests) constructs and runs the same calls."""

    async def scenario() -> list[str]:
        client = AsyncMemoryClient(api_key=SETTINGS.mem0_key, host=served.url)
        added = await client.add("I prefer window seats", user_id="carol", infer=False, async_mode=False)
        memory_id = added["results"][0]["id"]
        assert (await client.get(memory_id))["memory"] == "I prefer window seats"
        assert (await client.search("window", filters={"user_id": "carol"}))["results"][0]["id"] == memory_id
        await client.update(memory_id, text="I prefer aisle seats")
        await client.batch_update([{"memory_id": memory_id, "metadata": {"travel": True}}])
        events = [h["event"] for h in await client.history(memory_id)]
        await client.batch_delete([{"memory_id": memory_id}])
        assert (await client.get_all(filters={"user_id": "carol"}))["results"] == []
        return events

    assert asyncio.run(scenario()) == ["ADD", "UPDATE", "UPDATE"]
