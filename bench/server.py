"""The reference server: mixed read/write throughput against a trivial endpoint on the same stack, and memory.

- Throughput: one client loop (in this process; the server in a child process) sends a mix of
  what the suite sends most: add, get, list with a filter, update, history, and a Klavis dump, in
  turn, over 50 memories (and a sandbox of 10). The baseline is a loop against ``bench.trivial``
  (Starlette on uvicorn, one fixed JSON answer), so the ratio is what request validation and the
  domain logic leave of the stack. Beside them the same mixed loop against the trivial endpoint
  serving, for each kind of request, the answer the reference server gave it (``--canned``: a list
  of 50 memories is about 19 KB), with nothing computed: the most the stack allows with answers of
  those sizes, the ceiling of "mixed / trivial". The three run in turns, side by side
  (:func:`bench.common.side_by_side`): each ratio is the median of the turns' ratios. Beside the rates, each
  server's CPU time per request over the turns (``/proc``): what of a request's time is the server's, the rest
  being the client's (this process) and the wakes between the two.
- The same loop against ``serve --workers 2``: two worker processes sharing one state through SQLite,
  in turns with one worker.
- Per kind: each kind of request of the mix (and a v2 search) alone, in turns with the trivial endpoint.
- Reads at scale: one user's list, search and get by id (20 memories) while 1,000, 10,000 and
  100,000 memories of other users are stored: milliseconds per request, and 100,000 against 1,000.
- Memory: the server's resident set size at rest, after 10,000 and after 100,000 stored memories
  of typical size (60 characters, added 100 per request), and per stored memory beyond the rest.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    KLAVIS_KEY,
    TEXT,
    Counted,
    add,
    client,
    cpu_seconds,
    per_second,
    ratio,
    ratio_figures,
    rss_kib,
    serving,
    side_by_side,
)
from bench.trivial import kind_of

SECONDS = 4.0
PER_ADD = 100


def mixed(url: str) -> Any:
    """The mixed loop's step function against a fresh server at ``url`` (with its own sandbox and memories)."""
    http = client(url)
    klavis = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KLAVIS_KEY}"}, timeout=60)
    sandbox = klavis.post("/sandbox/mem0", json={}).json()["sandbox_id"]
    klavis.post(f"/sandbox/mem0/{sandbox}/initialize", json={"memory_list": [
        {"message_list": [{"role": "user", "content": TEXT.format(n=n)}], "user_id": "bench-sandbox",
         "auto_infer": False, "background_processing": False} for n in range(10)]}).raise_for_status()
    # 50 memories to read and list in turn. Each round updates and asks the history of the memory its add made
    # (ADD, UPDATE), as the suite's requests do: the loop's work stays the same through a run whatever its
    # length, where updating the 50 again and again gave each a history that grows with the machine's speed
    # (hundreds of entries on a fast hour, against the canned answers' two). A loop without its add (one kind
    # alone) updates and reads the 50 in turn.
    ids = [m["id"] for m in add(http, [TEXT.format(n=n) for n in range(50)], "bench-user").json()["results"]]
    added: list[str] = []

    def step(i: int) -> httpx.Response:
        kind, memory_id = i % 6, ids[i // 6 % len(ids)]
        changed = added[-1] if added else memory_id
        if kind == 0:
            response = add(http, [TEXT.format(n=i)], f"bench-user-{i % 50}")
            added[:] = [response.raise_for_status().json()["results"][0]["id"]]
        elif kind == 1:
            response = http.get(f"/v1/memories/{memory_id}/")
        elif kind == 2:
            response = http.post("/v2/memories/", json={"filters": {"user_id": "bench-user"}})
        elif kind == 3:
            response = http.put(f"/v1/memories/{changed}/", json={"text": TEXT.format(n=i)})
        elif kind == 4:
            response = http.get(f"/v1/memories/{changed}/history/")
        else:
            response = klavis.get(f"/sandbox/mem0/{sandbox}/dump")
        return response.raise_for_status()

    return step


def answers_of(url: str) -> dict[str, str]:
    """The reference server's answer to each kind of request of the mixed loop (its last round after a pass over
    its 50 memories: a history of the add and the update), by kind (:func:`bench.trivial.kind_of`)."""
    step = mixed(url)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KLAVIS_KEY}"}) as klavis:  # the set-up's
        answers = {"sandbox": klavis.post("/sandbox/mem0", json={}).raise_for_status().text}
    for i in range(6 * 50 + 6):
        response = step(i)
        answers[kind_of(response.request.method, response.request.url.path)] = response.text
    return answers


KINDS = ("add", "get", "list", "search", "update", "history", "dump")


def one_kind(url: str, kind: str) -> Any:
    """A loop of one kind of request of the mixed loop (and a v2 search) against a fresh server at ``url``."""
    step = mixed(url)
    http = client(url)
    ids = [m["id"] for m in add(http, [TEXT.format(n=n) for n in range(20)], "bench-kind").json()["results"]]
    offsets = {"add": 0, "get": 1, "list": 2, "update": 3, "history": 4, "dump": 5}

    def search(i: int) -> None:
        http.post("/v2/memories/search/", json={"query": "green tea", "filters": {"user_id": "bench-kind"}}
                  ).raise_for_status()

    if kind == "search":
        return search
    if kind == "get":  # the memories of this loop's user (the mixed loop's own are updated by it)
        return lambda i: http.get(f"/v1/memories/{ids[i % len(ids)]}/").raise_for_status()
    return lambda i: step(6 * i + offsets[kind])


