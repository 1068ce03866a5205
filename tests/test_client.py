"""The suite's HTTP layer and cleanup registry, against a real reference server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from conformance.cleanup import Cleanup, Ids, run_prefix
from conformance.apis import REDACTED
from conformance.client import ApiClient, RateLimiter, Recorder
from conformance.server import ServerSettings, ServerThread, create_app
from conformance.targets import ApiTarget
from conformance.verdicts import TargetBroken
from tests.chaos import ChaosProxy

KEY = "m0-key-that-must-never-show"


@pytest.fixture(scope="module")
def served() -> Iterator[ServerThread]:
    with ServerThread(create_app(ServerSettings(mem0_key=KEY))) as thread:
        yield thread


@pytest.fixture
def client(served: ServerThread) -> Iterator[ApiClient]:
    api = ApiClient(ApiTarget("mem0", served.url, KEY, timeout=5), Recorder(limit=3))
    yield api
    api.close()


def test_every_exchange_is_recorded_with_the_key_redacted(client: ApiClient):
    """The Authorization header and any echo of the key in a body are shown as [redacted]."""
    assert client.get("/v1/ping/").status_code == 200
    client.post("/v1/memories/", json={"messages": [{"role": "user", "content": f"my key is {KEY}"}],
                                       "user_id": "alice", "infer": False})
    text = client.recorder.render()
    assert KEY not in text
    assert f"authorization: Token {REDACTED}" in text  # the scheme stays: a reproducer needs it
    assert f"my key is {REDACTED}" in text
    assert "> GET " in text and "< 200" in text and "> POST " in text


def test_the_recorder_keeps_the_newest_exchanges_and_says_how_many_it_dropped(client: ApiClient):
    for _ in range(5):
        client.get("/v1/ping/")
    assert len(client.recorder) == 3
    assert client.recorder.render().startswith("(2 earlier exchanges not shown)")
    client.recorder.clear()
    assert client.recorder.render() == ""


def test_a_transport_error_is_recorded_and_raised_as_the_target_broken():
    """No answer is the target or network misbehaving (a broken verdict, not a failure), and it is recorded."""
    recorder = Recorder()
    api = ApiClient(ApiTarget("klavis", "http://127.0.0.1:9", "kl-secret", timeout=2), recorder)
    with pytest.raises(TargetBroken, match="GET /sandbox: ConnectError") as raised:
        api.get("/sandbox")
    assert isinstance(raised.value.__cause__, httpx.TransportError)
    assert "transport error" in recorder.render() and "kl-secret" not in recorder.render()


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_an_unserved_answer_that_outlasts_the_retries_is_the_target_broken(served: ServerThread, status: int):
    """A 429/502/503/504 on every attempt: three retries, each recorded, then TargetBroken."""
    with ChaosProxy(served.url, trouble="status", status=status, retry_after="0") as proxy:
        api = ApiClient(ApiTarget("mem0", proxy.url, KEY, timeout=5), Recorder())
        with pytest.raises(TargetBroken, match=f"GET /v1/ping/ answered {status}"):
            api.get("/v1/ping/")
    assert proxy.counts["status"] == 4 and [e.status for e in api.recorder] == [status] * 4


def test_a_retry_after_answer_is_waited_out_and_the_request_sent_again(served: ServerThread):
    """Every other request gets 503 with Retry-After: the client waits and the retry gets the answer."""
    with ChaosProxy(served.url, trouble="status", every=2, status=503, retry_after="1") as proxy:
        api = ApiClient(ApiTarget("mem0", proxy.url, KEY, timeout=5), Recorder())
        assert api.get("/v1/ping/").status_code == 200  # the first passes
        started = time.monotonic()
        assert api.get("/v1/ping/").status_code == 200  # 503, Retry-After: 1, then 200
        assert time.monotonic() - started >= 0.9
    assert [e.status for e in api.recorder] == [200, 503, 200]


@pytest.mark.parametrize(("status", "attempts"), [(502, 1), (503, 4), (429, 4)])
def test_a_post_is_sent_again_only_after_answers_that_say_it_was_not_processed(served: ServerThread, status, attempts):
    """A POST is repeated after 429/503 (not processed), never after a 502 (it may have been)."""
    with ChaosProxy(served.url, trouble="status", status=status, retry_after="0") as proxy:
        api = ApiClient(ApiTarget("mem0", proxy.url, KEY, timeout=5), Recorder())
        with pytest.raises(TargetBroken):
            api.post("/v1/memories/", json={"messages": [{"role": "user", "content": "tea"}], "user_id": "u"})
    assert proxy.counts["status"] == attempts


def test_a_reset_connection_is_retried_for_a_get(served: ServerThread):
    """A GET whose connection is reset once is sent again and answered."""
    with ChaosProxy(served.url, trouble="reset", every=2) as proxy:
        api = ApiClient(ApiTarget("mem0", proxy.url, KEY, timeout=5), Recorder())
        assert api.get("/v1/ping/").status_code == 200
        assert api.get("/v1/ping/").status_code == 200
    assert proxy.resets == 1 and [e.status for e in api.recorder] == [200, None, 200]


def test_a_post_that_only_reads_is_retried_like_a_get(served: ServerThread):
    """A v2 list (a POST that changes nothing) whose connection is reset is sent again; an add is not."""
    with ChaosProxy(served.url, trouble="reset", every=2) as proxy:
        api = ApiClient(ApiTarget("mem0", proxy.url, KEY, timeout=5), Recorder())
        assert api.get("/v1/ping/").status_code == 200
        assert api.post("/v2/memories/", json={"filters": {"user_id": "u"}}).status_code == 200
        api.get("/v1/ping/")
        with pytest.raises(TargetBroken):
            api.post("/v1/memories/", json={"messages": [{"role": "user", "content": "tea"}], "user_id": "u"})
    assert [e.status for e in api.recorder] == [200, None, 200, None, 200, None]  # every 2nd reset; the add never again


def test_an_exchange_reproduces_as_curl_with_the_key_from_its_variable(client: ApiClient):
    """The curl reproducer of an exchange sends the same request again, the key read from MEM0_API_KEY."""
    text = "it's tea — 緑茶"
    client.post("/v1/memories/", params={"user_id": "x"},
                json={"messages": [{"role": "user", "content": text}], "user_id": "bob", "infer": False,
                      "async_mode": False, "output_format": "v1.1"})
    (exchange,) = [e for e in client.recorder if e.method == "POST"]
    curl = exchange.curl()
    assert KEY not in curl and "$MEM0_API_KEY" in curl
    again = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30, env={"MEM0_API_KEY": KEY})
    assert again.returncode == 0, again.stderr
    added = json.loads(again.stdout)
    assert [memory["memory"] for memory in added["results"]] == [text], again.stdout


def _waits(limiter: RateLimiter, count: int, threads: int = 1) -> float:
    """Seconds that ``count`` waits take, spread over ``threads`` threads sharing the limiter."""
    def some(n: int) -> None:
        for _ in range(n):
            limiter.wait()

    started = time.monotonic()
    workers = [threading.Thread(target=some, args=(count // threads,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.monotonic() - started


def test_the_rate_limit_holds_threads_to_the_rate_in_its_window():
    """5/s: two threads' 10 requests need a second window."""
    assert _waits(RateLimiter("5/s"), 10, threads=2) >= 0.9


