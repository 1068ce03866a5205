"""Harness overhead: the suite's HTTP layer against a raw ``httpx.Client`` loop, same server, same requests.

Three loops send the same four requests in turn (a memory by id, its history, a v2 list with a
filter, the ping) to one reference server in a child process:

- raw: a plain ``httpx.Client``;
- suite client: :class:`conformance.client.ApiClient` (the retry transport, the recording
  transport with its redaction, the rate limiter with a limit that never binds);
- schemathesis: ``case.call`` with the suite's ``requests`` session (its retry policy) and the
  suite's schemathesis hooks active (recording, redaction, rate limiting, scoping).

The loops run in turns, side by side (:func:`bench.common.side_by_side`): each figure is a loop's median rate over
the turns (requests per second), each ratio the median of the turns' ratios to the raw loop's. Beside them, the
suite's own overhead over plain schemathesis on the same cases (:func:`suite_overhead`), measured the same way.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import requests

from bench.common import KEY, add, client, ratio_figures, serving, side_by_side

SECONDS = 6.0  # each loop's whole time, over the turns


def _cases(memory_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The four requests of the loops: method, the operation's path, its schemathesis ``Case`` parts."""
    return [("GET", "/v1/memories/{memory_id}/", {"path_parameters": {"memory_id": memory_id}}),
            ("GET", "/v1/memories/{memory_id}/history/", {"path_parameters": {"memory_id": memory_id}}),
            ("POST", "/v2/memories/", {"body": {"filters": {"user_id": "bench-user"}}}), ("GET", "/v1/ping/", {})]


def _sent(method: str, path: str, parts: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """A case as an ``httpx`` request: method, the path with its parameters, the keyword arguments."""
    return method, path.format(**parts.get("path_parameters", {})), {"json": parts["body"]} if "body" in parts else {}


def main(seconds: float = SECONDS) -> dict[str, float]:
    from conformance import retries
    from conformance.client import ApiClient, RateLimiter, Recorder
    from conformance.suite import call_hooks
    from conformance.suite.engine import Sender, schema_of
    from conformance.targets import ApiTarget

    figures: dict[str, float] = {}
    with serving() as (_, url), client(url) as raw:
        memory_id = add(raw, [f"bench memory {n}" for n in range(20)], "bench-user").json()["results"][0]["id"]
        sent = [_sent(*case) for case in _cases(memory_id)]

        def raw_call(i: int) -> None:
            method, path, kwargs = sent[i % len(sent)]
            raw.request(method, path, **kwargs).raise_for_status()

        api = ApiClient(ApiTarget("mem0", url, KEY, rate_limit="1000000/s"), Recorder())

        def suite_call(i: int) -> None:
            method, path, kwargs = sent[i % len(sent)]
            api.request(method, path, **kwargs).raise_for_status()

        schema = schema_of("mem0", Sender(url, f"Token {KEY}"))
        cases = [schema[path][method].Case(**parts) for method, path, parts in _cases(memory_id)]
        session = retries.mount(requests.Session())
        sender = Sender(url, f"Token {KEY}", http=session)
        hooks = call_hooks.CallHooks(Recorder(), (KEY,), RateLimiter("1000000/s"))

        def schemathesis_call(i: int) -> None:
            response = cases[i % len(cases)].call(**sender.kwargs())
            if response.status_code >= 400:
                raise RuntimeError(f"{response.status_code} {response.text[:200]}")

        loops = {"raw httpx.Client": raw_call, "suite client": suite_call, "schemathesis call": schemathesis_call}
        with call_hooks.active(hooks):  # a plain httpx loop does not go through schemathesis's hooks
            rates = side_by_side(loops, seconds)
        api.http.close()
        session.close()
        figures.update({f"{name} (requests/s)": statistics.median(rates[name]) for name in loops})
        figures.update(ratio_figures("suite client / raw", rates, "suite client", "raw httpx.Client"))
        figures.update(ratio_figures("schemathesis call / raw", rates, "schemathesis call", "raw httpx.Client"))
        figures.update(suite_overhead(url, memory_id, seconds))
    return figures


def suite_overhead(url: str, memory_id: str, seconds: float) -> dict[str, float]:
    """The same cases through plain schemathesis and through the suite's schemathesis path.

    Plain: the effective document loaded with the shared settings file, ``case.call`` on a plain
    ``requests`` session, ``case.validate_response`` (schemathesis's checks; the authentication probes
    once per operation, as schemathesis's own runner sends them and the suite does). Suite: the engine's
    schema (:func:`conformance.suite.engine.schema_of`), its retrying session, its hooks active as in
    a run against the embedded server (recording with redaction, the rate limiter, learned ids, the
    run's user in filters) and its send-and-validate (the same checks, the success count).
    """
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.specs.openapi.checks import ignored_auth

    from conformance import retries
    from conformance.client import RateLimiter, Recorder
    from conformance.specs import effective
    from conformance.suite import call_hooks, engine
    from conformance.suite.learned import Learned

    *reads, ping = _cases(memory_id)  # the loops' four, and a search and a refused get by id
    wanted = [*reads, ("POST", "/v2/memories/search/", {"body": {"query": "tea", "filters": {"user_id": "bench-user"}}}),
              ("GET", "/v1/memories/{memory_id}/", {"path_parameters": {"memory_id": "not-a-uuid"}}), ping]
    config = SchemathesisConfig.from_dict(engine._settings_file())
    config.projects.default.update(base_url=url, headers={"Authorization": f"Token {KEY}"})
    plain_schema = schemathesis.openapi.from_dict(effective("mem0"), config=config)
    plain_cases = [plain_schema[path][method].Case(**parts) for method, path, parts in wanted]
    plain_session = requests.Session()
    confirmed: set[str] = set()  # as schemathesis's own runner: ignored_auth's probes once per operation (so does the suite)

    def plain(i: int) -> None:
        case = plain_cases[i % len(plain_cases)]
        response = case.call(base_url=url, headers={"Authorization": f"Token {KEY}"}, session=plain_session)
        case.validate_response(response, excluded_checks=[ignored_auth] if case.operation.label in confirmed else None)
        if response.status_code < 300:
            confirmed.add(case.operation.label)

    sender = engine.Sender(url, f"Token {KEY}", http=retries.mount(requests.Session()), successes=Counter())
    suite_schema = engine.schema_of("mem0", sender)
    suite_cases = [suite_schema[path][method].Case(**parts) for method, path, parts in wanted]
    hooks = call_hooks.CallHooks(Recorder(), (KEY,), RateLimiter("1000000/s"), filter_user="bench-user",
                                 learned=Learned(), picks=Learned())

    def suite(i: int) -> None:
        engine._send_and_validate(suite_cases[i % len(suite_cases)], sender)

    rates = side_by_side({"plain schemathesis": plain, "suite's schemathesis path": suite}, seconds,
                         around={"suite's schemathesis path": lambda: call_hooks.active(hooks)})
    figures = {f"{name} (cases/s)": statistics.median(values) for name, values in rates.items()}
    figures.update(ratio_figures("suite's schemathesis path / plain schemathesis", rates, "suite's schemathesis path",
                                 "plain schemathesis"))
    plain_session.close()
    return figures


if __name__ == "__main__":
    for name, value in main().items():
        print(f"{name:<40} {value:>10.2f}")
