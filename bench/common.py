"""What the benchmarks share: a reference server in a child process, its resident memory, the machine."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

KEY = "m0-bench-key"
KLAVIS_KEY = "kl-bench-key"
EXE = str(Path(sys.executable).with_name("mem0-conformance"))
TEXT = "Prefers green tea in the morning and coffee after lunch, n°{n}"  # a typical memory: 60 characters


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` (``VmRSS`` of ``/proc/<pid>/status``, Linux)."""
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    return int(match.group(1)) if match else -1


def cpu_seconds(pid: int) -> float:
    """Seconds of CPU, user and system, that ``pid`` has used so far (``/proc/<pid>/stat``, Linux: counted in clock
    ticks, 10 ms each where ``SC_CLK_TCK`` is 100)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Counted:
    """A loop's step function that counts its calls (:func:`per_second`'s warm-up included)."""

    def __init__(self, step: Callable[[int], Any]) -> None:
        self.step, self.calls = step, 0

    def __call__(self, i: int) -> Any:
        self.calls += 1
        return self.step(i)


@contextmanager
def serving(*args: str, command: tuple[str, ...] = ()) -> Iterator[tuple[int, str]]:
    """``mem0-conformance serve`` (or ``command``, which prints ``... on http://host:port:`` when ready) on
    127.0.0.1 and a free port in a child process: its pid and URL, stopped at the end."""
    argv = list(command) or [EXE, "serve", "--port", "0", "--log-level", "warning", "--mem0-key", KEY,
                             "--klavis-key", KLAVIS_KEY, *args]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"on (http://\S+):", line)
        if match is None:
            raise RuntimeError(f"the server did not start: {line}{process.stderr.read()}")
        deadline = time.monotonic() + 60  # worker processes answer a moment after the line is printed
        while True:
            try:
                httpx.get(match.group(1) + "/v1/ping/", headers={"Authorization": f"Token {KEY}"}).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the server at {match.group(1)} does not answer") from None
                time.sleep(0.1)
        yield process.pid, match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Token {KEY}"}, timeout=600)


def add(http: httpx.Client, texts: list[str], user: str) -> httpx.Response:
    return http.post("/v1/memories/", json={"messages": [{"role": "user", "content": text} for text in texts],
                                            "user_id": user, "infer": False, "async_mode": False, "output_format": "v1.1"})


def per_second(action: Callable[[int], Any], seconds: float) -> float:
    """How many times per second ``action(i)`` runs, over about ``seconds`` (after a short warm-up)."""
    for i in range(20):
        action(i)
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            action(done)
            done += 1
    return done / elapsed


def side_by_side(loops: dict[str, Callable[[int], Any]], seconds: float, turns: int = 10,
                 around: dict[str, Callable[[], AbstractContextManager[Any]]] | None = None) -> dict[str, list[float]]:
    """Each loop's rate (:func:`per_second`) in ``turns`` turns of ``seconds / turns`` each, the loops one after the
    other within a turn (A B C A B C ...): a ratio taken turn by turn holds while the machine's speed drifts, where
    one long measurement after another compares two different machines. Turns stay short: a loop's connections
    wait while the others run, and uvicorn closes one idle for 5 s. ``around`` gives a loop a context entered for
    each of its turns (say, the suite's hooks, which must not be active while plain schemathesis runs)."""
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(turns):
        for name, loop in loops.items():
            with (around or {}).get(name, nullcontext)():
                rates[name].append(per_second(loop, seconds / turns))
    return rates


def turn_ratios(rates: dict[str, list[float]], top: str, bottom: str) -> list[float]:
    """Each turn's rate of ``top`` over ``bottom``'s (:func:`side_by_side`)."""
    return [a / b for a, b in zip(rates[top], rates[bottom], strict=True)]


def ratio(rates: dict[str, list[float]], top: str, bottom: str) -> float:
    """The median over the turns of ``top``'s rate over ``bottom``'s."""
    return statistics.median(turn_ratios(rates, top, bottom))


def ratio_figures(name: str, rates: dict[str, list[float]], top: str, bottom: str) -> dict[str, float]:
    """``name``: :func:`ratio`, with the lowest and the highest of the turns' ratios beside it (``name (lowest
    turn)``, ``name (highest turn)``): how far the run's own noise reaches, which the targets print with a verdict."""
    turns = turn_ratios(rates, top, bottom)
    return {name: statistics.median(turns), f"{name} (lowest turn)": min(turns), f"{name} (highest turn)": max(turns)}


def machine() -> dict[str, Any]:
    versions = {}
    for package in ("mem0-conformance", "schemathesis", "hypothesis", "pytest", "httpx", "starlette", "uvicorn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions}
