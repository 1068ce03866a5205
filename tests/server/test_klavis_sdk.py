"""The real klavis SDK (2.20.0) works against the reference server's Klavis API over loopback.

The SDK builds paths as ``sandbox/{server_name}/...`` with server_name ``mem0`` for the
lifecycle calls and ``sandbox/mem0/...`` for initialize and dump: exactly the literal routes
of the effective document. Constructing ``Klavis`` makes no network call.
"""

from __future__ import annotations

import json
import os

import httpx
import pytest

os.environ.setdefault("MEM0_TELEMETRY", "False")

from klavis import Klavis  # noqa: E402
from klavis.core.api_error import ApiError  # noqa: E402
from klavis.types import (  # noqa: E402
    Mem0DataInput,
    Mem0Memory,
    Mem0Message,
    SandboxMcpServer,
    SandboxStatus,
)

from tests.server.conftest import SETTINGS  # noqa: E402


@pytest.fixture
def sent(served, server) -> list[tuple[str, str, object]]:
    """The (method, path, JSON body) of every request the SDK sends."""
    return []


@pytest.fixture
def client(served, server, sent) -> Klavis:
    def record(request: httpx.Request) -> None:
        body = json.loads(request.content) if request.content else None
        sent.append((request.method, request.url.path, body))

    http = httpx.Client(timeout=10, event_hooks={"request": [record]})
    return Klavis(api_key=SETTINGS.klavis_key, base_url=served.url, httpx_client=http)


def test_sdk_lifecycle_initialize_dump_reset_release(client, sent):
    """create, get, initialize (None booleans), dump, reset and delete all parse; the paths are the literal routes."""
    created = client.sandbox.create_sandbox(server_name=SandboxMcpServer.MEM0, test_account_email="qa@example.com")
    assert created.status == SandboxStatus.OCCUPIED and created.server_name == SandboxMcpServer.MEM0
    sandbox_id = created.sandbox_id
    assert client.sandbox.get_sandbox(server_name="mem0", sandbox_id=sandbox_id).status == SandboxStatus.OCCUPIED

    request = Mem0DataInput(memory_list=[Mem0Memory(
        message_list=[Mem0Message(role="user", content="I prefer tea")], user_id="alice", metadata={"k": "v"},
        auto_infer=None, read_only=True, background_processing=False)])
    answer = client.sandbox.initialize_mem0sandbox(sandbox_id, init_default_data=False, request=request)
    assert answer.status == SandboxStatus.OCCUPIED and answer.records_created == {"memories": 1}

    (memory,) = client.sandbox.dump_mem0sandbox(sandbox_id).data.memory_list
    assert (memory.content_text, memory.user_id, memory.metadata) == ("I prefer tea", "alice", {"k": "v"})
    assert (memory.read_only, memory.auto_infer, memory.background_processing) == (True, True, False)

    assert client.sandbox.reset_sandbox(server_name="mem0", sandbox_id=sandbox_id).status == SandboxStatus.OCCUPIED
    assert client.sandbox.dump_mem0sandbox(sandbox_id).data.memory_list == []
    assert client.sandbox.delete_sandbox(server_name="mem0", sandbox_id=sandbox_id).status == SandboxStatus.IDLE
    assert client.sandbox.get_sandbox(server_name="mem0", sandbox_id=sandbox_id).status == SandboxStatus.IDLE

    paths = [(method, path) for method, path, _ in sent]
    assert paths == [
        ("POST", "/sandbox/mem0"), ("GET", f"/sandbox/mem0/{sandbox_id}"),
        ("POST", f"/sandbox/mem0/{sandbox_id}/initialize"), ("GET", f"/sandbox/mem0/{sandbox_id}/dump"),
        ("POST", f"/sandbox/mem0/{sandbox_id}/reset"), ("GET", f"/sandbox/mem0/{sandbox_id}/dump"),
        ("DELETE", f"/sandbox/mem0/{sandbox_id}"), ("GET", f"/sandbox/mem0/{sandbox_id}"),
    ]
    initialize_body = sent[2][2]
    assert initialize_body["memory_list"][0]["auto_infer"] is None  # the SDK sends null for None


def test_sdk_default_data_without_body(client, sent):
    """initialize_mem0sandbox(init_default_data=True) with no request loads the default data set."""
    sandbox_id = client.sandbox.create_sandbox(server_name=SandboxMcpServer.MEM0).sandbox_id
    client.sandbox.initialize_mem0sandbox(sandbox_id, init_default_data=True)
    assert len(client.sandbox.dump_mem0sandbox(sandbox_id).data.memory_list) == 5


def test_sdk_surfaces_404_for_an_unknown_sandbox(client):
    """An unknown sandbox id reaches the SDK as ApiError 404 with the server's detail."""
    with pytest.raises(ApiError) as raised:
        client.sandbox.dump_mem0sandbox("no-such-sandbox")
    assert raised.value.status_code == 404 and raised.value.body["detail"]
