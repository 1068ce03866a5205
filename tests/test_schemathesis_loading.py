"""schemathesis loads both effective documents and enumerates every operation."""

from __future__ import annotations

import pytest

from conformance.specs import api_spec, operations, schemathesis_schema
from tests.test_effective_specs import SUPPLEMENTS


def _enumerated(api: str) -> set[tuple[str, str]]:
    schema = schemathesis_schema(api, base_url="http://127.0.0.1:9")
    loaded = [result.ok() for result in schema.get_all_operations()]  # .ok() raises on an invalid operation
    return {(operation.method.upper(), operation.path) for operation in loaded}


def test_mem0_enumerates_the_48_seed_operations_and_the_supplements():
    """Every one of seed 004's 48 operations and the 13 supplements is a schemathesis operation."""
    enumerated = _enumerated("mem0")
    seed = set(operations(api_spec("mem0").pristine()))
    assert len(seed) == 48
    assert enumerated == seed | SUPPLEMENTS["mem0"]
    assert len(enumerated) == 61


def test_klavis_enumerates_initialize_dump_and_the_lifecycle():
    """Initialize, dump and the five mem0 lifecycle operations are schemathesis operations."""
    enumerated = _enumerated("klavis")
    assert enumerated == {("POST", "/sandbox/mem0/{sandbox_id}/initialize"), ("GET", "/sandbox/mem0/{sandbox_id}/dump")} | SUPPLEMENTS["klavis"]


@pytest.mark.parametrize("api", ["mem0", "klavis"])
def test_schema_is_bound_to_the_given_base_url(api):
    """The schema sends requests to the base URL it was given, not the document's server."""
    assert schemathesis_schema(api, base_url="http://127.0.0.1:9").get_base_url() == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("api", "creator"),
    [("mem0", "POST /v1/memories/ -> 200"), ("mem0", "POST /v3/memories/add/ -> 200"), ("klavis", "POST /sandbox/mem0 -> 201")],
)
def test_stateful_phase_follows_links_out_of_each_creating_operation(api, creator):
    """The overlay links give schemathesis's state machine a transition out of each create operation."""
    machine = schemathesis_schema(api, base_url="http://127.0.0.1:9").as_state_machine()
    assert creator in machine.bundles


@pytest.mark.parametrize("api", ["mem0", "klavis"])
def test_every_operation_has_a_success_path_recipe(api):
    """Each operation of the effective document has exactly one success path (conformance/suite/success_paths.py),
    so that a new supplement cannot go without one unnoticed."""
    from conformance.specs import effective
    from conformance.suite.success_paths import RECIPES
    from conformance.suite.engine import operations_of

    assert set(RECIPES[api]) == {operation_id for _, _, operation_id in operations_of(effective(api))}
