"""Run the conformance suite (``conformance.suite``) with pytest, in this process.

The suite runs with its own pytest configuration (``conformance/suite/pytest.ini``), whatever
the current directory holds, so that test identities are stable (``test_batch.py::test_...``)
and a user's own pytest settings do not change the run. It loads its own pytest plugins
(:data:`SUITE_PLUGINS`) and no other installed one unless named with ``-p``: a plugin installed
beside it (one that reorders tests or reseeds Hypothesis, say) does not change the run, and every
process of a run (xdist's workers too) starts without importing plugins it does not use. pytest
also rewrites the assertions of every module of a package that installs a plugin; with the
plugins named, only the suite's test modules are rewritten, not Hypothesis's or schemathesis's
own. The cache (for ``--lf``) and the Hypothesis example database stay in the current directory.
The resolved :class:`RunSettings` go to pytest as a plugin object: nothing about the target is
turned back into options.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from conformance.plugin import Conformance
from conformance.settings import RunSettings

SUITE = Path(__file__).with_name("suite")
DURATIONS = SUITE / "durations.json"  # each test's duration, for run --shard (refreshed by run --store-durations)
# The pytest plugins (their pytest11 entry points) a run of the suite loads: its own, Hypothesis's, xdist
# (-n), pytest-timeout (each test's bound), pytest-split (--shard) and allure-pytest (the results).
SUITE_PLUGINS = ("mem0_conformance", "hypothesispytest", "xdist", "timeout", "pytest-split", "allure_pytest")
_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"


def pytest_arguments(pytest_args: Sequence[str] = ()) -> list[str]:
    args = ["-c", str(SUITE / "pytest.ini"), "--rootdir", str(SUITE),
            # The command imported httpx and hypothesis (pytest plugins too) before pytest started.
            "-W", "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning"]
    if "no:cacheprovider" not in pytest_args:
        args += ["-o", f"cache_dir={Path.cwd() / '.pytest_cache'}"]
    args += plugin_arguments(pytest_args)
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


def plugin_arguments(pytest_args: Sequence[str] = ()) -> list[str]:
    """``-p <module>`` for each of :data:`SUITE_PLUGINS` that is installed and not blocked by a ``-p no:<name>``
    (by its entry point's name or its module's) among ``pytest_args``."""
    named, follows = [], False  # "-p name" and "-pname"
    for arg in pytest_args:
        if follows or arg.startswith("-p") and arg != "-p":
            named.append(arg if follows else arg[2:])
        follows = arg == "-p"
    blocked = {name[len("no:"):] for name in named if name.startswith("no:")}
    modules = {point.name: point.value for point in entry_points(group="pytest11")}
    return [option for name in SUITE_PLUGINS if name in modules and not {name, modules[name]} & blocked
            for option in ("-p", modules[name])]


@contextmanager
def _without_plugin_autoload() -> Iterator[None]:
    """pytest loads no plugin it is not told to, in this process and in the workers it starts (which inherit
    the environment)."""
    before = os.environ.get(_AUTOLOAD)
    os.environ[_AUTOLOAD] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[_AUTOLOAD]
        else:
            os.environ[_AUTOLOAD] = before


def pytest_main(args: Sequence[str], plugins: Sequence[object]) -> int:
    """``pytest.main`` for a session of the suite built by :func:`pytest_arguments`: its plugins only."""
    with _without_plugin_autoload():
        return int(pytest.main(list(args), plugins=list(plugins)))


def run_suite(settings: RunSettings, pytest_args: Sequence[str] = ()) -> int:
    """pytest's exit code for a run of the suite (after the plugin graded it, see :mod:`conformance.reporting`)."""
    return pytest_main(pytest_arguments(pytest_args), [Conformance(settings)])
