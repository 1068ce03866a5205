"""What an SDK sends and gets: recorded, and checked against the effective documents.

An SDK gets an ``httpx.Client`` whose transport records every exchange (keys redacted) into a
:class:`Traffic`. :func:`check` then holds each exchange to the effective documents:

- an operation the effective documents lack, or one only a supplement adds, is **drift**: what
  the SDK calls beyond the vendored seed documents (reported apart from failures);
- a request body that its operation's schema refuses is drift too: the SDK and the published
  document disagree, whoever is right;
- an answer that the operation's response schema refuses (or an undocumented status) is a
  **violation** of the target.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests

from conformance.client import (
    AsyncRecordingTransport,
    Exchange,
    Recorder,
    RecordingTransport,
    redact,
)
from conformance.sdk.calls import SdkCall, reproducer
from conformance.specs import effective, find_operation, resolve, validator
from conformance.verdicts import (
    ContractViolation,
    Severity,
    TargetBroken,
    fact,
    operation_source,
)

VIOLATION, DRIFT = "violation", "drift"
UNDECLARED = "no operation of the effective documents"


class SdkDisagreement(Exception):
    """A scenario found the SDK at odds with the published document, the target answering as documented:
    a finding about the SDK (reported apart, with a reproducer), never a failure of the target."""


@dataclass(frozen=True)
class TrafficFinding:
    kind: str  # VIOLATION or DRIFT
    operation: str  # "POST /v3/memories/" (the template), or the request's own path when no operation matches
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.operation}: {self.message}"


class Traffic:
    """Every exchange of the clients it made (:meth:`client`), until :meth:`take` hands them over."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets
        self.recorder = Recorder(limit=100_000)

    def client(self, *, timeout: float = 30.0) -> httpx.Client:
        """An httpx client for an SDK (mem0ai's ``client=``, klavis's ``httpx_client=``): recorded, no retries."""
        return httpx.Client(timeout=timeout, transport=RecordingTransport(self.recorder, secrets=self.secrets))

    def async_client(self, *, timeout: float = 30.0) -> httpx.AsyncClient:
        """The same for an SDK's ``httpx.AsyncClient`` (mem0ai's AsyncMemoryClient)."""
        return httpx.AsyncClient(timeout=timeout, transport=AsyncRecordingTransport(self.recorder, self.secrets))

    @contextmanager
    def requests_recorded(self) -> Iterator[None]:
        """While the block runs, what goes out through ``requests`` is recorded too: AsyncMemoryClient
        pings with a bare ``requests.get``, which takes no client to hand in. (Instrumentation of the
        real library, one process, the guard's scenarios run one at a time.)"""
        original = requests.Session.send
        recorder, secrets = self.recorder, self.secrets

        def send(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            try:
                response = original(session, request, **kwargs)
            except requests.RequestException as exc:
                recorder.record(Exchange(request.method or "GET", redact(request.url or "", secrets), (),
                                         "", None, "", 0.0, error=redact(f"{type(exc).__name__}: {exc}", secrets)))
                raise
            recorder.record(Exchange.of_requests(response, secrets))
            return response

        requests.Session.send = send
        try:
            yield
        finally:
            requests.Session.send = original

    def take(self) -> list[Exchange]:
        exchanges = list(self.recorder)
        self.recorder.clear()
        return exchanges


def check(exchange: Exchange) -> list[TrafficFinding]:
    """What is wrong, or beyond the seed documents, about one exchange."""
    path = urlsplit(exchange.url).path
    operation = find_operation(exchange.method, path)
    if operation is None:
        return [TrafficFinding(DRIFT, f"{exchange.method} {_templated(path)}", UNDECLARED)]
    label = operation.label
    document = effective(operation.api)
    raw = document["paths"][operation.path][operation.method.lower()]
    found = []
    if raw.get("x-conformance-supplement"):
        found.append(TrafficFinding(DRIFT, label, "not in the vendored seed documents (a supplement of this project)"))
    body = resolve(document, raw.get("requestBody")) or {}
    schema = body.get("content", {}).get("application/json", {}).get("schema")
    sent = _json(exchange.request_body)
    if schema is not None and sent is not _NOT_JSON and exchange.request_body:
        found += [TrafficFinding(DRIFT, label, f"the request body {problem}") for problem in _problems(operation.api, schema, sent)]
        found += [TrafficFinding(DRIFT, label, f"sends the body field {name}, which the document does not declare")
                  for name in _undeclared_fields(document, schema, sent)]
    found += [TrafficFinding(DRIFT, label, f"sends the query parameter {name}, which the document does not declare")
              for name in _undeclared_query(document, operation, exchange.url)]
    if exchange.status is None:
        return found
    responses = raw.get("responses", {})
    answer = resolve(document, responses.get(str(exchange.status)) or responses.get(f"{exchange.status // 100}XX")
                     or responses.get("default"))
    if answer is None:
        found.append(TrafficFinding(VIOLATION, label, f"answered {exchange.status}, a status the document does not declare "
                                               f"({', '.join(sorted(responses))})"))
        return found
    schema = (answer.get("content") or {}).get("application/json", {}).get("schema")
    received = _json(exchange.response_body)
    if schema is not None and received is not _NOT_JSON and exchange.response_body:
        found += [TrafficFinding(VIOLATION, label, f"the {exchange.status} answer {problem}")
                  for problem in _problems(operation.api, schema, received)]
    return found


_NOT_JSON = object()
_ID_SEGMENT = re.compile(r"/(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\d+|mct-[^/]+)(?=/|$)")


def _templated(path: str) -> str:
    """A path no document has, its ids (UUIDs, numbers, this run's names) as ``{id}``: one drift entry per route."""
    return _ID_SEGMENT.sub("/{id}", path)


def _undeclared_fields(document: dict[str, Any], schema: dict[str, Any], sent: Any) -> list[str]:
    """Top-level fields of a sent object that its schema's ``properties`` do not name (a schema that
    allows any other field still documents none of them: what the SDK relies on is undocumented)."""
    schema = resolve(document, schema) or {}
    if not isinstance(sent, dict) or "properties" not in schema or schema.get("additionalProperties") is False:
        return []  # no properties to hold it to, or the validator already refuses the field
    return sorted(name for name in sent if name not in schema["properties"])


def _undeclared_query(document: dict[str, Any], operation: Any, url: str) -> list[str]:
    from urllib.parse import parse_qsl

    item = document["paths"][operation.path]
    declared = {parameter.get("name") for parameter in
                (resolve(document, raw) or {} for raw in [*item.get("parameters", ()),
                                                           *item[operation.method.lower()].get("parameters", ())])
                if parameter.get("in") == "query"}
    return sorted({name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)} - declared)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def _problems(api: str, schema: dict[str, Any], value: Any) -> list[str]:
    """Each way ``value`` fails ``schema``: where, and what (at most five)."""
    errors = sorted(_validator(api, json.dumps(schema, sort_keys=True)).iter_errors(value), key=lambda e: list(e.path))
    return [f"at {'/'.join(map(str, error.path)) or '(root)'}: {_message(error)}" for error in errors[:5]]


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}


