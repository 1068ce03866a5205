"""Resident memory of the reference server: at rest, after 10,000 stored memories, after one 6.8 MB add.

Run: ``python -m bench.server_memory`` (from the checkout, with the project installed). It starts
``mem0-conformance serve`` on 127.0.0.1 in a child process, feeds it over HTTP and reads the
child's resident set size (``VmRSS`` of ``/proc/<pid>/status``, Linux) after each stage; it
prints a table and writes ``bench/server_memory.json`` with the machine it ran on. Sizes are
measured, not asserted: the figures go into the README.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

RESULTS = Path(__file__).with_name("server_memory.json")
KEY = "m0-bench-key"
TEXT = "Prefers green tea in the morning and coffee after lunch, n°{n}"  # a typical memory: 60 characters
PER_ADD = 100


def rss_kib(pid: int) -> int:
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    return int(match.group(1)) if match else -1


@contextmanager
def serving(*args: str):
    exe = Path(sys.executable).with_name("mem0-conformance")
    process = subprocess.Popen([str(exe), "serve", "--port", "0", "--log-level", "warning", "--mem0-key", KEY, *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"on (http://\S+):", line)
        if match is None:
            raise RuntimeError(f"serve did not start: {line}{process.stderr.read()}")
        with httpx.Client(base_url=match.group(1), headers={"Authorization": f"Token {KEY}"}, timeout=600) as client:
            client.get("/v1/ping/").raise_for_status()
            yield process.pid, client
    finally:
        process.terminate()
        process.wait(timeout=30)


def add(client: httpx.Client, messages: list[dict], user: str) -> httpx.Response:
    return client.post("/v1/memories/", json={"messages": messages, "user_id": user, "infer": False, "async_mode": False})


def main() -> dict:
    figures: dict[str, float] = {}
    with serving() as (pid, client):
        figures["at rest (MiB)"] = rss_kib(pid) / 1024
        started = time.monotonic()
        for first in range(0, 10_000, PER_ADD):
            add(client, [{"role": "user", "content": TEXT.format(n=n)} for n in range(first, first + PER_ADD)],
                f"bench-user-{first // 1000}").raise_for_status()
        figures["10,000 memories stored in (s)"] = time.monotonic() - started
        figures["after 10,000 memories (MiB)"] = rss_kib(pid) / 1024
        figures["per stored memory (KiB)"] = (figures["after 10,000 memories (MiB)"] - figures["at rest (MiB)"]) * 1024 / 10_000
        big = [{"role": "user", "content": "x"}] * 200_000  # 6.8 MB of JSON
        figures["6.8 MB add, default limit: status"] = add(client, big, "bench-big").status_code
        figures["after the refused 6.8 MB add (MiB)"] = rss_kib(pid) / 1024
    with serving("--max-body", "8M") as (pid, client):
        before = rss_kib(pid) / 1024
        started = time.monotonic()
        figures["6.8 MB add, --max-body 8M: status"] = add(client, big, "bench-big").status_code
        figures["6.8 MB add stored in (s)"] = time.monotonic() - started
        figures["after the stored 6.8 MB add: 200,000 memories (MiB)"] = rss_kib(pid) / 1024
        figures["per memory of the 6.8 MB add (KiB)"] = (figures["after the stored 6.8 MB add: 200,000 memories (MiB)"] - before) * 1024 / 200_000
    return figures


if __name__ == "__main__":
    result = main()
    width = max(map(len, result))
    for name, value in result.items():
        print(f"{name:<{width}}  {value:>10.2f}" if isinstance(value, float) else f"{name:<{width}}  {value:>10}")
    machine = {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    RESULTS.write_text(json.dumps({"machine": machine, "figures": result}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
