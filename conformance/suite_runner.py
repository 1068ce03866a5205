"""Run the conformance suite (``conformance.suite``) with pytest, in this process.

The suite runs with its own pytest configuration (``conformance/suite/pytest.ini``), whatever
the current directory holds, so that test identities are stable (``test_batch.py::test_...``)
and a user's own pytest settings do not change the run. The cache (for ``--lf``) and the
Hypothesis example database stay in the current directory. The resolved :class:`RunSettings`
go to pytest as a plugin object: nothing about the target is turned back into options.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from conformance.plugin import Conformance
from conformance.settings import RunSettings

SUITE = Path(__file__).with_name("suite")
DURATIONS = SUITE / "durations.json"  # each test's duration, for run --shard (refreshed by run --store-durations)


def pytest_arguments(pytest_args: Sequence[str] = ()) -> list[str]:
    args = ["-c", str(SUITE / "pytest.ini"), "--rootdir", str(SUITE),
            # The command imported httpx and hypothesis (pytest plugins too) before pytest started.
            "-W", "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning"]
    if "no:cacheprovider" not in pytest_args:
        args += ["-o", f"cache_dir={Path.cwd() / '.pytest_cache'}"]
    selected = [_suite_path(arg) for arg in pytest_args]
    if any(path != arg for path, arg in zip(selected, pytest_args, strict=True)):
        return [*args, *selected]  # the user named tests of the suite: run only those
    return [*args, *pytest_args, str(SUITE)]


def _suite_path(arg: str) -> str:
    """``test_batch.py::test_x`` names a test of the suite: make it a path pytest finds anywhere."""
    if arg.startswith("-"):
        return arg
    file, sep, rest = arg.partition("::")
    return str(SUITE / file) + sep + rest if file.endswith(".py") and (SUITE / file).is_file() else arg


def run_suite(settings: RunSettings, pytest_args: Sequence[str] = ()) -> int:
    """pytest's exit code for a run of the suite (after the plugin graded it, see :mod:`conformance.reporting`)."""
    return int(pytest.main(pytest_arguments(pytest_args), plugins=[Conformance(settings)]))