def _message(error: Any) -> str:
    """jsonschema's message, except for a wrong type: what came and what is documented, with the fields
    an object must have (``an array where an object (with results) is documented``), not the value."""
    if error.validator != "type":
        return error.message[:200]
    documented = error.validator_value if isinstance(error.validator_value, str) else " or ".join(error.validator_value)
    required = error.schema.get("required") if isinstance(error.schema, dict) else None
    fields = f" (with {', '.join(required)})" if documented == "object" and required else ""
    article = "an" if documented[0] in "aeiou" else "a"
    return f"{_JSON_TYPES.get(type(error.instance), type(error.instance).__name__)} where {article} {documented}{fields} is documented"


@functools.cache
def _validator(api: str, schema: str) -> Any:
    return validator(_document(api), json.loads(schema))


@functools.cache
def _document(api: str) -> dict[str, Any]:
    """The effective document of ``api``, one copy for every validator of it (prepared once: conformance.validation)."""
    return effective(api)


def judge(call: str, exchanges: list[Exchange], findings: list[TrafficFinding], raised: BaseException | None, *,
          expectation: str, source: str, calls: Sequence[SdkCall] = ()) -> BaseException | str | None:
    """The outcome of one scenario: an exception to raise (a violation of the target, the target broken,
    or the scenario's own failed expectation), a finding to report apart (a string: the SDK raised
    although every answer conformed, or the target refused what the SDK sent against the document),
    or None when all is well. ``call`` names the scenario; with the SDK ``calls`` it made, a message
    names the very call that got the bad answer or raised."""
    violations = [f for f in findings if f.kind == VIOLATION]
    if violations:
        culprit = next((c for c in calls for e in c.exchanges if any(f.kind == VIOLATION for f in check(e))), None)
        return ContractViolation(f"{_named(call, culprit)}: the target's answer breaks the documents "
                                 f"({violations[0].operation}: {violations[0].message})",
                                 received="\n".join(map(str, violations)),
                                 documented="every answer valid against its operation's response schema",
                                 source=operation_source(violations[0].operation), severity=Severity.CRITICAL)
    if raised is None or isinstance(raised, ContractViolation):
        return raised
    culprit = next((c for c in reversed(calls) if c.error is raised), None) or next(
        (c for c in reversed(calls) if c.error is not None), None)
    if isinstance(raised, SdkDisagreement) and calls:  # no call raised: the last one's answer showed it
        culprit = calls[-1]
    name = _named(call, culprit)
    again = ""
    if culprit is not None and exchanges:  # the target's address, from any exchange of the scenario
        base = urlsplit(exchanges[0].url)
        again = f". Reproduce: {reproducer(culprit, f'{base.scheme}://{base.netloc}')}"
    if isinstance(raised, SdkDisagreement):
        return f"{raised}; {name}{again}"
    exchanges = culprit.exchanges if culprit is not None else exchanges
    statuses = [exchange.status for exchange in exchanges]
    if any(status is None for status in statuses):
        return TargetBroken(f"{name}: no answer ({type(raised).__name__}: {raised})")
    pool = [f for e in exchanges for f in check(e)] if culprit is not None else findings
    nowhere = [f for f in pool if f.message == UNDECLARED]
    if nowhere and any(status >= 400 for status in statuses):  # a path no document has: the SDK's, not the target's
        return (f"SDK and document disagree: {name} sent {nowhere[0].operation}, which no effective document declares, "
                f"and the target answered {max(statuses)}; {type(raised).__name__}: {str(raised)[:160]}{again}")
    disagreements = [f for f in pool if f.kind == DRIFT and f.message.startswith("the request body")]
    if disagreements and any(status >= 400 for status in statuses):
        return (f"SDK and document disagree: {name} sent what the document refuses ({disagreements[0]}), and the "
                f"target refused it with {max(statuses)}; {type(raised).__name__}: {str(raised)[:160]}{again}")
    if type(raised).__module__.startswith("pydantic") and statuses and max(statuses) < 400:
        return (f"SDK and document disagree: {name} could not read an answer valid against the document; "
                f"the SDK's model of it says: {' '.join(str(raised).split())[:200]}{again}")
    if any(status >= 400 for status in statuses):
        return ContractViolation(f"{name} raised {type(raised).__name__}, surfacing the target's {max(statuses)}: "
                                 f"{str(raised)[:200]}", documented=expectation, source=fact(source),
                                 received="\n".join(f"{e.method} {e.url} -> {e.status}" for e in exchanges))
    answered = ", ".join(f"{e.status} to {e.method} {urlsplit(e.url).path}" for e in exchanges) or "nothing"
    where = f" at {culprit.where()}" if culprit is not None and culprit.where() else ""
    return (f"SDK defect: {name} raised {type(raised).__name__}: {str(raised)[:200]}{where}, after the target answered "
            f"{answered}, every answer valid{again}")


def _named(call: str, culprit: SdkCall | None) -> str:
    """The call a message is about, its arguments cut short (the report's step shows them whole)."""
    if culprit is None:
        return call
    arguments = culprit.arguments if len(culprit.arguments) <= 80 else culprit.arguments[:77] + "..."
    return f"{culprit.sdk} {culprit.version} {culprit.method}({arguments})"
