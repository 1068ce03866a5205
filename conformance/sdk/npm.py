"""The TypeScript SDKs from npm (``mem0ai``, ``klavis``) in the SDK guard.

Each npm SDK is installed like the project's other Node.js tools (:mod:`conformance.tools`: pinned,
in the project's cache, on first use; the default versions from the lock folders beside this
module). A :class:`NodeRunner` (``npm/runner.cjs``) makes its clients and calls their methods, one
JSON line at a time, against a :class:`RecordingProxy`: a reverse proxy of the guard's own in front
of the target, recording every exchange into the same :class:`~conformance.sdk.traffic.Traffic` the
Python SDKs' exchanges go to. From there on the npm SDKs are held to the effective documents
exactly like the Python ones (``conformance/suite/test_sdk.py``).

Their scenarios are data (``npm/scenarios.yaml``), interpreted by :func:`interpret`: each step
calls one SDK method (or sends what a TypeScript user writes by hand, ``fetch``), may keep the
answer under a name, and states what it expects of the answer.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from conformance.apis import APIS
from conformance.yamlfile import load_yaml
from conformance.tools import NodeTool, ToolError

HERE = Path(__file__).with_name("npm")
RUNNER = HERE / "runner.cjs"
SCENARIOS = HERE / "scenarios.yaml"
PINNED = {"mem0ai": "3.3.1", "klavis": "2.15.0"}  # the versions the lock folders npm/<package>/ hold
API_OF = {"mem0ai": "mem0", "klavis": "klavis"}
KEY_VARIABLE = {package: APIS[api].key_variable for package, api in API_OF.items()}
PREFIX = "npm:"  # an npm SDK's name in the guard: "npm:mem0ai"
_SPEC = re.compile(r"^(?:npm:)?(mem0ai|klavis)(?:@([0-9][0-9A-Za-z.+-]*))?$")


class NpmError(Exception):
    """An npm SDK cannot be used; the message is one sentence saying why and what to do."""


@dataclass(frozen=True)
class NpmSdk:
    package: str  # "mem0ai"
    version: str

    @classmethod
    def parse(cls, text: str) -> NpmSdk:
        """``mem0ai@3.3.1``, ``npm:klavis@2.15.0``, or a package alone (its pinned version)."""
        match = _SPEC.match(text.strip())
        if match is None:
            raise NpmError(f"{text!r} is not an npm SDK: write mem0ai@X.Y.Z or klavis@X.Y.Z (npm: in front is allowed)")
        return cls(match.group(1), match.group(2) or PINNED[match.group(1)])

    @property
    def name(self) -> str:
        """The SDK's name in the guard's records: ``npm:mem0ai``."""
        return PREFIX + self.package

    @property
    def api(self) -> str:
        return API_OF[self.package]

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tool(self) -> NodeTool:
        lock = HERE / self.package if self.version == PINNED[self.package] else None
        return NodeTool(f"npm-{self.package}", self.package, self.version, None,
                        f"the SDK guard's npm {self.package} {self.version}", lock=lock)

    def folder(self) -> Path:
        """The installed package's folder (installed on first use)."""
        try:
            return self.tool.path()
        except ToolError as exc:
            raise NpmError(str(exc)) from exc


def default_sdks() -> tuple[NpmSdk, ...]:
    return tuple(NpmSdk(package, version) for package, version in PINNED.items())


def chosen(texts: list[str] | None) -> tuple[NpmSdk, ...]:
    """The npm SDKs a run drives: ``--npm-sdk`` as given (``none``: none), else the pinned ones."""
    if not texts:
        return default_sdks()
    if [text.strip().lower() for text in texts] == ["none"]:
        return ()
    sdks = tuple(NpmSdk.parse(text) for text in texts)
    packages = [sdk.package for sdk in sdks]
    if len(set(packages)) != len(packages):
        raise NpmError(f"--npm-sdk names {', '.join(sorted({p for p in packages if packages.count(p) > 1}))} twice; "
                       "one run drives one version of each npm SDK")
    return sdks