def reads_at_scale(url: str, others: int, seconds: float) -> dict[str, float]:
    """Milliseconds per request of one user's reads (20 memories) with ``others`` memories of other users stored."""
    http = client(url)
    mine = [m["id"] for m in add(http, [TEXT.format(n=n) for n in range(20)], "bench-me").json()["results"]]
    for first in range(0, others, 250):
        add(http, [TEXT.format(n=n) for n in range(first, min(first + 250, others))], f"bench-other-{first // 1000}"
            ).raise_for_status()
    reads = {
        "list": lambda i: http.post("/v2/memories/", json={"filters": {"user_id": "bench-me"}}).raise_for_status(),
        "search": lambda i: http.post("/v2/memories/search/", json={"query": "green tea", "filters": {"user_id": "bench-me"}}
                                      ).raise_for_status(),
        "get": lambda i: http.get(f"/v1/memories/{mine[i % len(mine)]}/").raise_for_status(),
    }
    return {name: 1000 / per_second(read, seconds) for name, read in reads.items()}


def main(seconds: float = SECONDS) -> dict[str, float]:
    figures: dict[str, float] = {}
    with serving() as (_, url):  # a server of its own: the loop below keeps its 50 memories (a list of 50, not 100)
        answers = Path(tempfile.mkdtemp(prefix="mem0-conformance-bench-")) / "answers.json"
        answers.write_text(json.dumps(answers_of(url)), encoding="utf-8")
    trivial_command = (sys.executable, "-m", "bench.trivial")
    with (serving(command=trivial_command) as (trivial_pid, trivial_url), httpx.Client(base_url=trivial_url) as http,
          serving() as (pid, url), serving(command=(*trivial_command, "--canned", str(answers))) as (canned_pid, canned_url)):
        def trivial(i: int) -> None:  # noqa: ARG001
            http.get("/v1/ping/").raise_for_status()

        loops = {"trivial": Counted(trivial), "reference": Counted(mixed(url)), "canned": Counted(mixed(canned_url))}
        pids = {"trivial": trivial_pid, "reference": pid, "canned": canned_pid}  # each server serves its loop alone
        started = {name: cpu_seconds(pid) for name, pid in pids.items()}
        rates = side_by_side(loops, 3 * seconds)
        used = {name: cpu_seconds(pid) - started[name] for name, pid in pids.items()}
        figures["trivial endpoint (requests/s)"] = statistics.median(rates["trivial"])
        figures["reference server, mixed (requests/s)"] = statistics.median(rates["reference"])
        figures["canned answers, mixed (requests/s)"] = statistics.median(rates["canned"])
        figures.update(ratio_figures("reference server mixed / trivial", rates, "reference", "trivial"))
        figures["canned answers mixed / trivial (the ceiling)"] = ratio(rates, "canned", "trivial")
        figures["reference server mixed / canned answers"] = ratio(rates, "reference", "canned")
        for name in loops:  # the rest of a request's time is the client's (this process) and the wakes between
            figures[f"{name}: server CPU per request (µs)"] = used[name] / loops[name].calls * 1e6
        for kind in KINDS:
            with serving() as (_, kind_url):
                figures[f"{kind} / trivial"] = ratio(side_by_side({"trivial": trivial, kind: one_kind(kind_url, kind)},
                                                                  seconds), kind, "trivial")
    for others in (1_000, 10_000, 100_000):
        with serving() as (_, url):
            for read, ms in reads_at_scale(url, others, seconds / 2).items():
                figures[f"one user's {read} at {others:,} others (ms)"] = ms
    for read in ("list", "search", "get"):
        figures[f"one user's {read}: 100,000 / 1,000 others"] = (figures[f"one user's {read} at 100,000 others (ms)"]
                                                                 / figures[f"one user's {read} at 1,000 others (ms)"])
    with serving() as (_, one_url), serving("--workers", "2") as (_, two_url):
        rates = side_by_side({"one": mixed(one_url), "two": mixed(two_url)}, 2 * seconds)
    figures["serve --workers 2 (SQLite), mixed (requests/s)"] = statistics.median(rates["two"])
    figures["--workers 2 / one worker, mixed"] = ratio(rates, "two", "one")
    with serving() as (pid, url), client(url) as http:
        rest = rss_kib(pid)
        figures["at rest (MiB)"] = rest / 1024
        for first in range(0, 100_000, PER_ADD):
            add(http, [TEXT.format(n=n) for n in range(first, first + PER_ADD)], f"bench-user-{first // 1000}"
                ).raise_for_status()
            if first + PER_ADD in (10_000, 100_000):
                stored = first + PER_ADD
                figures[f"after {stored:,} memories (MiB)"] = rss_kib(pid) / 1024
                figures[f"per memory, {stored:,} stored (KiB)"] = (rss_kib(pid) - rest) / stored
    figures["per memory from 10,000 to 100,000 (KiB)"] = ((figures["after 100,000 memories (MiB)"]
                                                           - figures["after 10,000 memories (MiB)"]) * 1024 / 90_000)
    return figures


if __name__ == "__main__":
    for name, value in main().items():
        print(f"{name:<45} {value:>10.2f}")
