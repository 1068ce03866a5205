"""Fixtures of the conformance suite: the target, its API clients, run-prefixed ids, cleanup.

With no target configured, ``target`` starts the embedded reference server for this process
(one per xdist worker) on 127.0.0.1 and a free port, with the planted faults of
``--fault`` and the mutant of ``run --mutant``, and stops it at the end of the session.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from conformance import plugin
from conformance.cleanup import Cleanup, Ids
from conformance.client import ApiClient, RateLimiter, Recorder
from conformance.profiles import hypothesis_printer
from conformance.suite.learned import Learned
from conformance.suite.support import (
    answer_of,
    expect,
    track_background_initialize,
    track_entity,
    track_sandbox,
    track_undeletable,
)
from conformance.targets import Target
from conformance.verdicts import operation_source, require

# A background add stays PENDING this long on the embedded server, so that the suite's
# eventual-consistency waits are exercised rather than settled by the next request.
EMBEDDED_PROCESSING_DELAY = 0.05


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Iterator[Target]:
    configured = pytestconfig.stash[plugin.SETTINGS].target
    if not configured.embedded:
        yield configured
        return
    from conformance.server import ServerSettings, ServerThread, create_app
    from conformance.targets import embedded

    settings = ServerSettings(faults=pytestconfig.stash[plugin.SETTINGS].faults, mutant=pytestconfig.stash.get(plugin.MUTANT, None),
                              processing_delay=EMBEDDED_PROCESSING_DELAY)
    app, log = create_app(settings), os.environ.get(REQUEST_LOG)
    pytestconfig.stash[plugin.EMBEDDED] = app.state.server
    times: list[float] = []
    with ServerThread(_timed(app, times) if log else app) as server:
        yield replace(embedded(server.url), deviations=configured.deviations)
    if log:  # the benchmark's count of requests until the first failure (bench/faults.py)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path(log).mkdir(parents=True, exist_ok=True)
        (Path(log) / f"requests-{worker}.json").write_text(json.dumps(times), encoding="utf-8")


REQUEST_LOG = "MEM0_CONFORMANCE_REQUEST_LOG"  # a folder: the embedded server writes when each request came


def _timed(app, times: list[float]):
    """``app``, noting the wall-clock time of each HTTP request it receives into ``times``."""
    import time

    async def timed(scope, receive, send):
        if scope["type"] == "http":
            times.append(time.time())
        await app(scope, receive, send)

    return timed


@pytest.fixture(scope="session")
def recorder(pytestconfig: pytest.Config) -> Recorder:
    """The exchanges of the current test; a failing test's report shows them."""
    return pytestconfig.stash[plugin.RECORDER]


@pytest.fixture(autouse=True)
def _exchanges_of_this_test(recorder: Recorder) -> None:
    recorder.clear()


