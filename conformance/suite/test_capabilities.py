"""The target's capabilities (``conformance/capabilities.py``): a pinned one is there.

The preflight found out what the target offers before any test ran; the tests that need a
capability it lacks are skipped, unless the target file pins it. Here each capability is probed
again, through the suite's own clients: a pinned one (and the embedded reference server pins
everything it implements) whose operations are missing fails, and one the preflight found
offered must still be there.
"""

from __future__ import annotations

import pytest

from conformance import plugin
from conformance.capabilities import (
    BY_NAME,
    CATALOGUE,
    Prober,
    probe_mem0,
    probe_shared,
)
from conformance.verdicts import Severity, operation_source, require

pytestmark = [pytest.mark.contract("Capabilities", story="capabilities the target offers")]


@pytest.mark.parametrize("name", [pytest.param(c.name, marks=pytest.mark.contract("Capabilities", api=c.api, story=c.name))
                                  for c in CATALOGUE])
def test_a_pinned_or_discovered_capability_is_offered(name, request, target, run_prefix):
    """The operations of a capability the target file pins (or the preflight found) exist on the target."""
    capability = BY_NAME[name]
    finding = next((f for f in request.config.stash[plugin.SETTINGS].findings if f.name == name), None)
    if finding is None or not (finding.pinned or finding.offered):
        pytest.skip(f"the target does not offer {name!r} ({finding.evidence if finding else 'not probed'}); "
                    "pin it in the target file to fail instead")
    mem0 = request.getfixturevalue("mem0")
    if name == "shared_data":
        offered, evidence = probe_shared(Prober(mem0.http), Prober(request.getfixturevalue("klavis").http),
                                         f"{run_prefix}-capability", mem0.wait)
    else:
        offered, evidence = probe_mem0(Prober(mem0.http), f"{run_prefix}-capability")[name]
    why = "pinned by the target file" if finding.pinned and not target.embedded else \
        "implemented by the reference server" if target.embedded else "found offered by the preflight"
    require(offered, f"the target lacks {name!r} ({capability.offers}), {why}: {evidence}",
            received=evidence, documented=f"{', '.join(capability.operations)} exist ({why})",
            source=operation_source(capability.operations[0]),
            severity=Severity.CRITICAL if finding.pinned else Severity.NORMAL)