def test_workers_keep_to_their_share_of_the_rate():
    """6/s shared by 2 workers: 3/s each, so a worker's 4th request waits for the next second."""
    assert _waits(RateLimiter("6/s", share=2), 4) >= 0.9


def test_a_share_smaller_than_one_per_unit_stretches_the_window():
    """1/s shared by 2 workers: one request per 2 s each, never 1/s each (2/s together)."""
    assert _waits(RateLimiter("1/s", share=2), 2) >= 1.9


def test_a_long_wait_blocks_rather_than_failing():
    """1/h: the second request waits (up to the hour), it neither fails nor goes."""
    limiter = RateLimiter("1/h")
    limiter.wait()
    second = threading.Thread(target=limiter.wait, daemon=True)
    second.start()
    second.join(0.3)
    assert second.is_alive()


def test_no_rate_limit_costs_nothing():
    assert _waits(RateLimiter(None), 1000) < 0.1


@pytest.mark.parametrize("rate", ["0/m", "5/d", "5", "x/s"])
def test_a_malformed_rate_limit_is_refused(rate):
    with pytest.raises(ValueError, match="rate limit"):
        RateLimiter(rate)


def test_cleanup_deletes_newest_first_and_reports_what_it_could_not_delete():
    order: list[str] = []

    def answer(name: str, status: int):
        def delete() -> httpx.Response:
            order.append(name)
            return httpx.Response(status)
        return delete

    def unreachable() -> httpx.Response:
        order.append("c")
        raise httpx.ConnectError("connection refused")

    registry = Cleanup()
    registry.add("memory", "a", answer("a", 204))
    registry.add("memory", "b", answer("b", 500))
    registry.add("sandbox", "c", unreachable)
    registry.add("user", "d", answer("d", 404))  # already gone: not a leak
    registry.add("user", "e", answer("e", 200))
    registry.forget("user", "e")  # the test deleted it itself
    leaks = registry.drain()
    assert order == ["d", "c", "b", "a"]
    assert [(leak.kind, leak.ident) for leak in leaks] == [("sandbox", "c"), ("memory", "b")]
    assert "delete answered 500" in str(leaks[1])
    assert len(registry) == 0 and registry.drain() == []


