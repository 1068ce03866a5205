"""The pytest plugin (entry point ``pytest11``) that every conformance run goes through.

It loads the Hypothesis profile picked by the environment (see :mod:`conformance.profiles`)
unless ``--hypothesis-profile`` was given, and shows the choice in the session header.
"""

from __future__ import annotations

import pytest

from conformance.profiles import ProfileError, load_profile

_PROFILE = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("hypothesis_profile", default=None):
        return  # an explicit --hypothesis-profile wins
    try:
        config.stash[_PROFILE] = load_profile()
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str | None:
    name = config.stash.get(_PROFILE, None)
    return f"mem0-conformance: hypothesis profile {name!r}" if name else None

