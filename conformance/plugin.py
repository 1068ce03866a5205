"""The pytest plugin (entry point ``pytest11``) that every conformance run goes through.

A run is described by one :class:`~conformance.settings.RunSettings` (the resolved target, planted
faults, where reports go, the run id) and served by one :class:`Conformance` plugin object:

- ``mem0-conformance run`` resolves the target, checks the faults and runs the preflight
  and the capability survey itself, then hands ``Conformance(settings)`` to pytest: nothing is
  resolved twice;
- plain ``pytest --pyargs conformance.suite --mem0-url URL`` goes through this module's
  ``pytest_configure``, which builds the same settings from the options and runs the preflight
  and the capability survey at session start (exit 3 unreachable, 4 key rejected);
- xdist workers get the controller's settings through ``workerinput``.

The plugin object: Hypothesis profile in the header, the ``requires`` marker (a test that needs
what the target lacks is skipped with the reason), known deviations as strict xfails, the
exchanges of a failing test in its report, leaks reported at the end (also from workers), and
verdicts and reports (:mod:`conformance.reporting.verdict_hooks`).

Nothing here runs for a session that names no target and collects no suite test: the
project's own tests load the plugin too.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conformance.cleanup import Leak, run_prefix
from conformance.client import Recorder
from conformance.nodes import SUITE, identity, in_suite
from conformance.profiles import ProfileError, load_profile
from conformance.settings import RunSettings, SettingsError, resolve_settings
from conformance.targets import Target

PLUGIN_NAME = "mem0-conformance"
MUTANT = pytest.StashKey["str | None"]()  # the mutant the next embedded server plants (run --mutant; mutants run)
EMBEDDED = pytest.StashKey[Any]()  # the embedded reference server of this process, once started
RECORDER = pytest.StashKey[Recorder]()
LEAKS = pytest.StashKey[list[Leak]]()
SUCCESSES = pytest.StashKey[Counter]()  # validated 2xx answers per operation label, in this process
SETTINGS = pytest.StashKey[RunSettings]()

NEEDS = {
    "mem0": "the target has no Mem0 API",
    "klavis": "the target has no Klavis API",
    "shared_data": "the target's Klavis sandboxes and Mem0 memories do not share one store (the preflight found "
                   "none; shared_data = true in the target file to fail instead)",
    "destructive": "needs unscoped or destructive operations: only on the reference server or with --allow-destructive",
}
_WORKER_SETTINGS = "mem0_conformance_settings"
_WORKER_LEAKS = "mem0_conformance_leaks"


def settings_from_options(config: pytest.Config) -> RunSettings:
    """The settings of a plain pytest session, from its options (a usage error names a bad one)."""
    try:
        return resolve_settings(target_file=config.getoption("target"), mem0_url=config.getoption("mem0_url"),
                                klavis_url=config.getoption("klavis_url"),
                                allow_destructive=config.getoption("allow_destructive"),
                                faults=config.getoption("fault"), reports=config.getoption("conformance_reports"),
                                npm_sdks=config.getoption("npm_sdk"))
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mem0-conformance", "mem0-conformance target")
    group.addoption("--mem0-url", metavar="URL", help="Mem0 API to test (key: $MEM0_API_KEY)")
    group.addoption("--klavis-url", metavar="URL", help="Klavis API to test (key: $KLAVIS_API_KEY)")
    group.addoption("--target", metavar="FILE", type=Path, help="target file (TOML): URLs, keys, timeouts, deviations")
    group.addoption("--allow-destructive", action="store_true", default=False,
                    help="allow unscoped deletes and organization/project/member removal on a live target")
    group.addoption("--fault", action="append", default=[], metavar="NAME",
                    help="plant this fault in the embedded reference server (repeatable)")
    group.addoption("--reports", dest="conformance_reports", metavar="DIR",
                    help="write Allure results, junit.xml and the summary into DIR")
    group.addoption("--sdk", action="store_true", default=False,
                    help="also run the SDK guard: the real mem0ai and klavis SDKs against the target")
    group.addoption("--sdk-only", action="store_true", default=False, help="run only the SDK guard")
    group.addoption("--npm-sdk", action="append", default=[], metavar="PACKAGE@VERSION",
                    help="the npm SDK (mem0ai or klavis) and version the SDK guard drives (repeatable; default: "
                         "mem0ai@3.3.1 and klavis@2.15.0; none: no npm SDK)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires(*needs): skip unless the target has each need: mem0, klavis, destructive, or a capability "
        "(conformance.capabilities: ping, v3, events, webhooks, shared_data) offered or pinned",
    )
    config.addinivalue_line("markers", "contract(feature, api=None, story=None): the report's feature "
                                       "(resource or invariant family), API and story of a test")
    config.addinivalue_line("markers", "sdk: a scenario of the SDK guard (selected with --sdk or --sdk-only)")
    plugin = next((p for p in config.pluginmanager.get_plugins() if isinstance(p, Conformance)), None)
    if plugin is None:
        workerinput = getattr(config, "workerinput", None)
        if workerinput and _WORKER_SETTINGS in workerinput:
            settings = RunSettings.from_wire(workerinput[_WORKER_SETTINGS])
        else:
            settings = settings_from_options(config)
        plugin = Conformance(settings)
        config.pluginmanager.register(plugin, PLUGIN_NAME)
    plugin.configure(config)


class Conformance:
    """The plugin object of one run (see the module docstring)."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.recorder = Recorder()
        self.leaks: list[Leak] = []
        self.successes: Counter[str] = Counter()

    def configure(self, config: pytest.Config) -> None:
        if not config.getoption("hypothesis_profile", default=None):  # an explicit --hypothesis-profile wins
            try:
                self.settings = replace(self.settings, profile=load_profile())
            except ProfileError as exc:
                raise pytest.UsageError(str(exc)) from None
        config.stash[SETTINGS] = self.settings  # the run's settings: the one object every part reads
        config.stash[MUTANT] = self.settings.mutant  # the mutant the next embedded server plants (mutants run moves it)
        config.stash[RECORDER] = self.recorder
        config.stash[LEAKS] = self.leaks
        config.stash[SUCCESSES] = self.successes
        from conformance.reporting.verdict_hooks import Verdicts

        self.verdicts = Verdicts(self.settings, self.recorder, self.successes)
        self.verdicts.prepare(config)
        config.pluginmanager.register(self.verdicts, f"{PLUGIN_NAME}-verdicts")

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:  # xdist: every worker runs with the controller's settings
        node.workerinput[_WORKER_SETTINGS] = self.settings.to_wire()

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        if self.settings.profile:
            lines.append(f"mem0-conformance: hypothesis profile {self.settings.profile!r}")
        target, faults = self.settings.target, ", ".join(sorted(self.settings.faults))
        if not target.embedded or faults:
            apis = ", ".join(f"{api.api} {api.url}" for api in (target.mem0, target.klavis) if api is not None and api.url)
            lines.append(f"mem0-conformance: target {target.name}" + (f" ({apis})" if apis else "")
                         + (f", planted faults: {faults}" if faults else "") + f", run {self.settings.run_id}")
        if self.settings.mutant:
            lines.append(f"mem0-conformance: planted mutant {self.settings.mutant}")
        if self.settings.findings and not target.embedded:
            lines += [f"mem0-conformance: capability {finding.line()}" for finding in self.settings.findings]
        return lines

    @pytest.hookimpl(tryfirst=True)  # before xdist starts its workers: they get the surveyed target
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not self.settings.preflight or hasattr(session.config, "workerinput"):
            return
        from conformance.preflight import PreflightError, survey

        try:
            target, findings = survey(self.settings.target, self.settings.run_id)
        except PreflightError as exc:
            pytest.exit(f"mem0-conformance: {exc}.", returncode=exc.exit_code)
        self.settings = replace(self.settings, target=target, findings=findings, preflight=False)
        session.config.stash[SETTINGS] = self.settings
        self.verdicts.surveyed(self.settings)

    @pytest.hookimpl(tryfirst=True)  # before -k and -m deselect: an entry is checked against every collected test
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        unmatched_deviation(self.settings.target, [identity(item.nodeid) for item in items if in_suite(item)])
        # The SDK guard runs with --sdk (beside the suite) or --sdk-only (alone).
        if config.getoption("sdk_only", default=False):
            dropped = [item for item in items if in_suite(item) and item.get_closest_marker("sdk") is None]
        elif not config.getoption("sdk", default=False):
            dropped = [item for item in items if item.get_closest_marker("sdk") is not None]
        else:
            dropped = []
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            gone = set(dropped)
            items[:] = [item for item in items if item not in gone]
        target = self.settings.target
        bound = test_bound(target)
        for item in items:
            if in_suite(item) and item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(bound))
            deviation = deviation_for(target, item.nodeid)
            if deviation is not None:
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"known deviation of {target.name}: {deviation.reason}"))

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        needs = tuple(need for mark in item.iter_markers("requires") for need in mark.args)
        if needs:
            reasons = missing_needs(self.settings.target, needs)
            if reasons:
                pytest.skip("; ".join(reasons))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[_WORKER_LEAKS] = [(leak.kind, leak.ident, leak.why, leak.by_design) for leak in self.leaks]

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C between two instructions can leave a traceback entry without a line number (Python 3.11), and
        pytest's own report of the interrupt then crashes (exit 1, not 5): such entries are left out of it."""
        excinfo.traceback = excinfo.traceback.filter(has_line)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:  # xdist: collect the worker's leaks on the controller
        self.leaks.extend(Leak(*leak) for leak in getattr(node, "workeroutput", {}).get(_WORKER_LEAKS, []))

    def pytest_terminal_summary(self, terminalreporter, exitstatus: int, config: pytest.Config) -> None:
        leaks = [leak for leak in self.leaks if not leak.by_design]
        if leaks:
            terminalreporter.section("mem0-conformance: resources this run could not delete", red=True)
            for leak in leaks:
                terminalreporter.line(str(leak))
        kept = Counter(leak.kind for leak in self.leaks if leak.by_design)
        if kept and not self.settings.target.embedded:
            terminalreporter.section("mem0-conformance: left on the target by design (the API offers no delete)")
            terminalreporter.line(", ".join(f"{count} {kind}{'s' if count != 1 else ''}" for kind, count in sorted(kept.items())))


