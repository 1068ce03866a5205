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
    constructor: tuple[str, ...]  # the client's constructor keyword arguments
    removed: tuple[str, ...] = ()  # constructor arguments an older range accepted and this one refuses (TypeError)
    sends: Mapping[str, str] = field(default_factory=lambda: _frozen({}))  # SDK call -> the operation it sends
    shapes: Mapping[str, str] = field(default_factory=lambda: _frozen({}))  # SDK call -> what it returns
    top_level_ids: str | None = None  # what get_all/search do with user_id=... given at the top level
    documented_ids: str = "filters"  # how the SDK's documentation passes entity ids to get_all/search

    def covers(self, version: str) -> bool:
        return _key(self.since) <= _key(version) and (self.until is None or _key(version) < _key(self.until))

    @property
    def label(self) -> str:
        return f"{self.sdk} {self.since}" + (f" to before {self.until}" if self.until else " and later")


RELEASES: tuple[Release, ...] = (
    Release(
        "mem0ai", "1.0", "2.0",
        constructor=("api_key", "host", "org_id", "project_id", "client"),
        sends=_frozen({"add": "POST /v1/memories/", "get_all": "POST /v2/memories/",
                       "search": "POST /v2/memories/search/", "get": "GET /v1/memories/{memory_id}/",
                       "history": "GET /v1/memories/{memory_id}/history/", "feedback": "POST /v1/feedback/"}),
        # v2 list and search answer a bare array; 1.0.x wraps it in {"results": [...]}
        shapes=_frozen({"get_all": RESULTS, "search": RESULTS, "history": LIST}),
        top_level_ids=SENT, documented_ids="top-level",
    ),
    Release(
        "mem0ai", "2.0", None,
        constructor=("api_key", "host", "client"), removed=("org_id", "project_id"),
        sends=_frozen({"add": "POST /v3/memories/add/", "get_all": "POST /v3/memories/",
                       "search": "POST /v3/memories/search/", "get": "GET /v1/memories/{memory_id}/",
                       "history": "GET /v1/memories/{memory_id}/history/", "feedback": "POST /v1/feedback/"}),
        # 2.x returns the answer as it comes: the v3 list's page, the v3 search's {"results": [...]}
        shapes=_frozen({"get_all": PAGE, "search": RESULTS, "history": LIST}),
        top_level_ids=REFUSED,
    ),
    Release(
        "klavis", "2.17", None,  # initialize_mem0sandbox and dump_mem0sandbox exist from 2.17.0
        constructor=("base_url", "environment", "api_key", "headers", "timeout", "follow_redirects", "httpx_client"),
        sends=_frozen({"create_sandbox": "POST /sandbox/mem0",
                       "initialize_mem0sandbox": "POST /sandbox/mem0/{sandbox_id}/initialize",
                       "dump_mem0sandbox": "GET /sandbox/mem0/{sandbox_id}/dump",
                       "reset_sandbox": "POST /sandbox/mem0/{sandbox_id}/reset",
                       "delete_sandbox": "DELETE /sandbox/mem0/{sandbox_id}",
                       "get_sandbox": "GET /sandbox/mem0/{sandbox_id}"}),
    ),
)


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
    numbers = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit()) if not part.isdigit() else part
        if not digits:
            break
        numbers.append(int(digits))
        if not part.isdigit():
            break
    return tuple(numbers)


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
