"""The reference server holds when everything hits it at once, through a misbehaving network.

One reference server behind the chaos proxy (latency, and now and then a connection reset or a
503 with Retry-After) takes, at the same time: the conformance suite with two xdist workers
(schemathesis's positive and negative data on every operation and its stateful links, the sandbox
machine, batches of 1000) and the real mem0ai and klavis SDKs from two threads of this process. Afterwards: no answer of
the server was a 5xx, it logged no error (no traceback), and its store is consistent.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from typing import Any

from klavis import Klavis
from mem0 import MemoryClient

from conformance.server import ServerSettings, ServerThread, create_app
from tests.chaos import ChaosProxy
from tests.test_report_runs import KEYS, mem0_conformance

SELECTION = ("test_schema.py", "test_sandbox.py", "test_batch.py")


class Statuses:
    """ASGI middleware: counts the status of every answer the app sends."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[int] = Counter()

    async def __call__(self, scope, receive, send) -> None:
        async def counting(message) -> None:
            if message["type"] == "http.response.start":
                self.counts[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counting)


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def inconsistencies(store) -> list[str]:
    """What contradicts the store's own bookkeeping: a live memory whose history does not begin with
    its ADD and end with its current text, a memory gone without a DELETE, a queued add that FAILED."""
    found = []
    with store.lock:
        store.settle()
        for memory_id, memory in store.memories.items():
            events = store.history.get(memory_id) or []
            if not events or events[0]["event"] != "ADD" or events[-1]["event"] == "DELETE":
                found.append(f"memory {memory_id}: history {[e['event'] for e in events]}")
            elif events[-1]["new_memory"] != memory.memory:
                found.append(f"memory {memory_id}: text {memory.memory!r}, history says {events[-1]['new_memory']!r}")
        for memory_id, events in store.history.items():
            if memory_id not in store.memories and events[-1]["event"] != "DELETE":
                found.append(f"memory {memory_id} is gone, its history ends with {events[-1]['event']}")
        found += [f"event {event_id} FAILED" for event_id, event in store.events.items() if event.status == "FAILED"]
    return found


def sdk_traffic(url: str, stop: threading.Event, outcomes: Counter[str]) -> None:
    """The SDKs' calls, over and over until ``stop``: a call the network broke is counted, not raised."""
    user = f"sdk-{uuid.uuid4().hex[:8]}"
    mem0 = klavis = None
    while not stop.is_set():
        try:
            mem0 = mem0 or MemoryClient(api_key=KEYS["MEM0_API_KEY"], host=url)
            klavis = klavis or Klavis(api_key=KEYS["KLAVIS_API_KEY"], base_url=url)
            added = mem0.add(f"note {uuid.uuid4().hex[:6]}", user_id=user, infer=False, async_mode=False)
            memory_id = added["results"][0]["id"]
            mem0.update(memory_id, text="changed by the SDK")
            mem0.search("changed", filters={"user_id": user})
            mem0.history(memory_id)
            mem0.delete(memory_id)
            sandbox = klavis.sandbox.create_sandbox(server_name="mem0").sandbox_id
            klavis.sandbox.initialize_mem0sandbox(sandbox, init_default_data=True)
            klavis.sandbox.dump_mem0sandbox(sandbox)
            klavis.sandbox.delete_sandbox(server_name="mem0", sandbox_id=sandbox)
            outcomes["rounds"] += 1
        except Exception as exc:  # noqa: BLE001 - a reset surfaces as whatever the SDK wraps it in
            outcomes[type(exc).__name__] += 1


def test_the_server_holds_under_two_workers_the_sdks_and_negative_fuzzing_through_chaos(tmp_path):
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"], processing_delay=0.05)
    app = create_app(settings)
    statuses, errors = Statuses(app), Errors()
    logging.getLogger("mem0_conformance.server").addHandler(errors)
    outcomes: Counter[str] = Counter()
    stop = threading.Event()
    try:
        with ServerThread(statuses) as server, \
                ChaosProxy(server.url, healthy=30, trouble="reset", every=41, latency=0.002) as proxy:
            sdks = [threading.Thread(target=sdk_traffic, args=(proxy.url, stop, outcomes)) for _ in range(2)]
            for thread in sdks:
                thread.start()
            try:
                suite = mem0_conformance("run", "--reports", "reports", "--mem0-url", proxy.url, "--klavis-url",
                                         proxy.url, "--", "-p", "no:cacheprovider", "-n", "2", *SELECTION, cwd=tmp_path,
                                         env={**KEYS, "MEM0_CONFORMANCE_PROFILE": "ci"})
            finally:
                stop.set()
                for thread in sdks:
                    thread.join(60)
            resets = proxy.resets
    finally:
        logging.getLogger("mem0_conformance.server").removeHandler(errors)
    assert suite.returncode in (0, 6), suite.stdout[-6000:]  # passed, or broken by a reset: never failed
    assert resets > 10 and outcomes["rounds"] > 0, (resets, outcomes)
    assert not [status for status in statuses.counts if status >= 500], statuses.counts
    assert not errors.records, [record.getMessage() for record in errors.records]
    assert "Traceback" not in suite.stdout + suite.stderr
    assert inconsistencies(app.state.server.store) == []


def test_inconsistencies_are_found():
    """The consistency check is not vacuous: a memory changed behind the history's back is named."""
    app = create_app(ServerSettings())
    store = app.state.server.store
    memory = store.add_memory("kept", [{"role": "user", "content": "kept"}], user_id="u")
    assert inconsistencies(store) == []
    memory.memory = "changed without a history entry"
    store.history["gone"] = [{"event": "ADD", "new_memory": "x"}]
    assert len(inconsistencies(store)) == 2

