"""Plain schemathesis as a user would run it, the yardstick the suite's mutation score is set beside.

Every operation of both effective documents with schemathesis's defaults: every check, positive and
negative data, the examples, coverage and fuzzing phases, and a stateful test per API over the
overlay links (schemathesis's default of 6 steps per scenario); the project's ``schemathesis.toml``
(the per-operation settings, each with its reason). Its budget is the suite's: the Hypothesis
profile's ``max_examples`` per operation. Nothing of the suite's own: no hooks, no learned ids, no
machines, no invariant tests. (One test per operation, as schemathesis's ``parametrize`` makes them;
built with its test factory because its lazy fixture loader does not run under pytest 9.)
"""

from __future__ import annotations

from unittest import SkipTest

import pytest
import schemathesis
from hypothesis import settings
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.filters import FilterSet
from schemathesis.pytest.lazy import get_all_tests

from conformance.apis import APIS
from conformance.specs import effective
from conformance.suite.engine import CONFIG_FILE, OPERATIONS

STEPS = 6  # schemathesis's own default number of steps per stateful scenario


def plain(api: str, url: str):
    config = SchemathesisConfig.from_path(CONFIG_FILE)
    config.projects.default.update(base_url=url, headers={"Authorization": APIS[api].authorization(APIS[api].reference_key)})
    return schemathesis.openapi.from_dict(effective(api), config=config)


def _call_and_validate(case):
    case.call_and_validate()


def run(schema, operation_id: str) -> None:
    only = FilterSet().with_include(operation_id=operation_id)
    schema = schema.clone(filter_set=schema.config.operations.filter_set_with(include=only))
    load_all_checks()
    (built,) = get_all_tests(schema=schema, test_func=_call_and_validate, settings=None, given_kwargs=None)
    _, test = built.ok()
    try:
        test()
    except SkipTest as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def mem0_schema(reference_url):
    return plain("mem0", reference_url)


@pytest.fixture(scope="session")
def klavis_schema(reference_url):
    return plain("klavis", reference_url)


@pytest.mark.parametrize("operation", list(OPERATIONS["mem0"]))
def test_mem0(operation, mem0_schema):
    """Every generated request to this Mem0 operation passes schemathesis's checks."""
    run(mem0_schema, OPERATIONS["mem0"][operation])


@pytest.mark.parametrize("operation", list(OPERATIONS["klavis"]))
def test_klavis(operation, klavis_schema):
    """Every generated request to this Klavis operation passes schemathesis's checks."""
    run(klavis_schema, OPERATIONS["klavis"][operation])


def test_mem0_stateful(mem0_schema):
    """Scenarios over the Mem0 links pass schemathesis's checks."""
    mem0_schema.as_state_machine().run(settings=settings(settings(), stateful_step_count=STEPS))


def test_klavis_stateful(klavis_schema):
    """Scenarios over the Klavis links pass schemathesis's checks."""
    klavis_schema.as_state_machine().run(settings=settings(settings(), stateful_step_count=STEPS))
