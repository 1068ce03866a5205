"""`mem0-conformance serve` and `faults`, run as a user runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from conformance.server.faults import FAMILIES, catalog
from tests.test_cli import EXE, run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen([EXE, "serve", "--port", str(port), "--log-level", "warning", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/v1/ping/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.communicate()[1]) from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_faults_lists_at_least_20_faults_across_every_family():
    """`faults` prints one line per planted fault (name, family, description); every family has one."""
    result = run("faults")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    faults = catalog()
    assert len(lines) == len(faults) >= 20
    for line, fault in zip(lines, faults.values(), strict=True):
        assert line.split()[:2] == [fault.name, fault.family]
        assert fault.description in line
    assert {fault.family for fault in faults.values()} == set(FAMILIES)


def test_serve_answers_with_the_configured_keys():
    """`serve --mem0-key K` accepts K for Mem0 and the default key for Klavis, and nothing else."""
    with serving("--mem0-key", "custom-key") as url:
        assert httpx.get(url + "/v1/ping/", headers={"Authorization": "Token custom-key"}).status_code == 200
        assert httpx.get(url + "/v1/ping/", headers={"Authorization": "Token m0-reference-key"}).status_code == 401
        assert httpx.get(url + "/sandbox", headers={"Authorization": "Bearer kl-reference-key"}).status_code == 200


def test_serve_honours_the_key_variables():
    """Without --mem0-key/--klavis-key, MEM0_API_KEY and KLAVIS_API_KEY are the accepted keys."""
    with serving(env={"MEM0_API_KEY": "from-env", "KLAVIS_API_KEY": "kl-env"}) as url:
        assert httpx.get(url + "/v1/ping/", headers={"Authorization": "Token from-env"}).status_code == 200
        assert httpx.get(url + "/sandbox", headers={"Authorization": "Bearer kl-env"}).status_code == 200


def test_serve_switches_on_a_fault():
    """`serve --fault auth-any-token` plants that fault: any Mem0 token is accepted."""
    with serving("--fault", "auth-any-token") as url:
        assert httpx.get(url + "/v1/ping/", headers={"Authorization": "Token anything"}).status_code == 200


def test_serve_refuses_an_unknown_fault():
    """An unknown fault name stops `serve` with one sentence and exit code 2."""
    result = run("serve", "--fault", "no-such-fault")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "mem0-conformance: unknown fault no-such-fault; `mem0-conformance faults` lists them."
    )


def test_serve_refuses_a_bad_port():
    """A port outside 0..65535 is a usage error."""
    result = run("serve", "--port", "70000")
    assert result.returncode == 2
    assert "is not a port number" in result.stderr


def test_serve_on_a_port_in_use_says_so_in_one_sentence():
    """A port another process listens on stops `serve` at once: one sentence naming host and port, exit 2."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([EXE, "serve", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"mem0-conformance: cannot serve on 127.0.0.1 port {port}: the port is in use.\n"
    assert result.stdout == ""


def test_serve_on_a_host_that_does_not_resolve_says_so_in_one_sentence():
    result = subprocess.run([EXE, "serve", "--host", "no-such-host.invalid"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == "mem0-conformance: cannot serve on no-such-host.invalid: the host name does not resolve.\n"


def test_serve_refuses_bodies_over_its_max_body_with_413():
    """`serve --max-body 2K` answers a 3 KiB body with 413 in Mem0's error shape, and a small one as usual."""
    with serving("--max-body", "2K", "--mem0-key", "m0-body-limit") as url:
        headers = {"Authorization": "Token m0-body-limit"}
        body = {"messages": [{"role": "user", "content": "x" * 3000}], "user_id": "alice", "infer": False}
        big = httpx.post(f"{url}/v1/memories/", json=body, headers=headers)
        assert big.status_code == 413 and big.json() == {"error": "Request body larger than 2048 bytes"}
        body["messages"][0]["content"] = "x" * 100
        assert httpx.post(f"{url}/v1/memories/", json={**body, "async_mode": False}, headers=headers).status_code == 200
