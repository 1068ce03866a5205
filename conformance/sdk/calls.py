"""One record per SDK call: which method, with what (keys redacted), the exchanges it made, how long, how it ended.

A scenario's clients are wrapped in :class:`Watched`: every public method called on them (and on
the objects they hand out, such as ``Klavis().sandbox``) becomes a :class:`SdkCall` in the scenario's
:class:`CallLog`, and an Allure step of its own with the call's exchanges attached. Calls the SDK
makes internally (a method calling another on ``self``) are not recorded twice: they run on the
real object. Asynchronous methods are awaited inside their record.
"""

from __future__ import annotations

import inspect
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from conformance.apis import APIS, REDACTED
from conformance.client import Exchange, Recorder

SECRET_ARGUMENTS = frozenset({"api_key", "key", "token", "authorization"})
_SDK_MODULES = ("mem0", "klavis")


@dataclass
class SdkCall:
    sdk: str
    version: str
    method: str  # "MemoryClient.add", "SandboxClient.dump_mem0sandbox"
    arguments: str  # as written: "'I keep bees', user_id='mct-3f-u1', infer=False"; keys redacted
    exchanges: list[Exchange] = field(default_factory=list)
    duration: float = 0.0
    error: BaseException | None = None
    first: int = 0  # the recorder's length when the call began: its exchanges follow

    @property
    def name(self) -> str:
        return f"{self.method}({self.arguments})"

    @property
    def outcome(self) -> str:
        return "returned" if self.error is None else f"raised {type(self.error).__name__}: {str(self.error)[:300]}"

    def where(self) -> str:
        """Where inside the SDK the call raised: ``mem0/client/main.py:812 in feedback``."""
        if self.error is None:
            return ""
        if getattr(self.error, "at", None):  # an npm SDK's call: where the runner saw it throw
            return str(self.error.at)
        frames = [frame for frame in traceback.extract_tb(self.error.__traceback__)
                  if any(f"{sep}{module}{sep}" in frame.filename for module in _SDK_MODULES for sep in ("/", "\\"))]
        if not frames:
            return ""
        last = frames[-1]
        parts = PurePath(last.filename).parts
        start = max(i for i, part in enumerate(parts) if part in _SDK_MODULES)
        return f"{'/'.join(parts[start:])}:{last.lineno} in {last.name}"

    def record(self) -> dict[str, Any]:
        """The call as one JSON object (for the traffic file beside the results)."""
        return {"method": self.method, "arguments": self.arguments, "duration": round(self.duration, 4),
                "exchanges": [f"{e.method} {e.url} -> {e.status if e.status is not None else e.error}"
                              for e in self.exchanges],
                "outcome": self.outcome}

    def render(self) -> str:
        head = [f"{self.sdk} {self.version}: {self.name}", f"duration: {self.duration:.3f}s", f"outcome: {self.outcome}"]
        if self.where():
            head.append(f"raised at: {self.where()}")
        return "\n".join(head) + "\n\n" + ("\n\n".join(e.render() for e in self.exchanges) or "(no HTTP exchange)")


class CallLog:
    """The calls of one scenario, in order; exchanges are taken from the recorder as each call ends."""

    def __init__(self, recorder: Recorder, version_of: Callable[[str], str], *,
                 step: Callable[[SdkCall], Any] | None = None) -> None:
        self.recorder, self.version_of = recorder, version_of
        self.calls: list[SdkCall] = []
        self._step = step  # opens a report step around a call (Allure's), or None

    def watch(self, obj: Any, sdk: str, name: str | None = None) -> Any:
        return Watched(obj, name or type(obj).__name__, sdk, self)

    def construct(self, cls: type, sdk: str, **arguments: Any) -> Any:
        """``cls(**arguments)`` recorded as a call (SDK clients that ping when constructed), the result watched."""
        return self.watch(self.invoke(sdk, cls.__name__, cls, (), arguments), sdk, cls.__name__)

    def invoke(self, sdk: str, method: str, function: Callable[..., Any], args: tuple, kwargs: dict[str, Any], *,
               shown: str | None = None) -> Any:
        """``function(*args, **kwargs)`` recorded as ``method``; ``shown``: the arguments as the caller wrote
        them, when they are not Python's (an npm SDK's call, made through the Node.js runner)."""
        call, started = self._begin(sdk, method, args, kwargs, shown)
        with self._stepping(call):
            try:
                return function(*args, **kwargs)
            except BaseException as exc:
                call.error = exc
                raise
            finally:
                self._end(call, started)

    async def invoke_async(self, sdk: str, method: str, function: Callable[..., Any], args: tuple,
                           kwargs: dict[str, Any]) -> Any:
        call, started = self._begin(sdk, method, args, kwargs)
        with self._stepping(call):
            try:
                return await function(*args, **kwargs)
            except BaseException as exc:
                call.error = exc
                raise
            finally:
                self._end(call, started)

    def last(self, method: str) -> SdkCall:
        """The latest call of ``method`` (its last dotted part: ``"add"``)."""
        return next(call for call in reversed(self.calls) if call.method.rsplit(".", 1)[-1] == method)

    def failing(self) -> SdkCall | None:
        """The call that raised last, if one did."""
        return next((call for call in reversed(self.calls) if call.error is not None), None)

    def _begin(self, sdk: str, method: str, args: tuple, kwargs: dict[str, Any],
               shown: str | None = None) -> tuple[SdkCall, float]:
        call = SdkCall(sdk, self.version_of(sdk), method, arguments(args, kwargs) if shown is None else shown)
        call.first = len(self.recorder)
        self.calls.append(call)
        return call, time.monotonic()

    def _end(self, call: SdkCall, started: float) -> None:
        call.duration = time.monotonic() - started
        call.exchanges = list(self.recorder)[call.first:]

    def _stepping(self, call: SdkCall):
        from contextlib import nullcontext

        return self._step(call) if self._step is not None else nullcontext()