TIMEOUTS_PER_TEST = 40  # a test makes many requests: its bound is this many of the slowest request timeouts


def test_bound(target: Target) -> float:
    """How long one test of the suite may run (pytest-timeout): a target that stops answering
    ends as a broken test, never a hung run."""
    return TIMEOUTS_PER_TEST * max(api.timeout for api in (target.mem0, target.klavis) if api is not None)


def has_line(entry: Any) -> bool:
    """Whether a traceback entry knows its line (see ``Conformance.pytest_keyboard_interrupt``)."""
    try:
        entry.lineno  # noqa: B018 - the property raises TypeError where the line number is None
    except TypeError:
        return False
    return True


def worker_name(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "main"


def prefix(config: pytest.Config) -> str:
    return run_prefix(config.stash[SETTINGS].run_id, worker_name(config))


def unmatched_deviation(target: Target, collected: list[str]) -> None:
    """A ``[[deviations]]`` entry that names no test of the suite is an error of the target file (a usage error:
    exit 2), naming the entry and the closest test ids. An entry whose module this selection did not collect is
    checked only for that module's existence."""
    modules = {test.partition("::")[0] for test in collected}
    for deviation in target.deviations:
        module = deviation.test.partition("::")[0]
        if module in modules:
            if any(deviation_for(replace(target, deviations=(deviation,)), test) for test in collected):
                continue
        elif (SUITE / module).is_file():
            continue
        closest = difflib.get_close_matches(deviation.test, sorted({t.partition("[")[0] for t in collected}), n=3, cutoff=0)
        raise pytest.UsageError(f"the deviation for {deviation.test!r} in the target file {target.name!r} matches no test "
                                f"of the suite (closest: {', '.join(closest) or 'none'})")


def deviation_for(target: Target, nodeid: str):
    test = identity(nodeid)
    for deviation in target.deviations:
        if test == deviation.test or test.startswith((deviation.test + "[", deviation.test + "::")):
            return deviation
    return None


def missing_needs(target: Target, needs: tuple[str, ...]) -> list[str]:
    """The reasons ``target`` cannot run a test that ``requires(*needs)``."""
    reasons = []
    for need in needs:
        if need in ("mem0", "klavis"):
            ok = target.api(need) is not None
        elif need == "shared_data":
            ok = target.shared_data
        elif need == "destructive":
            ok = target.allow_destructive
        else:
            ok = any(api is not None and need in api.capabilities for api in (target.mem0, target.klavis))
        if not ok:
            reasons.append(NEEDS.get(need, f"the target does not offer {need!r} (the preflight found it missing; "
                                           "pin it in the target file to fail instead)"))
    return reasons
