"""Resident memory of the reference server: at rest, after 10,000 stored memories, after one 6.8 MB add.

Run: ``python -m bench.server_memory`` (from the checkout, with the project installed). It starts
``mem0-conformance serve`` on 127.0.0.1 in a child process, feeds it over HTTP and reads the
child's resident set size (``VmRSS`` of ``/proc/<pid>/status``, Linux) after each stage; it
prints a table and writes ``bench/server_memory.json`` with the machine it ran on. Sizes are
measured, not asserted: the figures go into the README.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.common import TEXT, add, client, machine, rss_kib, serving

RESULTS = Path(__file__).with_name("server_memory.json")
PER_ADD = 100


def main() -> dict:
    figures: dict[str, float] = {}
    with serving() as (pid, url), client(url) as http:
        figures["at rest (MiB)"] = rss_kib(pid) / 1024
        started = time.monotonic()
        for first in range(0, 10_000, PER_ADD):
            add(http, [TEXT.format(n=n) for n in range(first, first + PER_ADD)], f"bench-user-{first // 1000}"
                ).raise_for_status()
        figures["10,000 memories stored in (s)"] = time.monotonic() - started
        figures["after 10,000 memories (MiB)"] = rss_kib(pid) / 1024
        figures["per stored memory (KiB)"] = (figures["after 10,000 memories (MiB)"] - figures["at rest (MiB)"]) * 1024 / 10_000
        big = ["x"] * 200_000  # 6.8 MB of JSON
        figures["6.8 MB add, default limit: status"] = add(http, big, "bench-big").status_code
        figures["after the refused 6.8 MB add (MiB)"] = rss_kib(pid) / 1024
    with serving("--max-body", "8M") as (pid, url), client(url) as http:
        before = rss_kib(pid) / 1024
        started = time.monotonic()
        figures["6.8 MB add, --max-body 8M: status"] = add(http, big, "bench-big").status_code
        figures["6.8 MB add stored in (s)"] = time.monotonic() - started
        figures["after the stored 6.8 MB add: 200,000 memories (MiB)"] = rss_kib(pid) / 1024
        figures["per memory of the 6.8 MB add (KiB)"] = (figures["after the stored 6.8 MB add: 200,000 memories (MiB)"] - before) * 1024 / 200_000
    return figures


if __name__ == "__main__":
    result = main()
    width = max(map(len, result))
    for name, value in result.items():
        print(f"{name:<{width}}  {value:>10.2f}" if isinstance(value, float) else f"{name:<{width}}  {value:>10}")
    RESULTS.write_text(json.dumps({"machine": machine(), "figures": result}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