def test_what_the_api_cannot_delete_is_reported_as_left_by_design():
    """Export jobs and events have no delete: drain lists them after the real leaks, marked by design, once each."""
    registry = Cleanup()
    registry.add("memory", "a", lambda: httpx.Response(500))
    registry.keep("event", "e1")
    registry.keep("event", "e1")
    registry.keep("export job", "x1")
    leaks = registry.drain()
    assert [(leak.kind, leak.ident, leak.by_design) for leak in leaks] == [
        ("memory", "a", False), ("event", "e1", True), ("export job", "x1", True)]
    assert registry.drain() == []


def test_ids_carry_the_run_prefix_and_are_unique():
    ids = Ids(run_prefix("1a2b3c4d", "gw1"))
    made = {ids.new("user") for _ in range(50)} | {ids.new("agent")}
    assert len(made) == 51
    assert all(name.startswith("mct-1a2b3c4d-gw1-") and ids.owns(name) for name in made)
    assert not ids.owns("mct-1a2b3c4d-gw10-user-1")


def test_a_truncated_answer_is_retried_for_a_get_and_broken_when_it_lasts(served: ServerThread):
    """A body cut off halfway is no answer: a GET is sent again; when every answer is cut, TargetBroken."""
    with ChaosProxy(served.url, trouble="truncate", every=2) as proxy:
        api = ApiClient(ApiTarget("mem0", proxy.url, KEY, timeout=5), Recorder())
        assert api.get("/v1/ping/").json()["status"] == "ok"
        assert api.get("/v1/ping/").json()["status"] == "ok"
    assert proxy.counts["truncate"] == 1 and [e.status for e in api.recorder] == [200, None, 200]
    with ChaosProxy(served.url, trouble="truncate") as proxy:
        api = ApiClient(ApiTarget("mem0", proxy.url, KEY, timeout=5), Recorder())
        with pytest.raises(TargetBroken, match="RemoteProtocolError"):
            api.get("/v1/ping/")


def test_the_watch_counts_a_silence_from_its_first_unanswered_request_and_lets_nothing_through_after_it(monkeypatch):
    """Unanswered requests for the bound make every next one fail at once, however long after (a request let through
    now and then would wait out its own timeout, test after test); an answer in flight still ends the silence."""
    from conformance import liveness

    now = [100.0]
    monkeypatch.setattr(liveness.time, "monotonic", lambda: now[0])
    watch = liveness.Watch(silence=6.0)
    watch.unanswered(sent=100.0)
    now[0] = 105.0
    watch.check()  # 5 s of silence: still sent
    now[0] = 106.5
    with pytest.raises(liveness.TargetSilent, match=r"^the target stopped answering: no request was answered for 6 s"):
        watch.check()  # the bound is passed: fails at once
    now[0] = 140.0
    with pytest.raises(liveness.TargetSilent, match="answered for 40 s"):
        watch.check()  # and still, a timeout's length later
    watch.answered()
    watch.check()
