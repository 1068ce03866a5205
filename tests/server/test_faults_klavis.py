"""Each planted Klavis fault changes what a client observes; without it the server behaves correctly."""

from __future__ import annotations

import time

import pytest

from conformance.server.faults import catalog
from conformance.server.handlers import klavis as faults
from tests.server.test_klavis import DUMP, acquire, dump, initialize, item

KLAVIS_FAULTS = {
    faults.ACQUIRE_RETURNS_200, faults.RELEASE_STAYS_OCCUPIED, faults.RESET_KEEPS_DATA, faults.INITIALIZE_APPENDS,
    faults.DEFAULT_DATA_EMPTY, faults.READ_ONLY_NOT_IMMUTABLE, faults.IGNORES_AUTO_INFER,
    faults.BACKGROUND_NEVER_SETTLES, faults.DUMP_DROPS_METADATA, faults.DUMP_MISSING_DUMPED_AT,
    faults.DUMP_LEAKS_ACROSS_SANDBOXES,
}


def test_every_klavis_fault_is_in_the_catalog():
    """The faults the Klavis handlers declare are all in the fault catalog."""
    assert KLAVIS_FAULTS <= set(catalog())


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "faulty"])
def test_sandbox_acquire_returns_200(klavis, server, faulty):
    """Acquire answers 201; with the fault it answers 200."""
    server.set_faults({faults.ACQUIRE_RETURNS_200} if faulty else set())
    assert klavis.post("/sandbox/mem0").status_code == (200 if faulty else 201)


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "faulty"])
def test_sandbox_release_stays_occupied(klavis, server, faulty):
    """After release the details show idle; with the fault they still show occupied (the answer says idle)."""
    sandbox_id = acquire(klavis)
    server.set_faults({faults.RELEASE_STAYS_OCCUPIED} if faulty else set())
    assert klavis.delete(f"/sandbox/mem0/{sandbox_id}").json()["status"] == "idle"
    status = klavis.get(f"/sandbox/mem0/{sandbox_id}").json()["status"]
    assert status == ("occupied" if faulty else "idle")


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "faulty"])
def test_sandbox_reset_keeps_data(klavis, server, faulty):
    """After reset the dump is empty; with the fault the memories are still there."""
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("I like tea")]})
    server.set_faults({faults.RESET_KEEPS_DATA} if faulty else set())
    assert klavis.post(f"/sandbox/mem0/{sandbox_id}/reset").status_code == 200
    assert len(dump(klavis, sandbox_id)) == (1 if faulty else 0)


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "faulty"])
def test_initialize_appends(klavis, server, faulty):
    """Initializing twice with one item leaves one memory; with the fault it leaves two."""
    server.set_faults({faults.INITIALIZE_APPENDS} if faulty else set())
    sandbox_id = acquire(klavis)
    for _ in range(2):
        initialize(klavis, sandbox_id, {"memory_list": [item("I like tea")]})
    assert len(dump(klavis, sandbox_id)) == (2 if faulty else 1)


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "faulty"])
def test_default_data_empty(klavis, server, faulty):
    """init_default_data=true loads the five example memories; with the fault nothing."""
    server.set_faults({faults.DEFAULT_DATA_EMPTY} if faulty else set())
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, None, init_default_data=True)
    assert len(dump(klavis, sandbox_id)) == (0 if faulty else 5)


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "faulty"])
def test_read_only_not_immutable(klavis, server, faulty):
    """A read_only item is stored immutable and dumps read_only true; with the fault neither holds."""
    server.set_faults({faults.READ_ONLY_NOT_IMMUTABLE} if faulty else set())
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("fixed", read_only=True)]})
    (memory,) = server.store.select(lambda m: m.sandbox_id == sandbox_id)
    assert memory.immutable is (not faulty)
    assert dump(klavis, sandbox_id)[0]["read_only"] is (not faulty)


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "faulty"])
def test_initialize_ignores_auto_infer(klavis, server, faulty):
    """auto_infer=false stores the assistant's message too; with the fault only the user's is kept."""
    server.set_faults({faults.IGNORES_AUTO_INFER} if faulty else set())
    sandbox_id = acquire(klavis)
    messages = [{"role": "user", "content": "I like tea"}, {"role": "assistant", "content": "Noted"}]
    initialize(klavis, sandbox_id, {"memory_list": [{"message_list": messages, "auto_infer": False,
                                                     "background_processing": False}]})
    dumped = dump(klavis, sandbox_id)
    assert [d["content_text"] for d in dumped] == (["I like tea"] if faulty else ["I like tea", "Noted"])
    assert all(d["auto_infer"] is False for d in dumped)


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "faulty"])
def test_background_initialize_never_settles(klavis, server, faulty):
    """A background item appears once processing_delay has passed; with the fault it never does."""
    server.store.processing_delay = 0.1
    server.set_faults({faults.BACKGROUND_NEVER_SETTLES} if faulty else set())
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("later", background_processing=True)]})
    time.sleep(0.2)
    assert len(dump(klavis, sandbox_id)) == (0 if faulty else 1)


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "faulty"])
def test_dump_drops_metadata(klavis, server, faulty):
    """Dump gives each memory's metadata back; with the fault it is null."""
    server.set_faults({faults.DUMP_DROPS_METADATA} if faulty else set())
    sandbox_id = acquire(klavis)
    initialize(klavis, sandbox_id, {"memory_list": [item("I like tea", metadata={"topic": "drinks"})]})
    assert dump(klavis, sandbox_id)[0]["metadata"] == (None if faulty else {"topic": "drinks"})


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "faulty"])
def test_dump_missing_dumped_at(klavis, server, faulty):
    """The dump answer carries dumped_at; with the fault the required field is missing."""
    server.set_faults({faults.DUMP_MISSING_DUMPED_AT} if faulty else set())
    sandbox_id = acquire(klavis)
    assert ("dumped_at" in klavis.get(DUMP.format(sandbox_id)).json()) is (not faulty)


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "faulty"])
def test_dump_leaks_across_sandboxes(klavis, server, faulty):
    """A sandbox's dump shows only its own memories; with the fault another sandbox's too."""
    server.set_faults({faults.DUMP_LEAKS_ACROSS_SANDBOXES} if faulty else set())
    mine, other = acquire(klavis), acquire(klavis)
    initialize(klavis, mine, {"memory_list": [item("mine")]})
    initialize(klavis, other, {"memory_list": [item("other")]})
    texts = [d["content_text"] for d in dump(klavis, mine)]
    assert texts == (["mine", "other"] if faulty else ["mine"])
