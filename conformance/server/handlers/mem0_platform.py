"""The Mem0 platform operations around the memory core.

This module answers the key check (``GET /v1/ping/``) and imports the modules that register
the rest, so that importing it registers every platform handler and fault:

- :mod:`mem0_entities`: users, agents, apps and runs (create, list, read, delete v1/v2);
- :mod:`mem0_activity`: events, memory events, statistics, feedback;
- :mod:`mem0_exports`: memory exports and summaries (filters: :mod:`conformance.server.filters`);
- :mod:`mem0_orgs`, :mod:`mem0_projects`, :mod:`mem0_webhooks`: the account model
  (:mod:`mem0_account`): organizations, projects, members and webhooks.
"""

from __future__ import annotations

from conformance.server import faults
from conformance.server.handlers import (  # noqa: F401  (registration)
    mem0_activity,
    mem0_entities,
    mem0_exports,
    mem0_orgs,
    mem0_projects,
    mem0_webhooks,
)
from conformance.server.registry import Call, Reply, handles

PING_MISSING_PROJECT_ID = faults.declare(
    "ping-missing-project-id", "shapes",
    "GET /v1/ping/ omits project_id, so the SDK cannot learn its project (and refuses to construct).",
)


@handles("ping_read")
def ping(call: Call) -> Reply:
    """``{status: "ok", org_id, project_id, user_email}`` for the key's account (FACTS.md)."""
    answer = {
        "status": "ok",
        "org_id": call.settings.org_id,
        "project_id": call.settings.project_id,
        "user_email": call.settings.user_email,
    }
    if call.fault(PING_MISSING_PROJECT_ID):
        del answer["project_id"]
    return Reply(200, answer)
