"""What differs between SDK versions, as data: the scenarios read it instead of branching on versions.

One :class:`Release` describes a range of versions of one SDK: its constructor's arguments (and the
ones a previous range accepted that it refuses), the operation each call sends, the shape each
call returns, and how it treats entity ids given at the top level. A scenario asks
``release.sends["add"]`` or ``release.shapes["search"]`` and states its expectation from that;
the guard reports as drift a call that sent something other than its row says, so the table is
checked on every run and a new SDK version that changes paths shows up at once.

Sources: the SDKs' own code (mem0ai 1.0.11 and 2.2.1, klavis 2.17.0 to 2.20.0), read in 2026-11, and
the regressions users reported when upgrading (FACTS.md, "Upstream drift since the seeds").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

RESULTS = "results"  # {"results": [...]}
PAGE = "page"  # {"count", "next", "previous", "results"}
LIST = "list"  # a bare JSON array

SENT, REFUSED = "sent", "refused"  # entity ids at the top level: sent as they are, or refused by the SDK itself


def _frozen(mapping: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(mapping)


@dataclass(frozen=True)
class Release:
    sdk: str
    since: str  # the first version the row describes
    until: str | None  # the first version it no longer describes (None: the newest known)
    constructor: tuple[str, ...] = ()  # the client's constructor keyword arguments the guard checks
    removed: tuple[str, ...] = ()  # constructor arguments an older range accepted and this one refuses (TypeError)
    sends: Mapping[str, str] = field(default_factory=lambda: _frozen({}))  # SDK call -> the operation it sends
    shapes: Mapping[str, str] = field(default_factory=lambda: _frozen({}))  # SDK call -> what it returns
    top_level_ids: str | None = None  # what get_all/search do with user_id=... given at the top level
    documented_ids: str = "filters"  # how the SDK's documentation passes entity ids to get_all/search
    names: Mapping[str, str] = field(default_factory=lambda: _frozen({}))  # argument and field names that changed

    def covers(self, version: str) -> bool:
        return _key(self.since) <= _key(version) and (self.until is None or _key(version) < _key(self.until))

    @property
    def label(self) -> str:
        return f"{self.sdk} {self.since}" + (f" to before {self.until}" if self.until else " and later")


_KLAVIS_SENDS = _frozen({"create_sandbox": "POST /sandbox/mem0",
                         "initialize_mem0sandbox": "POST /sandbox/mem0/{sandbox_id}/initialize",
                         "dump_mem0sandbox": "GET /sandbox/mem0/{sandbox_id}/dump",
                         "reset_sandbox": "POST /sandbox/mem0/{sandbox_id}/reset",
                         "delete_sandbox": "DELETE /sandbox/mem0/{sandbox_id}",
                         "get_sandbox": "GET /sandbox/mem0/{sandbox_id}"})
# initialize: the keyword carrying the items ("request": a Mem0DataInput); items: the list's name in that
# input and in the dump; messages, infer, background, text: an item's fields; default_data: the flag, if any
_KLAVIS_NAMES = {"initialize": "memory_list", "items": "memory_list", "messages": "message_list", "infer": "auto_infer",
                 "background": "background_processing", "text": "content_text", "default_data": ""}

RELEASES: tuple[Release, ...] = (
    Release(
        "mem0ai", "1.0", "2.0",
        constructor=("api_key", "host", "org_id", "project_id", "client"),
        sends=_frozen({"add": "POST /v1/memories/", "get_all": "POST /v2/memories/",
                       "search": "POST /v2/memories/search/", "get": "GET /v1/memories/{memory_id}/",
                       "history": "GET /v1/memories/{memory_id}/history/", "feedback": "POST /v1/feedback/"}),
        # v2 list and search answer a bare array; 1.0.x wraps it in {"results": [...]}
        shapes=_frozen({"get_all": RESULTS, "search": RESULTS}),
        top_level_ids=SENT, documented_ids="top-level",
    ),
    Release(
        "mem0ai", "2.0", None,
        constructor=("api_key", "host", "client"), removed=("org_id", "project_id"),
        sends=_frozen({"add": "POST /v3/memories/add/", "get_all": "POST /v3/memories/",
                       "search": "POST /v3/memories/search/", "get": "GET /v1/memories/{memory_id}/",
                       "history": "GET /v1/memories/{memory_id}/history/", "feedback": "POST /v1/feedback/",
                       # the memory profiles API (2.2; older 2.x releases have no such methods)
                       "get_profile": "GET /v2/entities/user/{entity_id}/profile/",
                       "generate_profile": "POST /v2/profiles/jobs/", "sample_profiles": "POST /v2/profiles/jobs/",
                       "get_profile_job": "GET /v2/profiles/jobs/{job_id}/",
                       "get_profile_settings": "GET /v2/profiles/settings/",
                       "update_profile_settings": "POST /v2/profiles/settings/"}),
        # 2.x returns the answer as it comes: the v3 list's page, the v3 search's {"results": [...]}
        shapes=_frozen({"get_all": PAGE, "search": RESULTS}),
        top_level_ids=REFUSED,
    ),
    # klavis: the same calls; the mem0 sandbox's initialize arguments and item fields were renamed twice.
    # 2.17 and 2.18 use Mem0's own field names (messages, infer, async_mode, memory), which the Klavis
    # document does not have. Up to 2.19 the acquire answer's model requires server_url, which the
    # document does not declare (the guard reports it as a disagreement of SDK and document).
    Release("klavis", "2.17", "2.19", sends=_KLAVIS_SENDS, names=_frozen({
        "initialize": "memories", "items": "memories", "messages": "messages", "infer": "infer",
        "background": "async_mode", "text": "memory", "default_data": ""})),
    Release("klavis", "2.19", "2.20", sends=_KLAVIS_SENDS, names=_frozen(_KLAVIS_NAMES)),
    Release("klavis", "2.20", None, sends=_KLAVIS_SENDS,
            names=_frozen({**_KLAVIS_NAMES, "initialize": "request", "default_data": "init_default_data"})),
)


# Public calls of a guarded SDK that no scenario drives on purpose, by method name, with the reason (the SDK
# surface coverage in the summary lists every other call not driven as a gap).
NOT_DRIVEN: Mapping[str, Mapping[str, str]] = _frozen({
    "mem0ai": _frozen({
        "chat": "raises NotImplementedError before any request: it reaches no API",
        "reset": "deletes every memory and user of the project: no run may, since the target is shared",
    }),
    "klavis": _frozen({}),
})
# How a call is recorded (calls.py: the class of the object it was called on) -> its name in the SDK's surface.
_RECORDED = {"klavis": (("SandboxClient.", "Klavis.sandbox."), ("AsyncSandboxClient.", "AsyncKlavis.sandbox."))}


def surface_name(sdk: str, method: str) -> str:
    """A recorded call's name in the SDK's surface (klavis's ``SandboxClient.x`` is ``Klavis.sandbox.x``)."""
    for recorded, shown in _RECORDED.get(sdk, ()):
        if method.startswith(recorded):
            return shown + method.removeprefix(recorded)
    return method


def not_driven(sdk: str, calls: Mapping[str, Any]) -> dict[str, str]:
    """The public calls of ``calls`` (an SDK's surface) that no scenario drives on purpose, with the reason."""
    reasons = NOT_DRIVEN.get(sdk, {})
    return {name: reasons[name.rsplit(".", 1)[-1]] for name in sorted(calls)
            if "." in name and name.rsplit(".", 1)[-1] in reasons}


class UnknownRelease(LookupError):
    pass


def release(sdk: str, version: str) -> Release:
    """The row describing ``sdk`` at ``version``."""
    for row in RELEASES:
        if row.sdk == sdk and row.covers(version):
            return row
    known = ", ".join(row.label for row in RELEASES if row.sdk == sdk)
    raise UnknownRelease(f"{sdk} {version} is not described in conformance/sdk/versions.py (known: {known})")


def _key(version: str) -> tuple[int, ...]:
    """``2.20.0`` -> (2, 20, 0); a pre-release suffix (``2.0.0rc1``) ends the numbers."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def unlike(releases: Mapping[str, Release], calls: list[Any]) -> list[str]:
    """Calls that sent another operation than their row says (drift of the table, or of the SDK)."""
    from urllib.parse import urlsplit

    from conformance.specs import find_operation

    found = []
    for call in calls:
        row = releases.get(call.sdk)
        expected = row.sends.get(call.method.rsplit(".", 1)[-1]) if row else None
        if expected is None or not call.exchanges:
            continue
        sent = []
        for exchange in call.exchanges:
            operation = find_operation(exchange.method, urlsplit(exchange.url).path)
            sent.append(operation.label if operation else f"{exchange.method} {urlsplit(exchange.url).path}")
        if expected not in sent:
            found.append(f"{call.method} sent {', '.join(sent)}, where conformance/sdk/versions.py "
                         f"({row.label}) says {expected}")
    return found


_SURFACE = {
    "mem0ai": ("mem0", ("MemoryClient", "AsyncMemoryClient")),
    "klavis": ("klavis", ("Klavis", "AsyncKlavis")),
}
_KLAVIS_CALLS = ("create_sandbox", "get_sandbox", "delete_sandbox", "reset_sandbox", "list_sandboxes")


def surface(sdk: str) -> dict[str, list[str]]:
    """The installed SDK's public calls and their parameters: ``{"MemoryClient": ["api_key", ...],
    "MemoryClient.add": ["messages", "options", "**kwargs"], ...}`` (klavis: its clients and their
    sandbox calls for mem0 and for sandboxes in general, not the other services')."""
    import importlib
    import inspect

    module_name, classes = _SURFACE[sdk]
    module = importlib.import_module(module_name)
    found: dict[str, list[str]] = {}
    for class_name in classes:
        cls = getattr(module, class_name, None)
        if cls is None:
            continue
        found[class_name] = _parameters(cls.__init__)
        members = dict(inspect.getmembers(cls, inspect.isfunction))
        if sdk == "klavis":  # the calls sit on the sandbox client each client makes
            holder = getattr(importlib.import_module("klavis.sandbox.client"),
                             "AsyncSandboxClient" if class_name.startswith("Async") else "SandboxClient", None)
            members = {f"sandbox.{name}": function for name, function in inspect.getmembers(holder, inspect.isfunction)
                       if name in _KLAVIS_CALLS or "mem0" in name} if holder else {}
        for name, function in sorted(members.items()):
            if not name.split(".")[-1].startswith("_"):
                found[f"{class_name}.{name}"] = _parameters(function)
    return found


def _parameters(function: Any) -> list[str]:
    import inspect

    shown = []
    for parameter in list(inspect.signature(function).parameters.values())[1:]:  # not self
        prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}.get(parameter.kind, "")
        shown.append(prefix + parameter.name)
    return shown