@pytest.fixture(autouse=True)
def _hypothesis_prints_its_examples(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failure of the suite's own Hypothesis tests shows its minimal example with values
    (schemathesis's tests keep schemathesis's printer, which prints nothing: see ``hypothesis_printer``)."""
    if request.node.path.name == "test_schema.py":
        yield
        return
    with hypothesis_printer():
        yield


@pytest.fixture(scope="session")
def run_prefix(pytestconfig: pytest.Config) -> str:
    """``mct-<run id>-<worker>``: every id this run creates starts with it."""
    return plugin.prefix(pytestconfig)


@pytest.fixture(scope="session")
def ids(run_prefix: str) -> Ids:
    return Ids(run_prefix)


@pytest.fixture(scope="session")
def _connections(target: Target, recorder: Recorder, pytestconfig: pytest.Config) -> Iterator[dict]:
    """The API clients and the cleanup registry, torn down together: cleanup first, then close."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))  # set by xdist in each worker
    clients = {api.api: ApiClient(api, recorder, RateLimiter(api.rate_limit, share=workers))
               for api in (target.mem0, target.klavis) if api is not None}
    registry, learned = Cleanup(), Learned()
    if "mem0" in clients:
        def undeletable(response: httpx.Response) -> None:
            if response.is_success and response.request.method == "POST":
                response.read()
                track_undeletable(registry, "POST", response.request.url.path, answer_of(response))

        clients["mem0"].http.event_hooks["response"].append(undeletable)

    def learn(response: httpx.Response) -> None:  # ids for the success paths of schemathesis's tests
        if response.is_success and response.request.method != "DELETE":
            response.read()
            try:
                sent = json.loads(response.request.content) if response.request.content else None
            except ValueError:
                sent = None
            learned.learn(answer_of(response), sent)

    for client in clients.values():
        client.http.event_hooks["response"].append(learn)
    if "klavis" in clients and target.shared_data:
        def background(response: httpx.Response) -> None:
            if response.is_success and response.request.method == "POST":
                request = response.request
                try:
                    sent = json.loads(request.content) if request.content else None
                except ValueError:
                    sent = None
                track_background_initialize(registry, request.url.path, sent,
                                            default_data=request.url.params.get("init_default_data") == "true")

        clients["klavis"].http.event_hooks["response"].append(background)
    yield {"clients": clients, "cleanup": registry, "learned": learned}
    pytestconfig.stash[plugin.LEAKS].extend(registry.drain())
    for client in clients.values():
        client.close()


@pytest.fixture(scope="session")
def learned(_connections: dict) -> Learned:
    """Ids of resources the run's answers showed (see ``conformance.suite.learned``)."""
    return _connections["learned"]


@pytest.fixture(scope="session")
def cleanup(_connections: dict) -> Cleanup:
    """What the run created; deleted at the end of the session (also after failures), leaks reported."""
    return _connections["cleanup"]


@pytest.fixture(scope="session")
def mem0(_connections: dict) -> ApiClient:
    """The Mem0 API of the target (skips the test when the target has none)."""
    if "mem0" not in _connections["clients"]:
        pytest.skip(plugin.NEEDS["mem0"])
    return _connections["clients"]["mem0"]


@pytest.fixture(scope="session")
def klavis(_connections: dict) -> ApiClient:
    """The Klavis API of the target (skips the test when the target has none)."""
    if "klavis" not in _connections["clients"]:
        pytest.skip(plugin.NEEDS["klavis"])
    return _connections["clients"]["klavis"]


@pytest.fixture(scope="session")
def new_user(mem0: ApiClient, ids: Ids, cleanup: Cleanup) -> Callable[[], str]:
    """A fresh run-prefixed user id; the user and its memories are deleted at the end of the run."""

    def make(kind: str = "user") -> str:
        name = ids.new(kind)
        track_entity(cleanup, mem0, kind, name)
        return name

    return make


@pytest.fixture(scope="session")
def new_sandbox(klavis: ApiClient, run_prefix: str, cleanup: Cleanup) -> Callable[[], str]:
    """Acquire a Klavis mem0 sandbox tagged with the run prefix; released at the end of the run."""

    def make() -> str:
        answer = expect(klavis.post("/sandbox/mem0", json={"tag": run_prefix}), 201, what="acquiring a mem0 sandbox")
        sandbox_id = answer.get("sandbox_id") if isinstance(answer, dict) else None
        require(isinstance(sandbox_id, str) and sandbox_id, "acquiring a mem0 sandbox names no sandbox_id",
                received=answer, documented="201 {sandbox_id, server_name, status, message}",
                source=operation_source("POST /sandbox/mem0"))
        track_sandbox(cleanup, klavis, sandbox_id)
        return sandbox_id

    return make


# The target's basics first (a broken ping or key explains everything after it), schema
# conformance of every operation last (the longest part), the invariants in between, the
# quickest modules first (by the durations kept with the suite, durations.json): a fault most
# invariants catch shows sooner, and a run that stops at its first failure (-x) stops sooner.
_FIRST = ("test_smoke.py", "test_auth.py", "test_capabilities.py")
_LAST = ("test_schema.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    from conformance.suite_runner import DURATIONS

    try:
        durations = json.loads(DURATIONS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        durations = {}
    module_time: dict[str, float] = {}
    for test, seconds in durations.items():
        module = test.partition("::")[0]
        module_time[module] = module_time.get(module, 0.0) + seconds

    def rank(item: pytest.Item) -> tuple[int, float]:
        name = item.path.name
        group = _FIRST.index(name) if name in _FIRST else len(_FIRST) + 1 if name in _LAST else len(_FIRST)
        return group, module_time.get(name, 0.0) if group == len(_FIRST) else 0.0

    items.sort(key=rank)  # stable: the order within each module is kept, and modules stay whole


@pytest.fixture(scope="module")
def population(mem0: ApiClient, ids: Ids, cleanup: Cleanup):
    """One population of memories per test module that reads or changes it (:mod:`machines.population`)."""
    from conformance.suite.machines.population import populate

    return populate(mem0, ids, cleanup)
