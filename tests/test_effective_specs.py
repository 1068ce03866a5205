"""The effective documents: pristine + overlays, valid, fully explained in ERRATA.md."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from conformance.errata import ERRATA_PATH, render
from conformance.overlay import apply_action
from conformance.specs import APIS, HTTP_METHODS, api_spec, operations

MEM0_SUPPLEMENTS = {
    ("GET", "/v1/ping/"),
    ("POST", "/v3/memories/add/"),
    ("POST", "/v3/memories/"),
    ("POST", "/v3/memories/search/"),
    ("GET", "/v1/event/{event_id}/"),
    ("DELETE", "/v2/entities/{entity_type}/{entity_name}/"),
    ("POST", "/v1/exports/get/"),
    ("POST", "/v1/summary/"),
    # the memory profiles API (overlay 0008)
    ("GET", "/v2/entities/user/{entity_id}/profile/"),
    ("POST", "/v2/profiles/jobs/"),
    ("GET", "/v2/profiles/jobs/{job_id}/"),
    ("GET", "/v2/profiles/settings/"),
    ("POST", "/v2/profiles/settings/"),
}
KLAVIS_SUPPLEMENTS = {
    ("POST", "/sandbox/mem0"),
    ("GET", "/sandbox/mem0/{sandbox_id}"),
    ("DELETE", "/sandbox/mem0/{sandbox_id}"),
    ("POST", "/sandbox/mem0/{sandbox_id}/reset"),
    ("GET", "/sandbox"),
}
SUPPLEMENTS = {"mem0": MEM0_SUPPLEMENTS, "klavis": KLAVIS_SUPPLEMENTS}


@pytest.mark.parametrize("api", APIS)
def test_effective_document_is_valid_openapi(api):
    """The effective document validates with openapi-spec-validator."""
    validate(api_spec(api).effective())


@pytest.mark.parametrize("api", APIS)
def test_every_overlay_action_applies_to_at_least_one_node(api):
    """Applied in order, each overlay action changes at least one node of the document."""
    spec = api_spec(api)
    document = spec.pristine()
    actions = [a for overlay in spec.overlays() for a in overlay.actions]
    assert actions, f"{api} has no overlay actions"
    for action in actions:
        assert apply_action(document, action) >= 1, action.ref
    assert document == spec.effective()


@pytest.mark.parametrize("api", APIS)
def test_every_overlay_action_has_an_errata_row(api):
    """ERRATA.md has one row per overlay action, with its target, reason and evidence."""
    errata = ERRATA_PATH.read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().strip("`"): line for line in errata.splitlines() if line.startswith("| `")}
    for overlay in api_spec(api).overlays():
        for action in overlay.actions:
            assert action.ref in rows, f"{action.ref} has no ERRATA row"
            assert " ".join(action.reason.split()) in rows[action.ref].replace("\\|", "|")


def test_errata_index_is_generated_from_the_overlays():
    """The committed ERRATA.md is exactly what the overlays generate (no hand edits drift)."""
    assert ERRATA_PATH.read_text(encoding="utf-8") == render()


@pytest.mark.parametrize("api", APIS)
def test_supplements_are_exactly_the_added_operations_and_are_marked(api):
    """The operations the overlays add are the listed supplements, each marked project-authored."""
    spec = api_spec(api)
    added = set(operations(spec.effective())) - set(operations(spec.pristine()))
    assert added == SUPPLEMENTS[api]
    paths = spec.effective()["paths"]
    for method, path in added:
        operation = paths[path][method.lower()]
        assert operation.get("x-conformance-supplement") is True, (method, path)
        assert operation["description"].startswith("Project-authored supplement:"), (method, path)


@pytest.mark.parametrize("api", APIS)
def test_no_seed_operation_is_removed(api):
    """Overlays correct operations; they never drop one the seeds publish."""
    spec = api_spec(api)
    assert set(operations(spec.pristine())) <= set(operations(spec.effective()))


@pytest.mark.parametrize("api", APIS)
def test_operation_ids_are_unique(api):
    """Every operation of the effective document has its own operationId (stable test identities)."""
    ids = [
        operation["operationId"]
        for item in api_spec(api).effective()["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("api", APIS)
def test_links_name_existing_operations(api):
    """Every OpenAPI link points at an operationId that exists, so the stateful phase can follow it."""
    document = api_spec(api).effective()
    ids = {
        operation.get("operationId")
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }
    links = [
        link
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS
        for response in operation.get("responses", {}).values()
        for link in response.get("links", {}).values()
    ]
    assert links, f"{api} has no links"
    for link in links:
        assert link.get("operationId") in ids, link
