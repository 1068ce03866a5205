"""The reference server plain schemathesis runs against: one per session, with the mutant of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance import plugin
from conformance.suite.conftest import EMBEDDED_PROCESSING_DELAY


@pytest.fixture(scope="session")
def reference_url(pytestconfig: pytest.Config) -> Iterator[str]:
    from conformance.server import ServerSettings, ServerThread, create_app

    app = create_app(ServerSettings(mutant=pytestconfig.stash.get(plugin.MUTANT, None),
                                    processing_delay=EMBEDDED_PROCESSING_DELAY))
    pytestconfig.stash[plugin.EMBEDDED] = app.state.server
    with ServerThread(app) as server:
        yield server.url
