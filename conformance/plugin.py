"""The pytest plugin (entry point ``pytest11``) that every conformance run goes through.

- Hypothesis: loads the profile picked by the environment (:mod:`conformance.profiles`) unless
  ``--hypothesis-profile`` was given, and shows the choice in the session header.
- Target: ``--mem0-url``, ``--klavis-url``, ``--target FILE``, ``--allow-destructive`` (see
  :mod:`conformance.targets`); with none of them the suite's fixtures start the embedded
  reference server, one per xdist worker, with the faults of ``--reference-fault``.
- Preflight: before any test, a configured target must answer and accept its keys, else the
  session stops with one sentence and exit code 3 (unreachable) or 4 (key rejected).
- ``requires`` marker: a test that needs an API, shared data, destructive operations or a
  capability the target lacks is skipped with the reason.
- Known deviations of the target become strict xfails, matched by test identity
  (``<file>::<test>``, optionally with ``[parameters]``).
- A failing test's report gets a section with the HTTP exchanges of that test, keys redacted.
- Resources the run could not delete again are reported at the end (also from xdist workers).

Nothing here runs for a session that names no target and collects no suite test: the
project's own tests load the plugin too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.client import Recorder
from conformance.cleanup import Leak, new_run_id, run_prefix
from conformance.profiles import ProfileError, load_profile
from conformance.targets import Target, TargetError, embedded, resolve

PROFILE = pytest.StashKey[str]()
TARGET = pytest.StashKey[Target]()  # the configured target, or the embedded placeholder
RUN_ID = pytest.StashKey[str]()
RECORDER = pytest.StashKey[Recorder]()
LEAKS = pytest.StashKey[list[Leak]]()
FAULTS = pytest.StashKey[frozenset[str]]()

NEEDS = {
    "mem0": "the target has no Mem0 API",
    "klavis": "the target has no Klavis API",
    "shared_data": "the target does not say that Klavis sandboxes and Mem0 memories share data",
    "destructive": "needs unscoped or destructive operations: only on the reference server or with --allow-destructive",
}
_WORKER_RUN_ID = "mem0_conformance_run_id"
_WORKER_LEAKS = "mem0_conformance_leaks"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mem0-conformance", "mem0-conformance target")
    group.addoption("--mem0-url", metavar="URL", help="Mem0 API to test (key: $MEM0_API_KEY)")
    group.addoption("--klavis-url", metavar="URL", help="Klavis API to test (key: $KLAVIS_API_KEY)")
    group.addoption("--target", metavar="FILE", type=Path, help="target file (TOML): URLs, keys, timeouts, deviations")
    group.addoption("--allow-destructive", action="store_true", default=False,
                    help="allow unscoped deletes and organization/project/member removal on a live target")
    group.addoption("--no-preflight", action="store_true", default=False,
                    help="do not check that the target answers and accepts the keys (the caller has)")
    group.addoption("--reference-fault", action="append", default=[], metavar="NAME",
                    help="plant this fault in the embedded reference server (repeatable)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires(*needs): skip unless the target has each need: mem0, klavis, shared_data, destructive, "
        "or a capability named in the target file",
    )
    if not config.getoption("hypothesis_profile", default=None):  # an explicit --hypothesis-profile wins
        try:
            config.stash[PROFILE] = load_profile()
        except ProfileError as exc:
            raise pytest.UsageError(str(exc)) from None
    try:
        target = resolve(
            target_file=config.getoption("target"),
            mem0_url=config.getoption("mem0_url"),
            klavis_url=config.getoption("klavis_url"),
            allow_destructive=config.getoption("allow_destructive"),
        )
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None
    faults = frozenset(config.getoption("reference_fault"))
    if faults:
        if target is not None:
            raise pytest.UsageError("--reference-fault applies only to the embedded reference server, not to a target")
        from conformance.server.faults import UnknownFault, validate

        try:
            validate(faults)
        except UnknownFault as exc:
            raise pytest.UsageError(str(exc)) from None
    config.stash[FAULTS] = faults
    config.stash[TARGET] = target if target is not None else embedded("")
    workerinput = getattr(config, "workerinput", None)
    config.stash[RUN_ID] = workerinput[_WORKER_RUN_ID] if workerinput else new_run_id()
    config.stash[RECORDER] = Recorder()
    config.stash[LEAKS] = []


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # xdist: every worker shares the controller's run id
    node.workerinput[_WORKER_RUN_ID] = node.config.stash[RUN_ID]


def worker_name(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "main"


def prefix(config: pytest.Config) -> str:
    return run_prefix(config.stash[RUN_ID], worker_name(config))


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    name = config.stash.get(PROFILE, None)
    if name:
        lines.append(f"mem0-conformance: hypothesis profile {name!r}")
    target = config.stash.get(TARGET, None)
    if target is not None and (not target.embedded or config.stash[FAULTS]):
        apis = ", ".join(f"{api.api} {api.url}" for api in (target.mem0, target.klavis) if api is not None and api.url)
        faults = ", ".join(sorted(config.stash[FAULTS]))
        lines.append(f"mem0-conformance: target {target.name}" + (f" ({apis})" if apis else "")
                     + (f", planted faults: {faults}" if faults else "") + f", run {config.stash[RUN_ID]}")
    return lines


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    target = config.stash[TARGET]
    if target.embedded or hasattr(config, "workerinput") or config.getoption("no_preflight"):
        return
    from conformance.preflight import PreflightError, check

    try:
        check(target)
    except PreflightError as exc:
        pytest.exit(f"mem0-conformance: {exc}.", returncode=exc.exit_code)


def _identity(nodeid: str) -> str:
    """``<file>::<test>[params]`` of a node id, whatever the rootdir."""
    path, sep, rest = nodeid.partition("::")
    return path.rsplit("/", 1)[-1] + sep + rest


def deviation_for(target: Target, nodeid: str):
    identity = _identity(nodeid)
    for deviation in target.deviations:
        if identity == deviation.test or identity.startswith((deviation.test + "[", deviation.test + "::")):
            return deviation
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    target = config.stash[TARGET]
    for item in items:
        deviation = deviation_for(target, item.nodeid)
        if deviation is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"known deviation of {target.name}: {deviation.reason}"))


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
            reasons.append(NEEDS.get(need, f"the target does not list the capability {need!r}"))
    return reasons


def pytest_runtest_setup(item: pytest.Item) -> None:
    needs = tuple(need for mark in item.iter_markers("requires") for need in mark.args)
    if needs:
        reasons = missing_needs(item.config.stash[TARGET], needs)
        if reasons:
            pytest.skip("; ".join(reasons))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed and call.when in ("setup", "call"):
        recorder = item.config.stash.get(RECORDER, None)
        text = recorder.render() if recorder is not None else ""
        if text:
            report.sections.append(("exchanged requests (keys redacted)", text))
    return report


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_WORKER_LEAKS] = [(leak.kind, leak.ident, leak.why) for leak in session.config.stash[LEAKS]]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # xdist: collect the worker's leaks on the controller
    leaks = getattr(node, "workeroutput", {}).get(_WORKER_LEAKS, [])
    node.config.stash[LEAKS].extend(Leak(*leak) for leak in leaks)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    leaks = config.stash.get(LEAKS, [])
    if leaks:
        terminalreporter.section("mem0-conformance: resources this run could not delete", red=True)
        for leak in leaks:
            terminalreporter.line(str(leak))
