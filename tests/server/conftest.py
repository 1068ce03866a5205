"""One reference server per test session, on 127.0.0.1 and a free port, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conformance.server import ServerSettings, ServerThread, create_app
from conformance.server.app import ReferenceServer

SETTINGS = ServerSettings()
MEM0_AUTH = {"Authorization": f"Token {SETTINGS.mem0_key}"}
KLAVIS_AUTH = {"Authorization": f"Bearer {SETTINGS.klavis_key}"}


@pytest.fixture(scope="session")
def served() -> Iterator[ServerThread]:
    with ServerThread(create_app(SETTINGS)) as thread:
        yield thread


@pytest.fixture
def server(served: ServerThread) -> Iterator[ReferenceServer]:
    """The running server's state: emptied, no faults, no mutant, no processing delay, before each test."""
    state: ReferenceServer = served.app.state.server
    state.store.reset()
    state.store.processing_delay = 0.0
    state.set_faults(set())
    state.set_mutant(None)
    yield state
    state.set_faults(set())
    state.set_mutant(None)
    state.store.processing_delay = 0.0


@pytest.fixture
def mem0(served: ServerThread, server: ReferenceServer) -> Iterator[httpx.Client]:
    """An httpx client for the Mem0 API of the running server, with the right key."""
    with httpx.Client(base_url=served.url, headers=MEM0_AUTH, timeout=10) as client:
        yield client


@pytest.fixture
def klavis(served: ServerThread, server: ReferenceServer) -> Iterator[httpx.Client]:
    """An httpx client for the Klavis API of the running server, with the right key."""
    with httpx.Client(base_url=served.url, headers=KLAVIS_AUTH, timeout=10) as client:
        yield client
