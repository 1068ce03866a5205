"""Harness overhead: the suite's HTTP layer against a raw ``httpx.Client`` loop, same server, same requests.

Three loops send the same four requests in turn (a memory by id, its history, a v2 list with a
filter, the ping) to one reference server in a child process:

- raw: a plain ``httpx.Client``;
- suite client: :class:`conformance.client.ApiClient` (the retry transport, the recording
  transport with its redaction, the rate limiter with a limit that never binds);
- schemathesis: ``case.call`` with the suite's ``requests`` session (its retry policy) and the
  suite's schemathesis hooks active (recording, redaction, rate limiting, scoping).

Each figure is requests per second; the ratios divide by the raw loop's, measured in the same run.
"""

from __future__ import annotations

from typing import Any

import requests

from bench.common import KEY, add, client, per_second, serving

SECONDS = 4.0


def _requests(memory_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [("GET", f"/v1/memories/{memory_id}/", {}), ("GET", f"/v1/memories/{memory_id}/history/", {}),
            ("POST", "/v2/memories/", {"json": {"filters": {"user_id": "bench-user"}}}), ("GET", "/v1/ping/", {})]


def main(seconds: float = SECONDS) -> dict[str, float]:
    from conformance import retries
    from conformance.client import ApiClient, RateLimiter, Recorder
    from conformance.suite import call_hooks
    from conformance.suite.engine import Sender, schema_of
    from conformance.targets import ApiTarget

    figures: dict[str, float] = {}
    with serving() as (_, url), client(url) as raw:
        memory_id = add(raw, [f"bench memory {n}" for n in range(20)], "bench-user").json()["results"][0]["id"]
        sent = _requests(memory_id)

        def raw_call(i: int) -> None:
            method, path, kwargs = sent[i % len(sent)]
            raw.request(method, path, **kwargs).raise_for_status()

        api = ApiClient(ApiTarget("mem0", url, KEY, rate_limit="1000000/s"), Recorder())

        def suite_call(i: int) -> None:
            method, path, kwargs = sent[i % len(sent)]
            api.request(method, path, **kwargs).raise_for_status()

        schema = schema_of("mem0", Sender(url, f"Token {KEY}"))
        cases = [schema[path][method].Case(**({"body": kwargs["json"]} if "json" in kwargs else {}))
                 for method, path, kwargs in [("GET", "/v1/memories/{memory_id}/", {}),
                                              ("GET", "/v1/memories/{memory_id}/history/", {}),
                                              ("POST", "/v2/memories/", sent[2][2]), ("GET", "/v1/ping/", {})]]
        for case in cases[:2]:
            case.path_parameters = {"memory_id": memory_id}
        session = retries.mount(requests.Session())
        sender = Sender(url, f"Token {KEY}", http=session)
        hooks = call_hooks.CallHooks(Recorder(), (KEY,), RateLimiter("1000000/s"))

        def schemathesis_call(i: int) -> None:
            response = cases[i % len(cases)].call(**sender.kwargs())
            if response.status_code >= 400:
                raise RuntimeError(f"{response.status_code} {response.text[:200]}")

        with call_hooks.active(hooks):
            for name, action in (("raw httpx.Client", raw_call), ("suite client", suite_call),
                                 ("schemathesis call", schemathesis_call), ("raw httpx.Client, again", raw_call)):
                figures[f"{name} (requests/s)"] = per_second(action, seconds)
        api.http.close()
        session.close()
    baseline = (figures["raw httpx.Client (requests/s)"] + figures["raw httpx.Client, again (requests/s)"]) / 2
    figures["suite client / raw"] = figures["suite client (requests/s)"] / baseline
    figures["schemathesis call / raw"] = figures["schemathesis call (requests/s)"] / baseline
    return figures


if __name__ == "__main__":
    for name, value in main().items():
        print(f"{name:<40} {value:>10.2f}")
