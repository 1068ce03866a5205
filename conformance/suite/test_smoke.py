"""The target answers both APIs with the key it was given (the preflight, as tests)."""

from __future__ import annotations

import pytest

from conformance.suite.sources import KLAVIS
from conformance.suite.support import expect
from conformance.verdicts import Severity, fact, require

pytestmark = [pytest.mark.contract("Basics")]


@pytest.mark.requires("mem0", "ping")
def test_mem0_ping_names_the_key_s_organization_and_project(mem0):
    """GET /v1/ping/ answers 200 with status "ok" and the key's org_id and project_id."""
    source = fact("GET /v1/ping/", "GET /v1/ping/")
    body = expect(mem0.get("/v1/ping/"), 200, source=source)
    documented = '{status: "ok", org_id, project_id, user_email}'
    require(isinstance(body, dict) and body.get("status") == "ok",
            f"GET /v1/ping/ answers status {body.get('status') if isinstance(body, dict) else None!r}, not \"ok\"",
            received=body, documented=documented, source=source)
    require(body.get("org_id") and body.get("project_id"), "GET /v1/ping/ names no organization or no project",
            received=body, documented=f"{documented}; the mem0ai SDK refuses a key without org_id and project_id",
            source=source, severity=Severity.BLOCKER)


@pytest.mark.requires("klavis")
def test_klavis_lists_sandboxes(klavis):
    """GET /sandbox answers 200 with a sandboxes list and a total_count of at least its length."""
    source = fact(KLAVIS, "GET /sandbox")
    body = expect(klavis.get("/sandbox"), 200, source=source)
    sandboxes = body.get("sandboxes") if isinstance(body, dict) else None
    require(isinstance(sandboxes, list), "GET /sandbox answers no sandboxes list", received=body,
            documented="{sandboxes: [...], total_count}", source=source)
    total = body.get("total_count")
    require(isinstance(total, int) and total >= len(sandboxes),
            f"GET /sandbox lists {len(sandboxes)} sandboxes with total_count {total!r}",
            received={"sandboxes": len(sandboxes), "total_count": total},
            documented="total_count: an integer, at least the number of sandboxes listed", source=source)
