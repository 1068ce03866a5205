"""The target answers both APIs with the key it was given (the preflight, as tests)."""

from __future__ import annotations

import pytest

from conformance.suite.support import expect


@pytest.mark.requires("mem0")
def test_mem0_ping_names_the_key_s_organization_and_project(mem0):
    body = expect(mem0.get("/v1/ping/"), 200)
    assert body["status"] == "ok"
    assert body["org_id"] and body["project_id"]


@pytest.mark.requires("klavis")
def test_klavis_lists_sandboxes(klavis):
    body = expect(klavis.get("/sandbox"), 200)
    assert isinstance(body["sandboxes"], list) and body["total_count"] >= len(body["sandboxes"])