class Watched:
    """An SDK object whose public method calls are recorded in a :class:`CallLog`."""

    def __init__(self, target: Any, name: str, sdk: str, log: CallLog) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_sdk", sdk)
        object.__setattr__(self, "_log", log)

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._target, attribute)
        if attribute.startswith("_"):
            return value
        method = f"{self._name}.{attribute}"
        if inspect.iscoroutinefunction(value):
            async def recorded(*args: Any, **kwargs: Any) -> Any:
                return await self._log.invoke_async(self._sdk, method, value, args, kwargs)
            return recorded
        if inspect.ismethod(value) or inspect.isfunction(value):
            return lambda *args, **kwargs: self._log.invoke(self._sdk, method, value, args, kwargs)
        if type(value).__module__.split(".")[0] in _SDK_MODULES and not isinstance(value, (str, int, float, bool)):
            return Watched(value, type(value).__name__, self._sdk, self._log)
        return value

    def __setattr__(self, attribute: str, value: Any) -> None:
        setattr(self._target, attribute, value)


def arguments(args: tuple, kwargs: dict[str, Any]) -> str:
    """The arguments as a caller writes them, each value shortened, secret ones redacted."""
    shown = [_short(value) for value in args]
    shown += [f"{name}={REDACTED if name.lower() in SECRET_ARGUMENTS else _short(value)}"
              for name, value in kwargs.items()]
    return ", ".join(shown)


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    if text.startswith("<") and " object at 0x" in text:  # an httpx client and the like: its type says enough
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# How a reader makes each SDK object the guard calls, the key read from its environment variable.
_MAKERS = {
    "MemoryClient": ("from mem0 import MemoryClient", "MemoryClient(api_key=os.environ['MEM0_API_KEY'], host={url!r})"),
    "AsyncMemoryClient": ("from mem0 import AsyncMemoryClient",
                          "AsyncMemoryClient(api_key=os.environ['MEM0_API_KEY'], host={url!r})"),
    "SandboxClient": ("from klavis import Klavis", "Klavis(api_key=os.environ['KLAVIS_API_KEY'], base_url={url!r}).sandbox"),
    "AsyncSandboxClient": ("from klavis import AsyncKlavis",
                           "AsyncKlavis(api_key=os.environ['KLAVIS_API_KEY'], base_url={url!r}).sandbox"),
}
_CLIENT_ARGUMENTS = ("client=", "httpx_client=", "api_key=", "host=", "base_url=")


_NODE_MAKERS = {
    "npm:mem0ai": ("MemoryClient", "new MemoryClient({{apiKey: process.env.{variable}, host: {url}}})", "mem0"),
    "npm:klavis": ("KlavisClient", "new KlavisClient({{apiKey: process.env.{variable}, baseUrl: {url}}})", "klavis"),
}


def reproducer(call: SdkCall, url: str) -> str:
    """A few lines that make the same SDK call against ``url`` (the SDK version pinned, the key from
    its environment variable, never printed)."""
    if call.sdk in _NODE_MAKERS:
        return _node_reproducer(call, url)
    owner, _, method = call.method.rpartition(".")
    owner = owner or method
    if owner not in _MAKERS:
        return f"pip install '{call.sdk}=={call.version}', then call {call.name}"
    imports, maker = _MAKERS[owner]
    made = maker.format(url=url)
    if owner == method:  # the constructor itself
        extra = [part for part in call.arguments.split(", ") if part and not part.startswith(_CLIENT_ARGUMENTS)]
        expression = made[:-1] + "".join(f", {part}" for part in extra) + ")" if extra else made
    else:
        expression = f"{made}.{method}({call.arguments})"
    if owner.startswith("Async") and owner != method:
        expression = f"asyncio.run({expression})"
    return (f"pip install '{call.sdk}=={call.version}'; python -c \"import asyncio, os; {imports}; "
            f"print({expression})\"")


def _node_reproducer(call: SdkCall, url: str) -> str:
    """The same for an npm SDK: a Node.js one-liner (``fetch``: the request as a TypeScript user sends it)."""
    import json

    package = call.sdk.removeprefix("npm:")
    name, maker, api = _NODE_MAKERS[call.sdk]
    variable, scheme = APIS[api].key_variable, APIS[api].scheme
    made = maker.format(url=json.dumps(url), variable=variable)
    if call.method == "fetch":
        method, path, *body = json.loads(f"[{call.arguments}]")
        sent = f", body: JSON.stringify({json.dumps(body[0])})" if body else ""
        expression = (f"fetch({json.dumps(url + path)}, {{method: {json.dumps(method)}, headers: {{\"Content-Type\": "
                      f"\"application/json\", Authorization: \"{scheme} \" + process.env.{variable}}}{sent}}})"
                      ".then(r => r.text())")
    elif call.method == name:
        expression = f"{made}.ping ? {made}.ping() : null"
    else:
        holder, _, method = call.method.rpartition(".")
        chain = holder.removeprefix(name)  # ".sandbox" for klavis
        expression = f"{made}{chain}.{method}({call.arguments})"
    import shlex

    program = (f'const {{{name}}} = require("{package}"); '
               f"Promise.resolve({expression}).then(r => console.log(JSON.stringify(r)), e => console.error(e))")
    return f"npm install {package}@{call.version}; node -e {shlex.quote(program)}"