# The recording reverse proxy -----------------------------------------------------------------------------------

_HOP = frozenset({"host", "connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade",
                  "proxy-connection", "accept-encoding"})


class RecordingProxy:
    """A reverse proxy on 127.0.0.1 in front of ``upstream``: what a client of any language sends to
    :attr:`url` goes to the target through ``client`` (a recorded httpx client), and comes back as it
    was answered. A transport error becomes a 502 the client sees (and the recorder holds the error)."""

    def __init__(self, upstream: str, client: httpx.Client) -> None:
        self.upstream, self.client = upstream.rstrip("/"), client
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP]
                try:
                    answer = proxy.client.request(self.command, proxy.upstream + self.path, headers=headers, content=body)
                except httpx.HTTPError as exc:
                    self._answer(502, [("Content-Type", "text/plain")], f"no answer from the target: {exc}".encode())
                    return
                kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in _HOP | {"content-encoding"}]
                self._answer(answer.status_code, kept, answer.content)

            def _answer(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

            def log_message(self, *args: Any) -> None:  # the recorder holds every exchange; nothing on stderr
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="sdk-recording-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> RecordingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


# The Node.js runner --------------------------------------------------------------------------------------------


class NodeRaised(Exception):
    """What a call of the npm SDK threw: its class, message, the HTTP status it carried, where in the SDK."""

    def __init__(self, raised: Mapping[str, Any]) -> None:
        self.type, self.status, self.at = str(raised.get("type")), raised.get("status"), str(raised.get("at") or "")
        super().__init__(f"{self.type}: {raised.get('message')}")


class NodeRunner:
    """``node npm/runner.cjs <package folder>``: one process per npm SDK and run, answering one request at a time."""

    def __init__(self, sdk: NpmSdk, keys: Mapping[str, str], *, folder: Path | None = None,
                 timeout: float = 60.0) -> None:
        node = shutil.which("node")
        if node is None:
            raise NpmError("the npm SDKs need Node.js 20 or newer on the PATH (https://nodejs.org)")
        self.sdk, self.timeout = sdk, timeout
        environ = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLE.values()}
        environ.update({name: value for name, value in keys.items() if value}, MEM0_TELEMETRY="false")
        self.process = subprocess.Popen([node, str(RUNNER), str(folder or sdk.folder())], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._answers, daemon=True).start()
        threading.Thread(target=self._logs, daemon=True).start()

    def _answers(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)  # the runner exited

    def _logs(self) -> None:  # what the SDK logs (kept, the last lines said when the runner dies)
        for line in self.process.stderr:
            self.stderr.append(line.rstrip("\n"))
            del self.stderr[:-50]

    def request(self, **request: Any) -> Any:
        """Send one request; its answer (``returned``), or :class:`NodeRaised` for what the SDK threw."""
        if self.process.poll() is not None:
            raise NpmError(f"the Node.js runner of {self.sdk} has exited: {self._last_words()}")
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            raise NpmError(f"the Node.js runner of {self.sdk} gave no answer in {self.timeout:.0f} s") from None
        if line is None:
            raise NpmError(f"the Node.js runner of {self.sdk} has exited: {self._last_words()}")
        answer = json.loads(line)
        if "raised" in answer:
            raise NodeRaised(answer["raised"])
        return answer["returned"]

    def _last_words(self) -> str:
        return (self.stderr[-1] if self.stderr else "no output")[:300]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def running(sdk: NpmSdk, keys: Mapping[str, str]) -> Iterator[NodeRunner]:
    runner = NodeRunner(sdk, keys)
    try:
        yield runner
    finally:
        runner.close()


# Scenarios as data ---------------------------------------------------------------------------------------------


@cache
def scenario_data() -> dict[str, list[dict[str, Any]]]:
    """``npm/scenarios.yaml``: for each npm package, its scenarios."""
    return load_yaml(SCENARIOS.read_text(encoding="utf-8"))


