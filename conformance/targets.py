"""What the suite tests: a target, built from a TOML file, the environment and options.

Precedence, lowest first: the target file, then environment variables, then command-line
options. Secrets are never written in a target file: a value ``"${NAME}"`` is read from the
environment variable NAME when the target is built. A missing or malformed setting stops the
run with one sentence naming it (:class:`TargetError`).

A target file::

    name = "mem0-cloud"
    shared_data = true             # pinned: Klavis sandboxes and Mem0 memories are one store
    allow_destructive = false      # unscoped delete-all, org/project deletion, member removal

    [mem0]
    url = "https://api.mem0.ai"
    key = "${MEM0_API_KEY}"
    timeout = 30                   # seconds per request
    rate_limit = "60/m"            # requests per second/minute/hour, or omitted
    consistency_wait = 30          # seconds to wait for queued work to become visible
    capabilities = ["v3", "webhooks"]   # pinned: missing ones fail (the preflight discovers the rest)

    [[deviations]]                 # expectations this target is known to break: strict xfails
    test = "test_immutability.py::test_batch_update_is_refused"
    reason = "the platform answers 200 and ignores immutable items (support ticket 1234)"
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from conformance.apis import API_NAMES, APIS, KLAVIS, MEM0, PINNABLE

KEY_VARIABLES = {name: api.key_variable for name, api in APIS.items()}
URL_VARIABLES = {name: api.url_variable for name, api in APIS.items()}
_RATE = re.compile(r"^\d+/(s|m|h)$")
_SECRET = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class TargetError(ValueError):
    """A target cannot be built; the message is one sentence naming the setting."""


@dataclass(frozen=True)
class ApiTarget:
    """One API of a target. ``key`` never appears in ``repr`` or in reports."""

    api: str
    url: str
    key: str = field(repr=False)
    timeout: float = 30.0
    rate_limit: str | None = None
    consistency_wait: float = 10.0
    capabilities: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Deviation:
    """An expectation a target is known to break; it becomes a strict xfail."""

    test: str
    reason: str


@dataclass(frozen=True)
class Target:
    name: str
    mem0: ApiTarget | None = None
    klavis: ApiTarget | None = None
    shared_data: bool = False
    allow_destructive: bool = False
    deviations: tuple[Deviation, ...] = ()
    embedded: bool = False  # the reference server this run started itself

    def api(self, name: str) -> ApiTarget | None:
        return self.mem0 if name == "mem0" else self.klavis

    def to_wire(self) -> dict[str, Any]:
        """Plain data (keys included) to hand the resolved target to an xdist worker; never written to disk."""
        return json.loads(json.dumps(asdict(self), default=sorted))  # frozensets as lists

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Target:
        apis = {name: ApiTarget(**{**data[name], "capabilities": frozenset(data[name]["capabilities"])})
                for name in API_NAMES if data.get(name)}
        return cls(**{**data, **apis, "deviations": tuple(Deviation(**d) for d in data["deviations"])}
                   | {name: apis.get(name) for name in API_NAMES})


_WORDS = {str: "a string", int: "a number", float: "a number", bool: "true or false", list: "a list", dict: "a table"}


def _expect(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        raise TargetError(f"{where} must be {' or '.join(dict.fromkeys(_WORDS[k] for k in kinds))}, not {value!r}")
    return value


def _secret(value: str, where: str, environ: Mapping[str, str]) -> str:
    match = _SECRET.match(value)
    if match is None:
        raise TargetError(f'{where} must name an environment variable as "${{NAME}}", never hold the key itself')
    name = match.group(1)
    if not environ.get(name):
        raise TargetError(f"{where} needs the environment variable {name}, which is not set")
    return environ[name]


def _url(value: Any, where: str) -> str:
    url = _expect(value, str, where).rstrip("/")
    if not re.match(r"^https?://[^\s/]+", url):
        raise TargetError(f"{where} must be an http(s) URL, not {value!r}")
    return url


def _api(name: str, raw: Mapping[str, Any], environ: Mapping[str, str], where: str) -> ApiTarget:
    known = {"url", "key", "timeout", "rate_limit", "consistency_wait", "capabilities"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise TargetError(f"{where} has unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
    if "url" not in raw:
        raise TargetError(f"{where}.url is missing")
    key = _secret(_expect(raw.get("key", f"${{{KEY_VARIABLES[name]}}}"), str, f"{where}.key"), f"{where}.key", environ)
    rate = raw.get("rate_limit")
    if rate is not None and not _RATE.match(_expect(rate, str, f"{where}.rate_limit")):
        raise TargetError(f"{where}.rate_limit must look like '60/m' (per s, m or h), not {rate!r}")
    timeout = float(_expect(raw.get("timeout", 30), (int, float), f"{where}.timeout"))
    wait = float(_expect(raw.get("consistency_wait", 10), (int, float), f"{where}.consistency_wait"))
    if timeout <= 0 or wait < 0:
        raise TargetError(f"{where}.timeout must be positive and {where}.consistency_wait not negative")
    capabilities = _expect(raw.get("capabilities", []), list, f"{where}.capabilities")

    for capability in capabilities:
        if _expect(capability, str, f"{where}.capabilities") not in PINNABLE[name]:
            known = ", ".join(sorted(PINNABLE[name])) or "none"
            raise TargetError(f"{where}.capabilities names {capability!r}, which is not a capability of {name} (known: {known})")
    return ApiTarget(name, _url(raw["url"], f"{where}.url"), key, timeout, rate, wait,
                     frozenset(_expect(c, str, f"{where}.capabilities") for c in capabilities))


def from_mapping(raw: Mapping[str, Any], *, source: str, environ: Mapping[str, str] = os.environ) -> Target:
    """A target from parsed TOML; ``source`` names it in error messages."""
    known = {"name", "shared_data", "allow_destructive", "deviations", *API_NAMES}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise TargetError(f"{source} has unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
    apis = {
        name: _api(name, _expect(raw[name], dict, f"{source}: [{name}]"), environ, f"{source}: {name}")
        for name in API_NAMES
        if name in raw
    }
    if not apis:
        raise TargetError(f"{source} configures neither [mem0] nor [klavis]")
    deviations = tuple(
        Deviation(
            _expect(d.get("test"), str, f"{source}: deviations[{i}].test"),
            _expect(d.get("reason"), str, f"{source}: deviations[{i}].reason"),
        )
        for i, d in enumerate(_expect(raw.get("deviations", []), list, f"{source}: deviations"))
    )
    if any(not d.reason.strip() for d in deviations):
        raise TargetError(f"{source}: every deviation needs a reason")
    return Target(
        name=_expect(raw.get("name", Path(source).stem), str, f"{source}: name"),
        mem0=apis.get("mem0"),
        klavis=apis.get("klavis"),
        shared_data=_expect(raw.get("shared_data", False), bool, f"{source}: shared_data"),
        allow_destructive=_expect(raw.get("allow_destructive", False), bool, f"{source}: allow_destructive"),
        deviations=deviations,
    )


def load(path: Path, *, environ: Mapping[str, str] = os.environ) -> Target:
    """A target from a TOML file."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise TargetError(f"target file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"target file {path} is not valid TOML: {exc}") from None
    return from_mapping(raw, source=path.name, environ=environ)


