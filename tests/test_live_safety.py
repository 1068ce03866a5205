"""The whole suite against a reference server that holds someone else's data, as a live target.

The server is seeded over HTTP with foreign data (other users and an agent, metadata, an updated
memory with its history, an immutable memory, a Klavis sandbox with read-only memories), then
`mem0-conformance run --mem0-url URL --klavis-url URL` runs every test against it, with none of
the embedded server's shortcuts. Afterwards every foreign answer is byte-identical, and the
server holds nothing of the run but what the leak report lists as left by design.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.server import ServerSettings, ServerThread, create_app
from tests.test_report_runs import KEYS, Run, run

USERS = ("customer-alice", "customer-bob")
AGENT = "support-agent"
READER = "customer-carol"  # the entity of the foreign sandbox's memories
PROFILE = {"MEM0_CONFORMANCE_PROFILE": "ci"}


def clients(url: str) -> tuple[httpx.Client, httpx.Client]:
    return (httpx.Client(base_url=url, headers={"Authorization": f"Token {KEYS['MEM0_API_KEY']}"}),
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEYS['KLAVIS_API_KEY']}"}))


def add(mem0: httpx.Client, text: str, **fields) -> str:
    answer = mem0.post("/v1/memories/", json={"messages": [{"role": "user", "content": text}], "infer": False,
                                              "async_mode": False, **fields})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return (body["results"] if isinstance(body, dict) else body)[0]["id"]


def seed(url: str) -> str:
    """Foreign data of every kind the suite touches; the foreign sandbox's id."""
    mem0, klavis = clients(url)
    with mem0, klavis:
        add(mem0, "Alice drinks oolong", user_id=USERS[0], metadata={"team": "Zürich", "level": 3})
        updated = add(mem0, "Alice lives in Bern", user_id=USERS[0], agent_id=AGENT)
        assert mem0.put(f"/v1/memories/{updated}/", json={"text": "Alice lives in Basel"}).status_code == 200
        add(mem0, "Bob's passport number is private", user_id=USERS[1], immutable=True)
        add(mem0, "The agent answers in German", agent_id=AGENT, metadata={"lang": "de"})
        sandbox = klavis.post("/sandbox/mem0", json={"tag": "customer-team"}).json()["sandbox_id"]
        items = [{"message_list": [{"role": "user", "content": "Carol's badge is read-only"}], "user_id": READER,
                  "read_only": True, "auto_infer": False, "background_processing": False},
                 {"message_list": [{"role": "user", "content": "Carol prefers mornings"}], "user_id": READER,
                  "auto_infer": False, "background_processing": False, "metadata": {"source": "klavis"}}]
        assert klavis.post(f"/sandbox/mem0/{sandbox}/initialize", json={"memory_list": items}).status_code == 200
    return sandbox


def foreign_view(url: str, sandbox: str) -> dict[str, str]:
    """Every answer about the foreign data, as the raw text the server sent."""
    mem0, klavis = clients(url)
    view: dict[str, str] = {}
    with mem0, klavis:
        for key, value in [*(("user_id", user) for user in (*USERS, READER)), ("agent_id", AGENT)]:
            listed = mem0.get("/v1/memories/", params={key: value})
            view[f"list {key}={value}"] = listed.text
            for memory in listed.json():
                for what in ("", "history/"):
                    view[f"GET {memory['id']} {what}"] = mem0.get(f"/v1/memories/{memory['id']}/{what}").text
        view["sandbox"] = klavis.get(f"/sandbox/mem0/{sandbox}").text
        # the dump's own moment aside (dumped_at says when it was asked for), byte for byte
        view["dump"] = re.sub(r'"dumped_at":"[^"]*"', '"dumped_at":…', klavis.get(f"/sandbox/mem0/{sandbox}/dump").text)
    assert len(view) == 2 + 4 + 2 * 6, sorted(view)  # 4 lists, 6 foreign memories (one of Alice shows under the agent too)
    return view


@pytest.fixture(scope="module")
def foreign_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, ServerThread, dict, dict, str]]:
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"])
    with ServerThread(create_app(settings)) as server:
        sandbox = seed(server.url)
        before = foreign_view(server.url, sandbox)
        outcome = run(Path(tmp_path_factory.mktemp("foreign")), "--mem0-url", server.url, "--klavis-url", server.url,
                      "--", "-p", "no:cacheprovider", "-n", "2", env={**KEYS, **PROFILE})
        yield outcome, server, before, foreign_view(server.url, sandbox), sandbox


def test_the_whole_suite_against_a_target_holding_foreign_data(foreign_run):
    """One run of the whole suite (it takes minutes) judged four ways: it passes, the foreign data is byte-identical
    afterwards, nothing of the run is left but what the leak report lists, and no request named an empty or a
    foreign entity."""
    passes(foreign_run)
    foreign_data_is_byte_identical_afterwards(foreign_run)
    nothing_of_the_run_is_left_but_what_the_leak_report_lists(foreign_run)
    no_request_of_the_run_named_an_empty_or_foreign_entity(foreign_run)


def passes(foreign_run):
    outcome = foreign_run[0]
    assert outcome.code == 0, outcome.stdout[-6000:]
    summary = outcome.summary()
    assert summary["totals"]["passed"] >= 110
    # every operation the run may send on a live target reached its success path (the unscoped ones are skipped), but
    # reading a profile job: no job can be made without enabling profiles, a change of the project's settings
    assert {name: api["unexercised"] for name, api in summary["apis"].items()} == {
        "Klavis sandbox": [], "Mem0 platform": ["GET /v2/profiles/jobs/{job_id}/"]}


def foreign_data_is_byte_identical_afterwards(foreign_run):
    _, _, before, after, _ = foreign_run
    assert after == before


def nothing_of_the_run_is_left_but_what_the_leak_report_lists(foreign_run):
    outcome, server, _, _, sandbox = foreign_run
    store = server.app.state.server.store
    assert "resources this run could not delete" not in outcome.stdout
    assert {m.user_id or m.agent_id for m in store.memories.values()} == {*USERS, READER, AGENT}
    sandboxes = [s for s in store.sandboxes.values() if s["sandbox_id"] != sandbox]
    assert sandboxes and {s["status"] for s in sandboxes} == {"idle"}  # every sandbox of the run released ...
    tags = Counter("run" if str(s["tag"]).startswith("mct-") else repr(s["tag"]) for s in sandboxes)
    assert set(tags) <= {"run", "None"}, tags  # ... tagged with the run's prefix (or acquired with no body at all)
    assert not store.table("webhooks") and not store.table("entities")
    line = re.search(r"left on the target by design.*\n(.*)\n", outcome.stdout).group(1)
    kept = {kind: int(count) for count, kind in re.findall(r"(\d+) ([a-z ]+?)s?(?:,|$)", line)}
    assert kept == {"event": len(store.events), "export job": len(store.table("exports")),
                    "feedback": len(store.table("feedback"))}, line


def no_request_of_the_run_named_an_empty_or_foreign_entity(foreign_run):
    """The run's own tests and schemathesis's requests (exchanges in the report) only name run-prefixed entities."""
    outcome = foreign_run[0]
    texts = " ".join(path.read_text(encoding="utf-8", errors="replace")
                     for path in (outcome.reports / "allure-results").glob("*-attachment*"))
    for user in (*USERS, READER, AGENT):
        assert user not in texts
    assert not re.search(r"[?&](user_id|agent_id|app_id|run_id)=(&|\s|$)", texts)
