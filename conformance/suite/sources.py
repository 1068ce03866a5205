"""Where the suite's expectations come from, and the refusal check that several modules share.

The FACTS.md headings several modules cite (the long ones named once here), the source of the
round trip's ≈ (ROUNDTRIP.md, about the dump), and :func:`refused`: a 4xx with exactly the
documented status and an error body.
"""

from __future__ import annotations

from typing import Any

import httpx

from conformance.suite.support import expect, expect_error
from conformance.verdicts import Source, operation_source

FILTERS = "List/search filters (v2/v3)"
KLAVIS = "Klavis mem0 sandbox API (`Authorization: Bearer <key>`)"
MAPPING = "Mem0Memory field mapping (Klavis name, default → Mem0 name)"
DUMP = "GET /sandbox/mem0/{sandbox_id}/dump"
ROUNDTRIP = "dump(initialize(x)) ≈ x (ROUNDTRIP.md)"


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
