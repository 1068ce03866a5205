"""The schemathesis engine of the suite: the effective documents loaded into schemathesis with the shared
settings file (``conformance/schemathesis.toml``), one operation's test (examples, coverage, fuzzing, then
its success path), the stateful workflow, and schemathesis's failures as the suite's verdicts.

Used by the suite's ``test_schema.py``, by ``bench/`` and by the plain-schemathesis baseline of the
mutation run. Where requests go and how they are kept safe is the caller's: a :class:`Sender` carries
the target's URL and key, the run's HTTP session and its safety hooks (:mod:`conformance.suite.call_hooks`);
what each operation's success path sends is :mod:`conformance.suite.success_paths`.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import SkipTest

import pytest
import requests
import schemathesis
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import load_all_checks
from schemathesis.core.parameters import ParameterLocation
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.filters import FilterSet
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import ignored_auth
from schemathesis.transport import requests as schemathesis_requests

import conformance
from conformance import retries
from conformance.apis import UNSERVED
from conformance.specs import HTTP_METHODS, effective
from conformance.suite.call_hooks import CallHooks
from conformance.suite.success_paths import NO_BODY, RECIPES, Request, Unavailable
from conformance.verdicts import ContractViolation, Severity, Source, TargetBroken, operation_source

CONFIG_FILE = Path(conformance.__file__).with_name("schemathesis.toml")
MODES = ["positive", "negative"]
PHASES = ["examples", "coverage", "fuzzing", "stateful"]
# The benchmark (bench/suite.py) times each phase alone: MEM0_CONFORMANCE_PHASES=coverage, say.
PHASES = [phase for phase in os.environ.get("MEM0_CONFORMANCE_PHASES", ",".join(PHASES)).split(",") if phase in PHASES]
STATEFUL_STEPS = 10
# The coverage phase is not bounded by max_examples: it derives every boundary and every type
# mutation of every property (about 3000 cases for both documents, two thirds of them negative
# type swaps). dev and ci keep its positive cases and leave negative data to the fuzzing phase
# (still half of each operation's budget); a profile with a budget of FULL_COVERAGE_FROM
# examples or more (thorough) runs the coverage phase in both modes.
COVERAGE_MODES_LEAN = ["positive"]
FULL_COVERAGE_FROM = 100


@dataclass(frozen=True)
class Sender:
    """Where and how schemathesis sends requests; the key stays out of ``repr`` (and so of tracebacks)."""

    base_url: str
    authorization: str = field(repr=False)
    timeout: float = 30.0
    http: requests.Session | None = field(default=None, repr=False, compare=False)  # keeps connections alive
    successes: Counter[str] | None = field(default=None, repr=False, compare=False)  # validated 2xx per operation
    hooks: CallHooks | None = field(default=None, repr=False, compare=False)  # the run's safety hooks for these calls
    # Operations whose authentication schemathesis's ignored_auth check has confirmed (see skipped_checks)
    auth_confirmed: set[str] = field(default_factory=set, repr=False, compare=False)

    def validated(self, case: Any, response: Any) -> None:
        """The answer to ``case`` passed every check: a 2xx counts as its operation's success path exercised."""
        if 200 <= response.status_code < 300:
            if self.successes is not None:
                self.successes[case.operation.label] += 1
            if case.meta is None or not case.meta.is_negative_at(ParameterLocation.PATH):
                self.auth_confirmed.add(case.operation.label)  # ignored_auth probed this answer, and passed

    def skipped_checks(self, case: Any) -> list[Any] | None:
        """The checks not to run on the answer to ``case``: ``ignored_auth`` once it confirmed the operation.

        On every 2xx ``ignored_auth`` sends the request again without the key and with a wrong one (two
        more requests per case). Enforcement is a property of the operation, so schemathesis's own runner
        confirms it once per operation and run; its ``validate_response`` (the one the suite calls) cannot
        remember, so the sender does: once per operation and sender (one test).
        """
        return [ignored_auth] if case.operation.label in self.auth_confirmed else None

    def kwargs(self) -> dict[str, Any]:
        kwargs = {"base_url": self.base_url, "headers": {"Authorization": self.authorization}, "timeout": self.timeout}
        return kwargs if self.http is None else {**kwargs, "session": self.http}


class _RetryingProbeSession(schemathesis_requests.SameHostRedirectsSession):
    """The session schemathesis opens for a request sent without one, with the suite's retry policy."""

    def __init__(self) -> None:
        super().__init__()
        retries.mount(self)


