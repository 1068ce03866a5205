"""The Klavis mem0 sandbox: lifecycle and initialize/dump round trips (FACTS.md "Klavis mem0
sandbox API"; ≈ as in ROUNDTRIP.md)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from conformance.specs import effective
from conformance.suite import roundtrip
from conformance.suite.machines.sandbox import BASE, SandboxMachine, SandboxPool
from conformance.suite.sources import KLAVIS
from conformance.suite.support import Patience, eventually, expect
from conformance.verdicts import fact, require

pytestmark = [pytest.mark.requires("klavis"), pytest.mark.contract("Sandbox round trip")]

INITIALIZE = "initialize_sandbox_sandbox_mem0__sandbox_id__initialize_post"
STEPS = 8


def documented_default_items() -> list[dict[str, Any]]:
    """The initialize operation's example body in the effective document: the default data set."""
    for path_item in effective("klavis")["paths"].values():
        operation = path_item.get("post", {})
        if operation.get("operationId") == INITIALIZE:
            return operation["requestBody"]["content"]["application/json"]["examples"]["default"]["value"]["memory_list"]
    raise LookupError(f"the effective Klavis document has no {INITIALIZE}")


@pytest.fixture(scope="module")
def sandbox_pool(new_sandbox) -> SandboxPool:
    return SandboxPool(new_sandbox)


def test_sandbox_machine(klavis, sandbox_pool, cleanup, run_prefix):
    """Every dump is ≈ the model of acquire, initialize (body, default data, again, from a dump,
    invalid), reset and release; background items appear within the consistency wait."""
    patience = Patience(klavis.wait)
    default_items = documented_default_items()
    run_state_machine_as_test(
        lambda: SandboxMachine(klavis=klavis, pool=sandbox_pool, patience=patience, cleanup=cleanup,
                               run_prefix=run_prefix, default_items=default_items),
        settings=settings(settings(), stateful_step_count=STEPS, report_multiple_bugs=False),
    )


def test_acquire_answers_201_occupied(klavis, new_sandbox):
    """Acquiring answers 201 (new_sandbox asserts it) and the sandbox's details say occupied."""
    sandbox_id = new_sandbox()
    details = expect(klavis.get(f"{BASE}/{sandbox_id}"), 200)
    status = details.get("status") if isinstance(details, dict) else None
    require(status == "occupied", f"GET {BASE}/{sandbox_id} after acquire answers status {status!r}",
            received=details, documented="status 'occupied'", source=fact(KLAVIS, f"GET {BASE}/{{sandbox_id}}"))


def test_default_data_is_the_documented_example(klavis, sandbox_pool):
    """init_default_data=true loads the initialize operation's example body: its dump is ≈ it."""
    [sandbox_id] = sandbox_pool.take(1)
    try:
        expect(klavis.post(f"{BASE}/{sandbox_id}/initialize", params={"init_default_data": "true"}), 200)
        expected = roundtrip.normalise_initialize(documented_default_items())
        assert not expected.empty

        def settled() -> None:
            dump = expect(klavis.get(f"{BASE}/{sandbox_id}/dump"), 200)
            actual = roundtrip.normalise_dump(roundtrip.memory_list(dump))
            roundtrip.assert_equivalent(actual, expected)

        eventually(settled, within=klavis.wait, what="the default data set appears in the dump")
    finally:
        sandbox_pool.give_back([sandbox_id])


def test_auto_infer_false_stores_each_message_verbatim(klavis, sandbox_pool, run_prefix):
    """With auto_infer=false every message (assistant ones and surrounding spaces included) is
    one memory whose content_text is the message content exactly (FACTS.md: stored directly)."""
    item = {"message_list": [{"role": "user", "content": "  Ich trinke morgens grünen Tee  "},
                             {"role": "assistant", "content": "Noted — 緑茶 every morning."}],
            "user_id": f"{run_prefix}-kvuser-verbatim", "auto_infer": False, "background_processing": False,
            "metadata": {"category": "santé", "nested": {"tags": ["tea", None]}}}
    [sandbox_id] = sandbox_pool.take(1)
    try:
        expect(klavis.post(f"{BASE}/{sandbox_id}/initialize", json={"memory_list": [item]}), 200)
        dump = expect(klavis.get(f"{BASE}/{sandbox_id}/dump"), 200)
        roundtrip.assert_equivalent(roundtrip.normalise_dump(roundtrip.memory_list(dump)),
                                    roundtrip.normalise_initialize([item]))
    finally:
        sandbox_pool.give_back([sandbox_id])