def applies(data: Mapping[str, Any], version: str) -> bool:
    """Whether a scenario (or a step) with ``versions: ">=3"`` applies to ``version``."""
    return Version(version) in SpecifierSet(str(data.get("versions", "")))


HOLDER = {"mem0ai": "MemoryClient", "klavis": "KlavisClient.sandbox"}  # the object whose methods the steps call
MADE = {"mem0ai": "MemoryClient", "klavis": "KlavisClient"}  # the client a run makes first
_RESERVED = frozenset({"as", "keep", "expect", "eventually", "track", "versions", "disagrees"})


@dataclass
class NpmClients:
    """One npm SDK in a run: its runner, the recording proxy's URL it reaches the target through, and the
    log its calls are recorded in (one Allure step each, like the Python SDKs' calls)."""

    sdk: NpmSdk
    runner: NodeRunner
    url: str
    log: Any  # conformance.sdk.calls.CallLog
    made: bool = False

    def make(self) -> None:
        """The SDK's client, made once per run (mem0ai's constructor pings: recorded as its own call)."""
        if not self.made:
            self._invoke(MADE[self.sdk.package], f"{{host: {json.dumps(self.url)}}}",
                         lambda: self.runner.request(op="make", name="client", url=self.url))
            self.made = True

    def call(self, method: str, args: list[Any]) -> Any:
        self.make()
        holder = HOLDER[self.sdk.package]
        return self._invoke(f"{holder}.{method}", _shown(args), lambda: self.runner.request(
            op="call", on="client", holder=holder, method=method, args=args))

    def fetch(self, method: str, path: str, body: Any = None) -> Any:
        """What a TypeScript user sends by hand where the SDK has no call that reaches the operation."""
        return self._invoke("fetch", _shown([method, path] + ([body] if body is not None else [])),
                            lambda: self.runner.request(op="fetch", method=method, url=self.url + path, body=body,
                                                        scheme=APIS[self.sdk.api].scheme))

    def surface(self) -> dict[str, Any]:
        return self.runner.request(op="surface")

    def _invoke(self, method: str, shown: str, function: Any) -> Any:
        return self.log.invoke(self.sdk.name, method, function, (), {}, shown=shown)


def _shown(args: list[Any]) -> str:
    """Arguments as a TypeScript caller writes them (JSON): whole, so that the reproducer runs as it is (messages
    shorten them; a very long one is cut)."""
    parts = [json.dumps(arg, ensure_ascii=False) for arg in args]
    return ", ".join(part if len(part) <= 2000 else part[:1997] + "..." for part in parts)


class Unfinished(LookupError):
    """A scenario of ``npm/scenarios.yaml`` refers to a name no step has kept, or keeps what the answer lacks:
    an error of the scenario (the test breaks), never taken for the SDK's or the target's."""


