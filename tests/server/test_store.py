"""The store's background processing."""

from __future__ import annotations

import pytest

from conformance.server.store import Store


def test_queued_work_that_raises_fails_its_event_only():
    """An exception in queued work marks that event FAILED; other events still settle."""
    store = Store()

    def broken() -> list:
        raise RuntimeError("boom")

    bad = store.schedule("ADD", broken, delay=0)
    good = store.schedule("ADD", lambda: [{"id": "x"}], delay=0)
    store.settle()
    assert (bad.status, bad.results) == ("FAILED", [{"error": "RuntimeError: boom"}])
    assert (good.status, good.results) == ("SUCCEEDED", [{"id": "x"}])
    store.settle()  # settling again is a no-op, not a second failure
    assert bad.status == "FAILED"


def test_events_wait_for_their_processing_delay():
    """An event stays PENDING until its delay has passed."""
    store = Store(processing_delay=3600)
    event = store.schedule("ADD", lambda: [])
    store.settle()
    assert event.status == "PENDING"


@pytest.mark.parametrize(("filters", "required"), [
    ({"user_id": "alice"}, {"user_id": "alice"}),
    ({"AND": [{"user_id": "alice"}, {"agent_id": "bot"}]}, {"user_id": "alice", "agent_id": "bot"}),
    ({"user_id": "*"}, {}),  # any non-null user: nothing to narrow by
    ({"OR": [{"user_id": "alice"}, {"user_id": "bob"}]}, {}),
    ({"NOT": [{"user_id": "alice"}]}, {}),
    ({"user_id": {"in": ["alice", "bob"]}}, {}),
])
def test_the_entities_every_match_must_have_are_read_off_the_filter(filters, required):
    """Listing tests these first (a cheap attribute comparison), then the compiled filter decides."""
    from conformance.server.filters import required_entities

    assert required_entities(filters) == required
