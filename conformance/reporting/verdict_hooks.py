"""Grading and labelling each test of a run (registered by :class:`conformance.plugin.Conformance`).

Every phase report of a test gets a ``verdict`` (see :mod:`conformance.verdicts`); the test's
verdict is its first non-passing one. A failure prints one readable block (title, operation,
received vs documented, source, severity, where in the suite, the minimal Hypothesis example)
followed by the redacted exchanges, instead of a traceback; only errors of the suite itself keep
theirs. Allure gets, per test: epic (API), feature (resource or invariant family), story
(operation or invariant), severity, the verdict and the test identity as labels, and on failure
the exchanges, a curl reproducer per failing request and the minimal example as attachments.

On the controller the run's exit status follows the verdicts (:data:`EXIT_BROKEN` when the
target misbehaved and nothing failed) and, with a reports folder, the summary is written and
shown as a table at the end of the terminal output.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conformance import exits, liveness
from conformance.client import Exchange, Recorder, redact
from conformance.drift.explain import MARK
from conformance.nodes import SUITE, identity, in_suite
from conformance.verdicts import (
    BROKEN,
    DEVIATION,
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    ContractViolation,
    Severity,
    TargetBroken,
    broken_cause,
    classify,
    hypothesis_notes,
    inconsistent,
    violations,
)

API_TITLES = {"mem0": "Mem0 platform", "klavis": "Klavis sandbox", "sdk": "SDK"}
EXIT_FAILED, EXIT_INCOMPLETE, EXIT_BROKEN = exits.FAILED, exits.INCOMPLETE, exits.BROKEN
EXCHANGES_SECTION = "exchanged requests (keys redacted)"
_FAILURE = pytest.StashKey[dict[str, str]]()
_VERDICT = pytest.StashKey[str]()


def labels_of(item: pytest.Item) -> dict[str, str]:
    """API, epic, feature and story of a test, from its ``contract`` and ``requires`` markers."""
    mark = item.get_closest_marker("contract")
    kwargs = mark.kwargs if mark else {}
    api = kwargs.get("api")
    if api is None:
        needs = {need for m in item.iter_markers("requires") for need in m.args} & set(API_TITLES)
        api = needs.pop() if len(needs) == 1 else "mem0"
    name = getattr(item, "originalname", item.name)
    story = kwargs.get("story") or name.removeprefix("test_").replace("_s_", "'s ").replace("_", " ")
    return {"api": api, "epic": API_TITLES[api], "feature": mark.args[0] if mark and mark.args else "Other",
            "story": story}


class Verdicts:
    """The hooks that grade, label and report (one instance per run and process)."""

    def __init__(self, settings: Any, recorder: Recorder, successes: Counter[str] | None = None) -> None:
        self.settings = settings
        self.recorder = recorder
        self.successes = successes if successes is not None else Counter()  # validated 2xx per operation
        self.verdicts: dict[str, str] = {}  # controller: test id -> verdict
        # Keys never reach a report: schemathesis's reproducers and Hypothesis's notes may hold them.
        self.secrets = tuple(api.key for api in (settings.target.mem0, settings.target.klavis) if api is not None and api.key)
        self.summary = None
        self.nothing_selected = False  # the selection held no test: no summary is written
        self.silent: str | None = None  # why the run stopped early: the target stopped answering
        self.broken: list[pytest.TestReport] = []  # pytest shows failures and errors, not these
        self._drift: list[dict[str, Any]] | None = None  # the drift reports of run --drift, read on first use

    # --- where the reports go (called from the plugin's pytest_configure, before allure-pytest's) ------
    def prepare(self, config: pytest.Config) -> None:
        reports = self.settings.reports
        if reports is None:
            return
        from conformance.reporting import JUNIT, RESULTS_DIR
        from conformance.reporting.results import prepare

        config.option.allure_report_dir = str(reports / RESULTS_DIR)
        if not hasattr(config, "workerinput"):
            prepare(reports / RESULTS_DIR, self.settings)
            if not getattr(config.option, "xmlpath", None):
                config.option.xmlpath = str(reports / JUNIT)

    def surveyed(self, settings: Any) -> None:
        """The preflight of a plain pytest session found the target's capabilities: record them too."""
        self.settings = settings
        if settings.reports is not None:
            from conformance.reporting import RESULTS_DIR
            from conformance.reporting.results import write_environment

            write_environment(settings.reports / RESULTS_DIR, settings)

    # --- grading --------------------------------------------------------------------------------------
    # Outermost: the exception is normalised before pytest, the xfail logic and allure-pytest read it,
    # and the verdict is taken from the report they made (an xfail is a skipped report by then).
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        if not in_suite(item):  # the project's own tests load the plugin too: theirs are plain pytest reports
            return (yield)
        failure = None
        if call.excinfo is not None and not isinstance(call.excinfo.value, (pytest.skip.Exception, pytest.xfail.Exception)):
            failure = self._normalise(item, call)
        report = yield
        verdict = _verdict(report, failure)
        report.verdict = verdict
        if failure is not None and verdict in (FAILED, BROKEN):
            report.longrepr = failure["block"]
        elif report.failed and report.longrepr is not None:
            report.longrepr = redact(str(report.longrepr), self.secrets)  # an error of the suite: its traceback
        if verdict in (FAILED, BROKEN, ERROR) and call.when in ("setup", "call"):
            exchanges = self.recorder.render()
            if exchanges:
                report.sections.append((EXCHANGES_SECTION, exchanges))
            if failure is not None:
                failure["exchanges"] = exchanges
                failure["curl"] = curl_reproducers(list(self.recorder), failure["request"])
                item.stash[_FAILURE] = failure
        if verdict != PASSED and _VERDICT not in item.stash:
            item.stash[_VERDICT] = verdict
        if call.when == "teardown":
            self._label(item, item.stash.get(_VERDICT, PASSED))
        return report

    def _normalise(self, item: pytest.Item, call: pytest.CallInfo) -> dict[str, str]:
        """Make the exception say its verdict (for pytest and Allure alike); the failure's texts.

        A failure becomes its :class:`ContractViolation` (a plain assertion one whose documented
        side is the test's stated expectation), trouble on the way a :class:`TargetBroken`.
        """
        exc = call.excinfo.value
        verdict = classify(exc)
        notes = hypothesis_notes(exc)
        found = violations(exc)
        if verdict == FAILED and found and exc is not found[0]:
            exc = found[0]
        elif verdict == FAILED and not found:
            exc = _as_violation(exc, item)
        elif verdict == BROKEN and not isinstance(exc, TargetBroken):
            exc = TargetBroken(broken_cause(exc) or type(exc).__name__)
        exc.args = tuple(redact(arg, self.secrets) if isinstance(arg, str) else arg for arg in exc.args)
        notes = [redact(note, self.secrets) for note in notes]
        exc.__notes__ = notes
        if exc is not call.excinfo.value:
            if exc.__traceback__ is None:
                exc.__traceback__ = call.excinfo.value.__traceback__
            call.excinfo = pytest.ExceptionInfo.from_exception(exc)
        where = _where(call.excinfo)
        severity = exc.severity if isinstance(exc, ContractViolation) else Severity.BLOCKER if verdict == BROKEN else Severity.NORMAL
        head = str(exc) if isinstance(exc, ContractViolation) else f"BROKEN: {exc}" if verdict == BROKEN else ""
        explained = self._explained(exc) if verdict == FAILED and isinstance(exc, ContractViolation) else []
        if explained:
            head += "".join(f"\n  {MARK}: {line}" for line in explained[:3])
            if len(explained) > 3:
                head += f"\n  ... and {len(explained) - 3} more differences of the newer document"
            exc.args = (head,)
        block = "\n".join([head, f"  at {where}" if where else "", *notes]).replace("\n\n", "\n").strip()
        return {"verdict": verdict, "block": block, "notes": "\n".join(notes), "severity": str(severity),
                "request": " ".join(exc.request) if isinstance(exc, ContractViolation) and exc.request else "",
                "drift": "\n".join(explained)}

    def _explained(self, violation: ContractViolation) -> list[str]:
        """The differences of the newer published documents (run --drift) that explain a violation."""
        if not self.settings.drift:
            return []
        from conformance.drift.explain import explain, load

        if self._drift is None:
            self._drift = load(Path(path) for path in self.settings.drift)
        found = explain(self._drift, violation.operation, title=violation.title, documented=str(violation.documented),
                        received=violation.received, request=violation.request)
        return [explanation.line() for explanation in found]

    def _label(self, item: pytest.Item, verdict: str) -> None:
        """Allure labels and, for a failure, attachments (while the test's Allure result is open)."""
        if self.settings.reports is None:
            return
        import allure

        labels = labels_of(item)
        failure = item.stash.get(_FAILURE, None)
        severity = failure["severity"] if failure and verdict in (FAILED, BROKEN) else Severity.NORMAL
        for name in ("epic", "feature", "story"):
            allure.dynamic.label(name, labels[name])
        allure.dynamic.label("severity", str(severity))
        allure.dynamic.label("verdict", verdict)
        allure.dynamic.label("testId", identity(item.nodeid))
        allure.dynamic.label("api", labels["api"])
        if failure is None:
            return
        if failure.get("exchanges"):
            allure.attach(failure["exchanges"], name=EXCHANGES_SECTION, attachment_type=allure.attachment_type.TEXT)
        if failure["curl"]:
            allure.attach(failure["curl"], name="curl reproducer", attachment_type=allure.attachment_type.TEXT)
        if failure["notes"]:
            allure.attach(failure["notes"], name="minimal Hypothesis example", attachment_type=allure.attachment_type.TEXT)
        if failure.get("drift") and verdict == FAILED:
            allure.dynamic.label("drift", "explained")
            allure.attach(failure["drift"], name=MARK, attachment_type=allure.attachment_type.TEXT)

    def pytest_report_teststatus(self, report: pytest.TestReport):
        verdict = getattr(report, "verdict", None)
        if not report.failed or verdict is None:
            return None
        if verdict == BROKEN:
            return "broken", "B", ("BROKEN", {"yellow": True})
        if verdict == FAILED and report.when != "call":  # a fixture the target's answer broke: failed, not error
            return "failed", "F", ("FAILED", {"red": True})
        if verdict == ERROR and report.when == "call":
            return "error", "E", ("ERROR", {"red": True})
        return None

    # --- the controller: exit status, summary ---------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session
        apis = [api for api in (self.settings.target.mem0, self.settings.target.klavis) if api is not None]
        if apis:  # two requests in a row unanswered for their whole timeout: the target is gone
            liveness.WATCH.silence = liveness.SILENCE_TIMEOUTS * max(api.timeout for api in apis)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        verdict = getattr(report, "verdict", None)
        key = identity(report.nodeid)
        if verdict is not None and (self.verdicts.get(key, PASSED) == PASSED):
            self.verdicts[key] = verdict
        if verdict == BROKEN and report.failed:
            self.broken.append(report)
            if self.silent is None and liveness.STOPPED in (report.longreprtext or ""):
                self._stop(f"{liveness.STOPPED} (no answer for {liveness.WATCH.silence:.0f} s)")

    def _stop(self, reason: str) -> None:
        """End the run after the tests in progress: the target is gone (see :mod:`conformance.liveness`)."""
        self.silent = reason
        session = getattr(self, "session", None)
        dsession = session.config.pluginmanager.getplugin("dsession") if session is not None else None
        if dsession is not None:  # xdist's controller stops its workers
            dsession.shouldstop = reason
        elif session is not None:
            session.shouldstop = reason

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.settings.reports is not None:
            from conformance.reporting import RESULTS_DIR
            from conformance.reporting.results import write_successes

            workerinput = getattr(session.config, "workerinput", None)
            write_successes(self.settings.reports / RESULTS_DIR, workerinput["workerid"] if workerinput else "main",
                            self.successes)
        if hasattr(session.config, "workerinput"):
            return
        found = set(self.verdicts.values())
        if self.silent is not None:  # stopped because the target went silent: broken, whatever else happened
            session.exitstatus = EXIT_FAILED if FAILED in found else EXIT_BROKEN
        elif session.exitstatus == EXIT_FAILED and FAILED not in found:
            session.exitstatus = EXIT_INCOMPLETE if ERROR in found else EXIT_BROKEN if BROKEN in found else EXIT_FAILED
        if session.exitstatus in (pytest.ExitCode.NO_TESTS_COLLECTED, pytest.ExitCode.USAGE_ERROR):
            # nothing ran: an empty summary would replace the last run's, so that one stays
            self.nothing_selected = session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED
            return
        if self.settings.reports is not None:
            from conformance.reporting import RESULTS_DIR
            from conformance.reporting.results import drop_bookkeeping_teardowns
            from conformance.reporting.summary import write_summary

            drop_bookkeeping_teardowns(self.settings.reports / RESULTS_DIR)

            interrupted = session.exitstatus == pytest.ExitCode.INTERRUPTED
            selected = len(getattr(session, "items", None) or ()) or session.testscollected
            left = f"{max(selected - len(self.verdicts), 0)} of {selected} tests not run"
            incomplete = (f"{self.silent}: {left}" if self.silent is not None
                          else f"interrupted: {left}" if interrupted else None)
            self.summary = write_summary(self.settings.reports, incomplete=incomplete)

    def pytest_terminal_summary(self, terminalreporter, exitstatus: int, config: pytest.Config) -> None:
        if self.broken and config.option.tbstyle != "no":
            terminalreporter.write_sep("=", "BROKEN (the target or the network misbehaved)", yellow=True)
            for report in self.broken:
                terminalreporter.write_sep("_", report.head_line or report.nodeid, yellow=True)
                terminalreporter.line(str(report.longrepr))
                for title, text in report.sections:
                    terminalreporter.write_sep("-", title)
                    terminalreporter.line(text)
        if self.nothing_selected:
            terminalreporter.line("mem0-conformance: no test of the suite matches this selection, so nothing ran; the "
                                  "previous summary is kept")
        if self.summary is None:
            return
        from conformance.reporting.summary import render_text

        terminalreporter.section("mem0-conformance: conformance summary")
        for line in render_text(self.summary).splitlines():
            terminalreporter.line(line)
        built = "the HTML report follows" if self.settings.html else "`mem0-conformance report` builds the HTML report"
        terminalreporter.line(f"reports: {self.settings.reports} (summary.md, summary.json, junit.xml, allure-results/; "
                              f"{built})")


