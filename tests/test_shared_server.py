"""`serve --workers N` and `--state FILE`: one reference server's state shared by uvicorn worker processes
through SQLite, kept between restarts, and the whole suite passing against two workers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.test_cli import EXE
from tests.test_cli_server import _free_port
from tests.test_report_runs import KEYS, mem0_conformance

MEM0 = {"Authorization": f"Token {KEYS['MEM0_API_KEY']}"}


@contextmanager
def serving(*args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    port = _free_port()
    process = subprocess.Popen([EXE, "serve", "--port", str(port), "--log-level", "warning",
                                "--mem0-key", KEYS["MEM0_API_KEY"], "--klavis-key", KEYS["KLAVIS_API_KEY"], *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/v1/ping/", headers=MEM0, timeout=2).raise_for_status()
                break
            except (httpx.TransportError, httpx.HTTPStatusError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.communicate()[1]) from None
                time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def add(url: str, text: str, user: str) -> str:
    with httpx.Client(base_url=url, headers=MEM0) as fresh:  # a new connection: any worker may take it
        answer = fresh.post("/v1/memories/", json={"messages": [{"role": "user", "content": text}], "user_id": user,
                                                   "infer": False, "async_mode": False, "output_format": "v1.1"})
        answer.raise_for_status()
        return answer.json()["results"][0]["id"]


def listed(url: str, user: str) -> list[str]:
    with httpx.Client(base_url=url, headers=MEM0) as fresh:
        return sorted(m["memory"] for m in fresh.post("/v2/memories/", json={"filters": {"user_id": user}}).json())


def test_two_workers_share_one_state(tmp_path):
    """What one worker stores, every other sees: 40 adds and 40 listings on fresh connections, spread over
    both worker processes by the kernel, always agree."""
    with serving("--workers", "2") as (url, process):
        assert len(children(process.pid)) >= 2  # the worker processes (uvicorn's supervisor is the parent)
        texts = []
        for n in range(40):
            texts.append(f"note {n:02d}")
            add(url, texts[-1], "shared-user")
            assert listed(url, "shared-user") == texts
        with httpx.Client(base_url=url, headers=MEM0) as http:  # queued work settles when its request ends
            queued = http.post("/v1/memories/", json={"messages": [{"role": "user", "content": "queued"}],
                                                      "user_id": "queued-user", "async_mode": True}).json()[0]
        assert queued["status"] == "PENDING"  # the v1.0 output format: a list holding the queued event
        with httpx.Client(base_url=url, headers=MEM0) as http:
            assert http.get(f"/v1/event/{queued['event_id']}/").json()["status"] == "SUCCEEDED"
        assert listed(url, "queued-user") == ["queued"]


def test_the_state_file_keeps_the_memories_between_restarts(tmp_path):
    state = tmp_path / "state.sqlite"
    with serving("--state", str(state)) as (url, _):
        memory_id = add(url, "kept across a restart", "keeper")
    with serving("--state", str(state), "--workers", "2") as (url, _):
        with httpx.Client(base_url=url, headers=MEM0) as http:
            assert http.get(f"/v1/memories/{memory_id}/").json()["memory"] == "kept across a restart"


@pytest.mark.parametrize(("args", "message"), [
    (("--workers", "2", "--processing-delay", "1"), "--processing-delay needs the in-memory state of one worker"),
    (("--state", "/nonexistent-folder/state.sqlite"), "cannot hold the reference server's state"),
    (("--workers", "0"), "is not a number of workers (1 to 64)"),
])
def test_settings_that_cannot_work_are_refused_in_one_sentence(tmp_path, args, message):
    result = subprocess.run([EXE, "serve", "--port", "0", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1].count(message) == 1 and "Traceback" not in result.stderr


def test_a_state_file_that_is_not_one_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database, " * 100, encoding="utf-8")
    result = subprocess.run([EXE, "serve", "--port", "0", "--state", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "cannot hold the reference server's state" in result.stderr
    assert path.read_text(encoding="utf-8").startswith("not a database")


@pytest.mark.slow
def test_the_suite_passes_against_two_workers(tmp_path):
    with serving("--workers", "2") as (url, _):
        outcome = mem0_conformance("run", "--reports", "reports", "--mem0-url", url, "--klavis-url", url, "--",
                                   "-p", "no:cacheprovider", "-n", "2", cwd=tmp_path,
                                   env={**KEYS, "MEM0_CONFORMANCE_PROFILE": "ci"})
    assert outcome.returncode == 0, outcome.stdout[-5000:]
    last = outcome.stdout.strip().splitlines()[-1]
    assert " passed" in last and "failed" not in last and "error" not in last, last
