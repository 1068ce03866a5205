"""Where the suite's expectations come from, and the refusal check that several modules share.

The FACTS.md headings several modules cite (the long ones named once here), the source of the
round trip's ≈ (ROUNDTRIP.md, about the dump), and :func:`refused`: a 4xx with exactly the
documented status and an error body.

Immutability is a contract of the vendored (2025-07) documents, never discovered away; newer
published Mem0 documents no longer show ``immutable`` in the memory objects of answers (FACTS.md
"Upstream drift"). So a memory that leaves the field out agrees that it is immutable
(:func:`shows_immutable`), and a failure of the behaviour (an update let through, the memory
changed) says that the documents drifted (:data:`IMMUTABLE_FADING`, :func:`fading`,
:func:`refused_update`), so that the user can record a deviation.
"""

from __future__ import annotations

from typing import Any

import httpx

from conformance.suite.support import expect, expect_error
from conformance.verdicts import ContractViolation, Source, operation_source

FILTERS = "List/search filters (v2/v3)"
KLAVIS = "Klavis mem0 sandbox API (`Authorization: Bearer <key>`)"
MAPPING = "Mem0Memory field mapping (Klavis name, default → Mem0 name)"
DUMP = "GET /sandbox/mem0/{sandbox_id}/dump"
ROUNDTRIP = "dump(initialize(x)) ≈ x (ROUNDTRIP.md)"
IMMUTABLE_FADING = ("(newer published Mem0 documents no longer show `immutable` in answers; if this target follows "
                    "them, record a deviation in the target file)")


def roundtrip_source() -> Source:
    """The round trip's source: the dump operation and FACTS.md's "the same format used for
    initialization" (the ≈ itself is ROUNDTRIP.md's, which ``documented`` names)."""
    return operation_source(DUMP, fact=KLAVIS)


def refused(response: httpx.Response, status: int, *, what: str, source: Source | None = None) -> Any:
    """The body of a refusal with exactly ``status`` and a non-empty error body; else a
    ContractViolation (critical when the request went through, blocker on a 5xx)."""
    __tracebackhide__ = True
    body = expect_error(response, what=what, source=source)
    expect(response, status, what=what, source=source)
    return body


def shows_immutable(memory: dict[str, Any]) -> bool:
    """Whether a memory added immutable agrees that it is: ``immutable: true``, or no ``immutable``
    at all (newer published documents leave it out of answers); any other value disagrees."""
    return memory.get("immutable", True) is True


def fading(documented: Any) -> str:
    """The ``documented`` side of an immutability failure, followed by :data:`IMMUTABLE_FADING`
    (the value shortened first, so that a failure shows the note whole)."""
    text = documented if isinstance(documented, str) else repr(documented)
    return f"{text if len(text) <= 300 else text[:300] + '…'} {IMMUTABLE_FADING}"


def refused_update(response: httpx.Response, *, what: str, source: Source | None = None) -> Any:
    """:func:`expect_error` for an update of an immutable memory; an update let through (a 2xx)
    fails with :data:`IMMUTABLE_FADING` on its documented side."""
    __tracebackhide__ = True
    try:
        return expect_error(response, what=what, source=source)
    except ContractViolation as violation:
        if not response.is_success:
            raise
        raise ContractViolation(violation.title, received=violation.received, documented=fading(violation.documented),
                                source=violation.source, severity=violation.severity,
                                request=violation.request) from None