def interpret(scenario: Mapping[str, Any], ctx: Any, clients: NpmClients) -> None:
    """Run one data scenario's steps with ``clients``: call, keep (``as``), track for cleanup (``track``),
    and hold each answer to its ``expect`` (paths into the answer -> values; ``eventually`` retries the
    step until they hold, within the target's consistency wait). A broken expectation fails the
    target, unless the step says the SDK and the document ``disagrees`` (a finding)."""
    from conformance.sdk.traffic import SdkDisagreement
    from conformance.verdicts import fact, require

    kept: dict[str, Any] = {"prefix": ctx.prefix}

    def lookup(reference: str) -> Any:
        root, *rest = reference.split(".")
        if root not in kept and re.fullmatch(r"user\d*", root):
            kept[root] = ctx.new_user()  # a run-prefixed user, deleted at the end of the run
        if root not in kept:
            raise Unfinished(f"{scenario['call']}: ${root} is used before a step keeps it")
        try:
            return at(kept[root], rest)
        except (KeyError, IndexError, TypeError, ValueError):
            raise Unfinished(f"{scenario['call']}: ${reference} is not in what the step kept: "
                             f"{json.dumps(kept[root])[:200]}") from None

    for step in scenario["steps"]:
        if not applies(step, clients.sdk.version):
            continue
        [(method, raw)] = [(key, value) for key, value in step.items() if key not in _RESERVED]
        args = substitute(raw, lookup)

        def once() -> Any:
            return clients.fetch(**args) if method == "fetch" else clients.call(method, list(args))

        answer, deadline = once(), time.monotonic() + ctx.wait
        expected = substitute(step.get("expect") or {}, lookup)
        while step.get("eventually") and _broken(expected, answer) and time.monotonic() < deadline:
            time.sleep(0.25)
            answer = once()
        if "as" in step:
            kept[step["as"]] = answer
        for name, paths in (step.get("keep") or {}).items():  # a part of the answer: the first path that is in it
            kept[name] = _first(answer, [paths] if isinstance(paths, str) else paths, f"{scenario['call']}: {method}")
        for kind, reference in (step.get("track") or {}).items():
            {"sandbox": ctx.track_sandbox, "webhook": ctx.track_webhook}[kind](substitute(reference, lookup))
        broken = _broken(expected, answer)
        if broken and step.get("disagrees"):
            raise SdkDisagreement(f"SDK and document disagree: {step['disagrees']} ({broken[0]})")
        name = f"{clients.sdk.package} {clients.sdk.version} {method}"
        require(not broken, f"{name}: {broken[0] if broken else ''}", received=answer, documented=expected,
                source=fact(scenario["source"]))


def _first(answer: Any, paths: list[str], where: str) -> Any:
    for path in paths:
        try:
            return at(answer, path.split("."))
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    raise Unfinished(f"{where}: none of {', '.join(paths)} is in the answer {json.dumps(answer)[:200]}")


def _broken(expected: Mapping[str, Any], answer: Any) -> list[str]:
    """Each expectation ``answer`` does not meet: ``results.length is 0 where 1 is expected``."""
    found = []
    for path, value in expected.items():
        try:
            actual = at(answer, path.split(".") if path else [])
        except (KeyError, IndexError, TypeError, ValueError):
            actual = "(missing)"
        if actual != value:
            found.append(f"{path or 'the answer'} is {json.dumps(actual)[:200]} where {json.dumps(value)[:200]} is expected")
    return found


def at(value: Any, path: list[str]) -> Any:
    """``path`` into ``value``: keys, list indexes, ``length``, and ``*`` (each item of a list)."""
    for position, part in enumerate(path):
        if part == "*":
            return [at(item, path[position + 1:]) for item in value]
        if part == "length" and isinstance(value, (list, str)):
            value = len(value)
        elif isinstance(value, list):
            value = value[int(part)]
        else:
            value = value[part]
    return value


_WHOLE = re.compile(r"^\$([A-Za-z_][\w.]*)$")
_INSIDE = re.compile(r"\$\{([A-Za-z_][\w.]*)\}")


def substitute(value: Any, lookup: Any) -> Any:
    """``"$added.results.0.id"`` -> the kept value (any type); ``"${user}-note"`` -> text with it inside."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            return lookup(whole.group(1))
        return _INSIDE.sub(lambda match: str(lookup(match.group(1))), value)
    if isinstance(value, list):
        return [substitute(item, lookup) for item in value]
    if isinstance(value, dict):
        return {substitute(key, lookup): substitute(item, lookup) for key, item in value.items()}
    return value


def scenarios(sdks: tuple[NpmSdk, ...]) -> list[Any]:
    """The data scenarios of each npm SDK (those applying to its version), as the guard's :class:`Scenario`."""
    from conformance.sdk.scenarios import Scenario

    found = []
    for sdk in sdks:
        for data in scenario_data().get(sdk.package, []):
            if applies(data, sdk.version):
                found.append(Scenario(sdk.name, data["call"], data["expectation"], data["source"],
                                      _runner_of(data, sdk), needs=tuple(data.get("needs", ()))))
    return found


def _runner_of(data: Mapping[str, Any], sdk: NpmSdk) -> Any:
    return lambda ctx: interpret(data, ctx, ctx.npm[sdk.name])