# Every request of a test goes through the suite's session (Sender.kwargs), but schemathesis sends its checks'
# extra requests (ignored_auth's probes without and with a wrong key) on a session of its own, opened per
# request: that session class gets the same retry policy, so a 429 or 503 with Retry-After on a probe is
# waited out like on any other request (schemathesis 4 offers no setting for the probes' session).
schemathesis_requests.SameHostRedirectsSession = _RetryingProbeSession


@functools.cache
def _settings_file() -> dict[str, Any]:
    """``conformance/schemathesis.toml``, read and parsed once per process."""
    return tomllib.loads(CONFIG_FILE.read_text(encoding="utf-8"))


def schema_of(api: str, sender: Sender, *, exclude: frozenset[str] = frozenset()) -> Any:
    """A schemathesis schema of the effective document bound to the target, with the shared settings
    file, both generation modes and every phase.

    The key goes into the configuration (not only into each call), so that schemathesis knows
    the security requirement is met: otherwise every case counts as lacking it, i.e. negative.
    """
    config = SchemathesisConfig.from_dict(copy.deepcopy(_settings_file()))  # a fresh config: it is updated below
    project = config.projects.default
    project.update(base_url=sender.base_url, headers={"Authorization": sender.authorization})
    project.generation.update(modes=MODES)
    project.phases.update(phases=PHASES)
    project.update(request_retries=retries.ATTEMPTS)  # its own requests (the auth probes too) after no answer
    if settings().max_examples < FULL_COVERAGE_FROM:
        project.phases.coverage.generation.update(modes=COVERAGE_MODES_LEAN)
    schema = schemathesis.openapi.from_dict(effective(api), config=config)
    return schema.exclude(operation_id=sorted(exclude)) if exclude else schema


def _labels(api: str) -> dict[str, str]:
    """``METHOD /path`` of every operation of the effective document -> its operationId, in document order."""
    return {f"{method} {path}": operation_id for method, path, operation_id in operations_of(effective(api))}


def operations_of(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(method.upper(), path, operation.get("operationId", ""))
            for path, item in document["paths"].items() for method, operation in item.items()
            if method in HTTP_METHODS]


OPERATIONS = {"mem0": _labels("mem0"), "klavis": _labels("klavis")}
SCHEMAS: dict[str, tuple[Sender, Any]] = {}  # per API, the schema of the latest target: built once per target and process

def run_operation(api: str, label: str, sender: Sender, resources: Any = None) -> None:
    """Run schemathesis's test of one operation (examples, coverage, fuzzing) with the profile's budget, then
    its success path (:mod:`conformance.suite.success_paths`) when ``resources`` are given."""
    __tracebackhide__ = True
    if api not in SCHEMAS or SCHEMAS[api][0] != sender:  # a run against one target builds it once
        SCHEMAS[api] = (sender, schema_of(api, sender))
    schema = SCHEMAS[api][1]
    only = FilterSet().with_include(operation_id=OPERATIONS[api][label])
    schema = schema.clone(filter_set=schema.config.operations.filter_set_with(include=only))
    load_all_checks()
    tests = list(get_all_tests(schema=schema, test_func=_call_and_validate, settings=None, given_kwargs=None))
    assert len(tests) == 1, f"{label}: schemathesis built {len(tests)} tests"
    operation, test = tests[0].ok()
    nothing_generated = None
    try:
        try:
            test(sender=sender)
        except SkipTest as exc:  # the phases had nothing to generate (an examples-only run, say)
            nothing_generated = str(exc)
        if resources is not None:
            try:
                request = RECIPES[api][OPERATIONS[api][label]](resources)
            except Unavailable:  # the summary names the operation among those whose success path went unvalidated
                request = None
            if request is not None:
                walk_success_path(operation, request, sender)
    except FailureGroup as exc:
        raise violation_of(exc, operation_source(label)) from None
    if nothing_generated is not None and resources is None:
        pytest.skip(nothing_generated)


