"""The mutation run: every chosen mutant against the tests that exercise its operation, in one pytest session.

One pytest session collects the suite (or plain schemathesis, the yardstick) once, then its run loop
(this plugin's ``pytest_runtestloop``) does, instead of a plain run:

1. the green baseline: every test the chosen mutants need, once, against the unmutated reference
   server. Any failure there stops the run: a kill must mean the mutant, never a suite that fails
   anyway (no false kills);
2. per mutant: a fresh reference server with the mutant planted (the session's fixtures are torn
   down between mutants), then the tests that reached its site in the coverage index, quickest
   first, until one fails. The outcome: *killed* (by which test, after how many requests and seconds), *timed
   out* (a test ran past its bound: 10 times its baseline time, at least 15 s), *survived*, or
   *error* (no test failed, but one crashed: a bug of the suite that a mutant brought out).

Tests run through pytest's own ``runtestprotocol``; a test's verdict is the suite's
(:mod:`conformance.verdicts`): only a *failed* verdict kills.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from _pytest.runner import runtestprotocol

from conformance import plugin
from conformance.catalogue.mutants import Mutant
from conformance.mutants.coverage import Coverage
from conformance.verdicts import (
    BROKEN,
    ERROR,
    FAILED,
    OVER_BOUND,
    PASSED,
    TIMEOUT_MESSAGE,
    TargetBroken,
    causes,
    classify,
)

KILLED, TIMED_OUT, SURVIVED, ERRORED = "killed", "timed out", "survived", "error"
BOUND_FACTOR, BOUND_FLOOR = 10.0, 15.0  # a test's bound under a mutant: 10x its baseline time, at least 15 s


@dataclass
class Outcome:
    id: str
    status: str
    killed_by: str | None = None
    requests: int | None = None  # requests the server answered until the kill
    seconds: float = 0.0  # from the mutant's first test to its verdict
    activations: int = 0  # how often the mutant changed what the server did
    tests: int = 0  # tests run against it
    detail: str = ""  # the killing failure's first line, or why none came

    def to_wire(self) -> dict[str, Any]:
        return {"status": self.status, "killed_by": self.killed_by, "requests": self.requests,
                "seconds": round(self.seconds, 3), "activations": self.activations, "tests": self.tests,
                "detail": self.detail}


class BaselineFailed(Exception):
    """The unmutated server fails a test: mutants cannot be judged against this suite."""


class MutationRun:
    """The pytest plugin of one mutation run (see the module docstring)."""

    def __init__(self, mutants: list[Mutant], coverage: Coverage, *,
                 progress: Callable[[Mutant, Outcome, int, int], None] | None = None) -> None:
        self.mutants = mutants
        self.coverage = coverage
        self.progress = progress
        self.outcomes: list[Outcome] = []
        self.baseline: dict[str, str] = {}  # test -> verdict on the unmutated server
        self.baseline_seconds = 0.0
        self.unindexed: list[str] = []  # collected tests the coverage index does not know
        self.items: dict[str, pytest.Item] = {}

    @staticmethod
    def _new_server(session: pytest.Session, servers: list[Any]) -> None:
        """Tear every fixture down, the embedded server with them (kept in ``servers`` for its counts)."""
        session._setupstate.teardown_exact(None)
        server = session.config.stash.get(plugin.EMBEDDED, None)
        if server is not None and all(server is not known for known in servers):
            servers.append(server)
        session.config.stash[plugin.EMBEDDED] = None

    def tests_of(self, mutant: Mutant) -> list[str]:
        """The tests a mutant runs against: those that exercised its operation, then any the index does not know."""
        return [test for test in self.coverage.covering(mutant.reaches) if test in self.items] + self.unindexed

    # --- collection ------------------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)  # after the suite's own selection (the SDK guard stays out)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        known = {plugin.identity(item.nodeid): item for item in items}
        self.unindexed = [test for test in known if test not in self.coverage.tests]
        wanted = {test for mutant in self.mutants for test in self.coverage.covering(mutant.reaches)}
        wanted |= set(self.unindexed)
        dropped = [item for test, item in known.items() if test not in wanted]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if plugin.identity(item.nodeid) in wanted]
        self.items = {plugin.identity(item.nodeid): item for item in items}

    # --- grading (plain schemathesis's tests have no verdict of the suite's) ---------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
        report = yield
        excinfo = call.excinfo
        if excinfo is not None and not isinstance(excinfo.value, pytest.skip.Exception):
            if getattr(report, "verdict", None) is None:
                report.verdict = classify(excinfo.value)
            report.timed_out = timed_out_by(excinfo.value)
        return report

    # --- the loop ----------------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if session.config.option.collectonly:
            return True
        order = [plugin.identity(item.nodeid) for item in session.items]
        self._baseline(session, order)
        for number, mutant in enumerate(self.mutants, start=1):
            outcome = self._judge(session, mutant)
            self.outcomes.append(outcome)
            if self.progress is not None:
                self.progress(mutant, outcome, number, len(self.mutants))
            if session.shouldstop:
                raise session.Interrupted(session.shouldstop)
        return True

    def _baseline(self, session: pytest.Session, order: list[str]) -> None:
        session.config.stash[plugin.MUTANT] = None
        started = time.monotonic()
        failing = []
        for position, test in enumerate(order):
            nextitem = self.items[order[position + 1]] if position + 1 < len(order) else None
            item = self.items[test]
            began = time.monotonic()
            verdict, _, _ = _verdict(runtestprotocol(item, log=False, nextitem=nextitem))
            self.baseline[test] = verdict
            bound = max(BOUND_FLOOR, BOUND_FACTOR * (time.monotonic() - began))
            item.add_marker(pytest.mark.timeout(bound, func_only=True), append=False)  # runtestprotocol sets no timer of its own
            if verdict not in (PASSED, "skipped"):
                failing.append(f"{test} ({verdict})")
        self.baseline_seconds = time.monotonic() - started
        if failing:
            raise BaselineFailed(f"the unmutated reference server fails {len(failing)} test(s): {', '.join(failing[:3])}")

    def _judge(self, session: pytest.Session, mutant: Mutant) -> Outcome:
        config = session.config
        config.stash[plugin.MUTANT] = mutant.id
        config.stash[plugin.EMBEDDED] = None
        tests = self.tests_of(mutant)
        outcome = Outcome(mutant.id, SURVIVED)
        started = time.monotonic()
        errors: list[str] = []
        servers: list[Any] = []  # every server this mutant was planted in (a broken test gets the next one a new one)
        try:
            for position, test in enumerate(tests):
                nextitem = self.items[tests[position + 1]] if position + 1 < len(tests) else None
                verdict, detail, timed_out = _verdict(runtestprotocol(self.items[test], log=False, nextitem=nextitem))
                outcome.tests += 1
                server = config.stash.get(plugin.EMBEDDED, None)
                if timed_out:
                    outcome.status, outcome.killed_by, outcome.detail = TIMED_OUT, test, detail
                    break
                if verdict == FAILED:
                    outcome.status, outcome.killed_by, outcome.detail = KILLED, test, detail
                    outcome.requests = server.served if server is not None else None
                    break
                if verdict in (ERROR, BROKEN):
                    errors.append(f"{test}: {detail}")
                    # what the broken test left (a store grown past its time bound, half-made resources) must not
                    # decide the tests after it: they get a new server with the mutant planted again
                    self._new_server(session, servers)
        finally:
            self._new_server(session, servers)  # the next mutant gets a new server and new fixtures
            outcome.activations = sum(getattr(server.planted, "activations", 0) for server in servers
                                      if getattr(server, "planted", None) is not None)
            failed = sum(getattr(server, "errors", 0) for server in servers)
            if failed:  # a 500 is the reference server failing, not a kill of the contract
                outcome.status, outcome.killed_by = ERRORED, None
                outcome.detail = f"the reference server failed {failed} time(s) (500) with the mutant planted"
            outcome.seconds = time.monotonic() - started
            config.stash[plugin.MUTANT] = None
        if outcome.status == SURVIVED:
            if errors:
                outcome.status, outcome.detail = ERRORED, errors[0]
            elif not tests:
                outcome.detail = "no test reaches it (sends that parameter, gets that property back, makes that change)"
            elif not outcome.activations:
                outcome.detail = "never activated: no test made it change anything"
            else:
                outcome.detail = f"activated {outcome.activations} times; no test told it apart"
        return outcome


def timed_out_by(exc: BaseException) -> bool:
    """Whether the test ran past its bound: pytest-timeout's failure anywhere in what the test raised (the suite
    reports a schemathesis test over its bound as the target broken, and a mutant that makes it so is
    detected by timing out)."""
    return any(isinstance(cause, pytest.fail.Exception) and str(cause).startswith(TIMEOUT_MESSAGE)
               or isinstance(cause, TargetBroken) and cause.cause.startswith(f"{OVER_BOUND}: {TIMEOUT_MESSAGE}")
               for cause in causes(exc))


def _verdict(reports: list[pytest.TestReport]) -> tuple[str, str, bool]:
    """A test's verdict from its phase reports (the first that is not passed), the first line of its
    failure, and whether it ran past its bound."""
    for report in reports:
        verdict = getattr(report, "verdict", None) or (PASSED if report.passed else "skipped" if report.skipped
                                                         else FAILED)
        if report.failed:
            text = (report.longreprtext or "").strip()
            return verdict, text.splitlines()[0][:300] if text else "", bool(getattr(report, "timed_out", False))
        if report.skipped and report.when != "teardown":
            return "skipped", "", False
    return PASSED, "", False
