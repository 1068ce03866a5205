"""Run the conformance suite (``conformance.suite``) with pytest, in this process.

The suite runs with its own pytest configuration (``conformance/suite/pytest.ini``), whatever
the current directory holds, so that test identities are stable (``test_batch.py::test_...``)
and a user's own pytest settings do not change the run. The cache (for ``--lf``) and the
Hypothesis example database stay in the current directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

SUITE = Path(__file__).with_name("suite")


def pytest_arguments(
    *,
    mem0_url: str | None = None,
    klavis_url: str | None = None,
    target_file: Path | None = None,
    allow_destructive: bool = False,
    faults: Sequence[str] = (),
    preflight_done: bool = True,
    pytest_args: Sequence[str] = (),
) -> list[str]:
    args = ["-c", str(SUITE / "pytest.ini"), "--rootdir", str(SUITE),
            # The command imported httpx (and with it the anyio pytest plugin) before pytest started.
            "-W", "ignore:Module already imported so cannot be rewritten; anyio:pytest.PytestAssertRewriteWarning"]
    if "no:cacheprovider" not in pytest_args:
        args += ["-o", f"cache_dir={Path.cwd() / '.pytest_cache'}"]
    if mem0_url:
        args += ["--mem0-url", mem0_url]
    if klavis_url:
        args += ["--klavis-url", klavis_url]
    if target_file:
        args += ["--target", str(Path(target_file).resolve())]
    if allow_destructive:
        args.append("--allow-destructive")
    if preflight_done:
        args.append("--no-preflight")
    for fault in faults:
        args += ["--reference-fault", fault]
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


def run_suite(**options) -> int:
    """pytest's exit code for a run of the suite with these options (see :func:`pytest_arguments`)."""
    return int(pytest.main(pytest_arguments(**options)))