def _as_violation(exc: BaseException, item: pytest.Item) -> ContractViolation:
    """A plain failed assertion as a violation: its message received, the test's docstring documented."""
    first, _, rest = (str(exc).strip() or type(exc).__name__).partition("\n")
    if inconsistent(exc):
        first, rest = ("the target answered the same steps differently when Hypothesis replayed a failure",
                       f"{type(exc).__name__}: {str(exc).strip()}")
    expectation = " ".join((getattr(getattr(item, "function", None), "__doc__", None) or "").split())
    violation = ContractViolation(first, received=rest.strip() or first,
                                  documented=expectation or "the expectation of the test")
    violation.__traceback__ = exc.__traceback__
    return violation


def _verdict(report: pytest.TestReport, failure: dict[str, str] | None) -> str:
    if report.passed:
        return PASSED
    if report.skipped:
        return DEVIATION if hasattr(report, "wasxfail") else SKIPPED
    if failure is not None:
        return failure["verdict"]
    return FAILED  # a strict xfail that passed: the listed deviation no longer happens


def _where(excinfo: pytest.ExceptionInfo) -> str:
    """``file:line in function`` of the innermost frame of the suite (or of the test) that raised."""
    entries = [entry for entry in excinfo.traceback if Path(str(entry.path)).is_relative_to(SUITE)]
    if not entries:
        return ""
    entry = entries[-1]
    return f"{Path(str(entry.path)).relative_to(SUITE)}:{entry.lineno + 1} in {entry.name}"


def curl_reproducers(exchanges: list[Exchange], request: str) -> str:
    """A curl command for each failing request: the one the violation names, else those answered
    4xx/5xx or not at all, else the last one."""
    method, _, url = request.partition(" ")
    chosen = [e for e in exchanges if (e.method, e.url) == (method, url)][-1:] if request else []
    chosen = chosen or [e for e in exchanges if e.error is not None or (e.status or 0) >= 400][-5:] or exchanges[-1:]
    return "\n\n".join(f"# {e.method} {e.url} -> {e.status or e.error}\n{e.curl()}" for e in chosen)