def resolve(
    *,
    target_file: Path | None = None,
    mem0_url: str | None = None,
    klavis_url: str | None = None,
    allow_destructive: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> Target | None:
    """The target of a run, or None when nothing names one (the run then serves its own).

    File first, then ``MEM0_CONFORMANCE_<API>_URL``, then the URL options. A URL given without
    a file takes its key from ``MEM0_API_KEY`` / ``KLAVIS_API_KEY``.
    """
    target = load(target_file, environ=environ) if target_file else None
    urls = {api: environ.get(URL_VARIABLES[api]) or None for api in API_NAMES}
    urls.update({api: url for api, url in (("mem0", mem0_url), ("klavis", klavis_url)) if url})
    if target is None and not any(urls.values()):
        return None
    target = target or Target(name="command line")
    for api, url in urls.items():
        if url:
            current = target.api(api)
            if current is None:
                key = _secret(f"${{{KEY_VARIABLES[api]}}}", f"--{api}-url", environ)
                current = ApiTarget(api, _url(url, f"--{api}-url"), key)
            target = replace(target, **{api: replace(current, url=_url(url, f"--{api}-url"))})
    return replace(target, allow_destructive=target.allow_destructive or allow_destructive)


def embedded(url: str) -> Target:
    """The reference server a run starts for itself: both APIs, shared data, destructive allowed."""
    return Target(
        name="reference server",
        mem0=ApiTarget("mem0", url, MEM0.reference_key, consistency_wait=2.0,
                       capabilities=frozenset({"ping", "v3", "events", "webhooks", "profiles"})),
        klavis=ApiTarget("klavis", url, KLAVIS.reference_key, consistency_wait=2.0),
        shared_data=True,
        allow_destructive=True,
        embedded=True,
    )
