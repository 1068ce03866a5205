"""Hypothesis profiles, picked by environment.

``MEM0_CONFORMANCE_PROFILE`` names the profile; without it, ``ci`` when the ``CI`` variable is
set (as CI services do) and ``dev`` otherwise. ``ci`` is derandomized so that a red CI run
replays identically; every profile prints the reproduction blob of a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, Phase, settings

PROFILE_VARIABLE = "MEM0_CONFORMANCE_PROFILE"
SHRINK_VARIABLE = "MEM0_CONFORMANCE_SHRINK"
PROFILES = ("dev", "ci", "thorough")

_COMMON = {
    "deadline": None,  # network round trips vary; speed is measured in bench/, not here
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow],
}

# Every setting that differs between profiles is explicit, so that Hypothesis's own CI detection
# (which changes the defaults profiles inherit from) cannot leak into dev or thorough.
# The explain phase replays a failure many times to say which parts matter; against a server
# that costs minutes per failure, and the fault matrix fails on purpose 32 times. Shrinking
# stays: a failure always prints its minimal example (for machines, the minimal program).
_LEAN_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]
settings.register_profile("dev", max_examples=20, derandomize=False, phases=_LEAN_PHASES, **_COMMON)
settings.register_profile("ci", max_examples=20, derandomize=True, database=None, phases=_LEAN_PHASES, **_COMMON)
settings.register_profile("thorough", max_examples=300, derandomize=False, phases=list(Phase), **_COMMON)


class ProfileError(ValueError):
    pass


def chosen_profile(environ: os._Environ[str] | dict[str, str] = os.environ) -> str:
    name = environ.get(PROFILE_VARIABLE)
    if name:
        if name not in PROFILES:
            raise ProfileError(f"{PROFILE_VARIABLE}={name!r} is not one of {', '.join(PROFILES)}")
        return name
    return "ci" if environ.get("CI", "").lower() not in ("", "0", "false", "no") else "dev"


def load_profile(environ: os._Environ[str] | dict[str, str] = os.environ) -> str:
    """Load the chosen profile; ``MEM0_CONFORMANCE_SHRINK=0`` loads it without the shrink phase.

    Shrinking turns a failure into its minimal example, which is what a person reading the
    failure needs, and against a server it can take minutes. A run that only needs to know
    whether something fails (the fault matrix) switches it off.
    """
    name = chosen_profile(environ)
    shrink = environ.get(SHRINK_VARIABLE, "1")
    if shrink not in ("0", "1"):
        raise ProfileError(f"{SHRINK_VARIABLE}={shrink!r} must be 0 or 1")
    if shrink == "0":
        parent = settings.get_profile(name)
        settings.register_profile(f"{name}-no-shrink", parent,
                                  phases=[phase for phase in parent.phases if phase is not Phase.shrink])
        name = f"{name}-no-shrink"
    settings.load_profile(name)
    return name


@contextmanager
def hypothesis_printer() -> Iterator[None]:
    """Hypothesis's own printer while the block runs, so a failure shows its example with values.

    schemathesis swaps Hypothesis's printer, process-wide, for one that prints nothing (its
    coverage phase would spend minutes printing cases), which leaves ``Failing test case:
    check(text=, ...)`` without values in every other Hypothesis test of the process.
    """
    from hypothesis import core
    from hypothesis.vendor import pretty

    patched = core.RepresentationPrinter
    core.RepresentationPrinter = pretty.RepresentationPrinter
    try:
        yield
    finally:
        core.RepresentationPrinter = patched
