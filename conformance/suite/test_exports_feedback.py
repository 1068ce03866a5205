"""Memory exports read back by id and by their filters, and feedback echoed, per memory.

Exports: ``POST /v1/exports/get`` (and ``/get/``) gets "the latest memory export" matching its
request: the one named by ``memory_export_id``, else the latest whose entity filters name the
request's entities. An export naming another organization or project holds none of the key's
memories. Feedback: each memory's feedback is a record of its own (its own id), and every submission
answers what it said. (The documents' descriptions of both operations.)
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.suite.support import eventually, expect
from conformance.verdicts import Severity, operation_source, require

pytestmark = [pytest.mark.requires("mem0")]

SCHEMA = {"type": "object", "properties": {"id": {"type": "string"}, "memory": {"type": "string"}}}
NOBODY = "00000000-0000-4000-8000-0000000000aa"  # an organization or project id that cannot exist
PENDING = ("PENDING", "RUNNING", "QUEUED", "PROCESSING", "IN_PROGRESS")


def _export(mem0, body: dict[str, Any]) -> str:
    source = operation_source("POST /v1/exports/")
    created = expect(mem0.post("/v1/exports/", json={"schema": SCHEMA, **body}), 201, source=source)
    require(isinstance(created, dict) and isinstance(created.get("id"), str), "POST /v1/exports/ answers no export id",
            received=created, documented="201 with the export's id", source=source)
    return created["id"]


def _get(mem0, path: str, body: dict[str, Any]) -> dict[str, Any]:
    source = operation_source(f"POST {path}")

    def ready() -> dict[str, Any]:
        answer = expect(mem0.post(path, json=body), 200, source=source)
        require(isinstance(answer, dict) and answer.get("status") not in PENDING and isinstance(answer.get("memories"), list),
                f"POST {path} {body} holds no memories list", received=answer,
                documented="the export with its memories, within the consistency wait", source=source)
        return answer

    return eventually(ready, within=mem0.wait, what=f"POST {path} {body}")


def _held(answer: dict[str, Any]) -> list[str]:
    return sorted(str(item.get("id")) for item in answer.get("memories") or [] if isinstance(item, dict))


EXPORTED = {"user": "user_id", "user2": "user_id", "agent": "agent_id", "app": "app_id", "run": "run_id"}


@pytest.mark.contract("Exports")
@pytest.mark.parametrize("path", ["/v1/exports/get", "/v1/exports/get/"])
def test_an_export_is_found_by_its_id_and_by_its_filters(mem0, population, path):
    """Of an export per entity (each user, the agent, the app, the run), each is found by its id and holds that
    entity's memories, and the latest of an entity's by that entity's filters (the last one made, a user's second,
    is not the one a read that ignored its filters would find for the others)."""
    made = {name: _export(mem0, {"filters": {key: population.names[name]}}) for name, key in EXPORTED.items()}
    made["user"] = _export(mem0, {"filters": {"user_id": population.names["user"]}})
    for name, export_id in made.items():
        key = EXPORTED[name]
        wanted = sorted(population.of(key, name))
        answer = _get(mem0, path, {"memory_export_id": export_id})
        require(answer.get("id", export_id) == export_id and _held(answer) == wanted,
                f"POST {path} of export {export_id} ({name}) holds {_held(answer)}", received=answer,
                documented={"id": export_id, "memories": wanted}, source=operation_source(f"POST {path}"),
                severity=Severity.CRITICAL)
        by_filters = _get(mem0, path, {"filters": {key: population.names[name]}})
        require(by_filters.get("id", export_id) == export_id and _held(by_filters) == wanted,
                f"POST {path} with the filters of {name}'s export holds {_held(by_filters)} (export "
                f"{by_filters.get('id')!r})", received=by_filters, documented={"id": export_id, "memories": wanted},
                source=operation_source(f"POST {path}"))


@pytest.mark.contract("Exports")
@pytest.mark.requires("ping")
@pytest.mark.parametrize("key", ["org_id", "project_id"])
def test_an_export_of_another_organization_holds_none_of_the_key_s_memories(mem0, population, key):
    """An export naming another organization (project) holds none of the key's memories, or is refused; reading
    the user's export naming another organization (project) finds none of it."""
    source, user = operation_source("POST /v1/exports/"), population.names["user"]
    _export(mem0, {"filters": {"user_id": user}})  # the user's export, in the key's own project
    for path in ("/v1/exports/get", "/v1/exports/get/"):
        read = mem0.post(path, json={"filters": {"user_id": user}, key: NOBODY})
        found = read.json() if read.status_code == 200 else {}
        require(400 <= read.status_code < 500 or not _held(found),
                f"POST {path} naming another {key} finds an export holding {_held(found)}", received=found,
                documented="no export of the key's project: a 4xx, or one holding none of its memories",
                source=operation_source(f"POST {path}"), severity=Severity.CRITICAL)
    response = mem0.post("/v1/exports/", json={"schema": SCHEMA, "filters": {"user_id": user}, key: NOBODY})
    if 400 <= response.status_code < 500:
        return
    created = expect(response, 201, source=source)
    answer = _get(mem0, "/v1/exports/get/", {"memory_export_id": created.get("id")})
    require(not _held(answer), f"an export naming another {key} holds {len(_held(answer))} of the key's memories",
            received=_held(answer), documented="none: the key's memories are its own project's", source=source,
            severity=Severity.CRITICAL)


@pytest.mark.contract("Feedback")
def test_feedback_is_each_memory_s_own_and_the_latest_says_what_counts(mem0, population):
    """Feedback answers what it was given, a second submission for a memory what the second said; two memories'
    feedback are two records (two ids)."""
    source = operation_source("POST /v1/feedback/")
    given = [(population.ids["tea"], "POSITIVE", "Accurate — très juste"),
             (population.ids["chess"], "NEGATIVE", "Outdated"),
             (population.ids["tea"], "VERY_NEGATIVE", None)]
    answers = []
    for memory_id, feedback, reason in given:
        answer = expect(mem0.post("/v1/feedback/", json={"memory_id": memory_id, "feedback": feedback,
                                                         "feedback_reason": reason}), 200, source=source)
        shown = {key: answer.get(key) for key in ("feedback", "feedback_reason")} if isinstance(answer, dict) else answer
        require(shown == {"feedback": feedback, "feedback_reason": reason}, f"POST /v1/feedback/ for {memory_id} "
                f"answers {shown}", received=answer, documented={"feedback": feedback, "feedback_reason": reason},
                source=source)
        answers.append(answer)
    ids = [answer.get("id") for answer in answers]
    require(all(isinstance(i, str | int) for i in ids) and ids[0] != ids[1] and ids[1] != ids[2],
            f"POST /v1/feedback/ answers the records {ids} for the memories tea, chess, tea", received=ids,
            documented="a record of its own for each memory's feedback", source=source)
