"""The pytest plugin picks the Hypothesis profile from the environment."""

from __future__ import annotations

import pytest

from conformance.profiles import ProfileError, chosen_profile

PROBE = """
from hypothesis import settings
def test_probe():
    print("PROFILE", settings._current_profile, settings().derandomize)
"""


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "dev"),
        ({"CI": "true"}, "ci"),
        ({"CI": "false"}, "dev"),
        ({"CI": "true", "MEM0_CONFORMANCE_PROFILE": "thorough"}, "thorough"),
    ],
)
def test_profile_is_chosen_by_environment(environ, expected):
    """MEM0_CONFORMANCE_PROFILE wins; otherwise CI picks `ci` and a workstation `dev`."""
    assert chosen_profile(environ) == expected


def test_unknown_profile_is_an_error():
    """An unknown profile name is refused, naming the valid ones."""
    with pytest.raises(ProfileError, match="dev, ci, thorough"):
        chosen_profile({"MEM0_CONFORMANCE_PROFILE": "fast"})


def test_plugin_loads_the_ci_profile_derandomized(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Installed through its pytest11 entry point, the plugin loads the derandomized `ci` profile."""
    monkeypatch.setenv("MEM0_CONFORMANCE_PROFILE", "ci")
    pytester.makepyfile(PROBE)
    result = pytester.runpytest_subprocess("-s")
    result.stdout.fnmatch_lines(["mem0-conformance: hypothesis profile 'ci'", "*PROFILE ci True*"])


def test_explicit_hypothesis_profile_option_wins(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """--hypothesis-profile overrides the environment's choice."""
    monkeypatch.setenv("MEM0_CONFORMANCE_PROFILE", "ci")
    pytester.makepyfile(PROBE)
    result = pytester.runpytest_subprocess("-s", "--hypothesis-profile", "thorough")
    result.stdout.fnmatch_lines(["*PROFILE thorough False*"])


def test_bad_profile_stops_the_session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """A bad MEM0_CONFORMANCE_PROFILE stops pytest with a usage error, before any test runs."""
    monkeypatch.setenv("MEM0_CONFORMANCE_PROFILE", "nope")
    pytester.makepyfile(PROBE)
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*MEM0_CONFORMANCE_PROFILE='nope' is not one of dev, ci, thorough*"])


def test_an_interrupt_s_report_leaves_out_traceback_entries_without_a_line():
    """Ctrl-C between two instructions (Python 3.11) can leave an entry with no line number, on which pytest's report
    of the interrupt crashes; the plugin's hook leaves such entries out, and the report renders."""
    import types

    from _pytest._code.code import Traceback, TracebackEntry

    from conformance.plugin import Conformance
    from conformance.settings import RunSettings
    from conformance.targets import embedded

    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        excinfo = pytest.ExceptionInfo.from_current()
    (good,) = excinfo.traceback
    lineless = TracebackEntry(types.SimpleNamespace(tb_lineno=None, tb_frame=good.frame.raw, tb_next=None))
    excinfo.traceback = Traceback([good, lineless])
    with pytest.raises(TypeError):  # what pytest's report meets without the hook
        excinfo.getrepr(funcargs=True)
    Conformance(RunSettings(embedded(""))).pytest_keyboard_interrupt(excinfo)
    assert list(excinfo.traceback) == [good]
    assert "KeyboardInterrupt" in str(excinfo.getrepr(funcargs=True))