def walk_success_path(operation: Any, request: Request, sender: Sender) -> None:
    """Send ``request`` as a schemathesis case of ``operation``, check its answer with every default check, and
    require a 2xx: the operation's success path, validated on every run."""
    __tracebackhide__ = True
    case = operation.Case(path_parameters=request.path or None, query=request.query or None,
                          **({} if request.body is NO_BODY else {"body": request.body}))
    assert sender.hooks is not None, "a success path is sent through the run's hooks"
    with sender.hooks.sending_as_built(request.ids()):
        response = _send_and_validate(case, sender)
    if not 200 <= response.status_code < 300:
        label = f"{case.method} {case.path}"
        raise ContractViolation(f"{label}: the success path answered {response.status_code}",
                                received=f"{response.status_code} {(response.content or b'').decode(errors='replace')[:2000]}",
                                documented=f"a 2xx for a request the document allows, on resources the run made ({label})",
                                source=operation_source(label))


# A check's extra request (the authentication probes) answered as the target being unable to serve it.
_UNSERVED_PROBE = re.compile(r"got `(" + "|".join(map(str, sorted(UNSERVED))) + r") ")
# schemathesis's severities onto the suite's (a server error is a blocker there and here).
SEVERITIES = {"critical": Severity.BLOCKER, "high": Severity.CRITICAL, "medium": Severity.NORMAL, "low": Severity.MINOR}


def violation_of(group: FailureGroup, source: Source) -> ContractViolation:
    """schemathesis's failures of one test as one ContractViolation: its check titles, its messages
    (received vs documented, with a curl reproducer) and its notes (the falsifying example)."""
    failures = [failure for failure in group.exceptions if isinstance(failure, Failure)] or list(group.exceptions)
    judged = [failure for failure in failures if not _UNSERVED_PROBE.search(str(getattr(failure, "message", "")))]
    if not judged:  # only schemathesis's own probes got a 429/50x, and kept it after the retries: the target is unserved
        raise TargetBroken(f"{source.operation}: {getattr(failures[0], 'message', failures[0])}")
    failures = judged
    titles = list(dict.fromkeys(getattr(failure, "title", type(failure).__name__) for failure in failures))
    severity = min((SEVERITIES.get(str(getattr(failure, "severity", "medium")).lower(), Severity.NORMAL)
                    for failure in failures), key=list(Severity).index)
    lines = Counter(f"[{getattr(f, 'title', '')}] {getattr(f, 'message', f)}".strip() for f in failures)
    received = "\n".join(line if count == 1 else f"{line}\n  ({count} times)" for line, count in lines.items())
    violation = ContractViolation(f"{source.operation}: {'; '.join(titles)}", received=received,
                                  documented=f"every default schemathesis check passes ({source.pointer})",
                                  source=source, severity=severity)
    violation.__notes__ = list(getattr(group, "__notes__", ()))
    return violation


def _call_and_validate(case, sender: Sender) -> None:
    """schemathesis's test function (under ``@given``, so it returns nothing)."""
    __tracebackhide__ = True
    _send_and_validate(case, sender)


def _send_and_validate(case, sender: Sender) -> Any:
    """Send the case and check the answer; no answer is the target misbehaving (and so is a 429/502/503/504 after the retries:
    see ``CallHooks.after``)."""
    __tracebackhide__ = True
    try:
        response = case.call(**sender.kwargs())
    except requests.RequestException as exc:
        raise TargetBroken(f"{case.method} {case.formatted_path}: {type(exc).__name__}: {exc}",
                           operation=f"{case.method} {case.path}") from exc
    case.validate_response(response, excluded_checks=sender.skipped_checks(case))
    sender.validated(case, response)
    return response


def run_stateful(api: str, sender: Sender, *, exclude: frozenset[str] = frozenset()) -> None:
    """schemathesis's state machine over the links of ``api``'s effective document (but the operations of
    ``exclude``), ``STATEFUL_STEPS`` steps a run, every answer through the default checks."""
    schema = schema_of(api, sender, exclude=exclude)

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):  # noqa: ARG002
            __tracebackhide__ = True
            return sender.kwargs()

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            __tracebackhide__ = True  # schemathesis's own (RecordingStateMachine's), but for the checks it skips
            case.validate_response(response, additional_checks=additional_checks, excluded_checks=sender.skipped_checks(case),
                                   transport_kwargs=kwargs or None, recorder=self.recorder)
            sender.validated(case, response)

    try:
        run_state_machine_as_test(Workflow, settings=settings(settings(), stateful_step_count=STATEFUL_STEPS))
    except FailureGroup as exc:
        raise violation_of(exc, Source(operation=f"{api} stateful workflow")) from None
    except Failure as exc:
        raise violation_of(FailureGroup([exc]), Source(operation=f"{api} stateful workflow")) from None
