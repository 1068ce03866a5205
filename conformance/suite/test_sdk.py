"""The SDK guard: each scenario of ``conformance/sdk/scenarios.py`` drives the real SDK against the target.

Selected with ``--sdk`` (or ``--sdk-only``). Every exchange the SDK makes is recorded and held to
the effective documents (``conformance/sdk/traffic.py``):

- a target answer the documents refuse fails the scenario, naming the SDK call and the field;
- an SDK that raises after answers that all conform is an SDK defect: reported as a finding
  (an expected failure, with the call and its exchanges), never hidden and never failing the run;
- an SDK that raises on the target's refusal (a 4xx or 5xx, or no answer) fails or breaks the scenario;
- drift (what the SDK calls beyond the seed documents, or sends that they refuse) is attached apart.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

from conformance import plugin
from conformance.reporting.results import surface_file, version
from conformance.sdk import npm
from conformance.sdk.calls import SdkCall, CallLog
from conformance.sdk.scenarios import SCENARIOS, Context, Scenario
from conformance.sdk.traffic import DRIFT, TrafficFinding, Traffic, check, judge
from conformance.sdk.versions import UnknownRelease, not_driven, release, surface, surface_name, unlike
from conformance.specs import find_operation
from conformance.suite.support import track_sandbox, track_webhook

os.environ.setdefault("MEM0_TELEMETRY", "False")  # before mem0 is imported: no telemetry, no writes to ~/.mem0
os.environ.setdefault("MEM0_DIR", tempfile.mkdtemp(prefix="mem0-conformance-sdk-"))

API_OF = {"mem0ai": "mem0", "klavis": "klavis", **{npm.PREFIX + package: api for package, api in npm.API_OF.items()}}
def npm_sdks(config: pytest.Config) -> dict[str, npm.NpmSdk]:
    """The npm SDKs this run drives (``--npm-sdk``, resolved with the run's settings), by their name in the guard."""
    wanted = config.stash[plugin.SETTINGS].npm_sdks  # resolved: None the pinned ones, () none
    return {sdk.name: sdk for sdk in (npm.default_sdks() if wanted is None else map(npm.NpmSdk.parse, wanted))}


def versions(config: pytest.Config) -> Callable[[str], str]:
    """The version of each SDK the guard drives: the installed Python package's ("not installed" when it is
    missing), or the chosen npm SDK's."""
    chosen = npm_sdks(config)
    return lambda sdk: chosen[sdk].version if sdk.startswith(npm.PREFIX) else version(sdk)


def _feature(sdk: str, of: str) -> str:
    """The report's feature of an SDK and version: ``mem0ai 2.2.1``, ``mem0ai 3.3.1 (npm)``, ``mem0ai (not installed)``."""
    name = sdk.removeprefix(npm.PREFIX)
    if of == "not installed":
        return f"{name} (not installed)"
    return f"{name} {of}" + (" (npm)" if sdk.startswith(npm.PREFIX) else "")


def _param(scenario: Scenario, of: Callable[[str], str]):
    return pytest.param(scenario, id=scenario.id, marks=[
        pytest.mark.sdk, pytest.mark.requires(API_OF[scenario.sdk], *scenario.needs),
        pytest.mark.contract(_feature(scenario.sdk, of(scenario.sdk)), api="sdk", story=scenario.call)])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The Python SDKs' scenarios, then the data scenarios of each npm SDK the run drives."""
    if "scenario" not in metafunc.fixturenames:
        return
    chosen, of = npm_sdks(metafunc.config), versions(metafunc.config)
    metafunc.parametrize("scenario", [_param(s, of) for s in (*SCENARIOS, *npm.scenarios(tuple(chosen.values())))])


@pytest.fixture(scope="session")
def sdk_version(pytestconfig) -> Callable[[str], str]:
    return versions(pytestconfig)


@pytest.fixture(scope="session")
def traffic(target) -> Traffic:
    return Traffic(tuple(api.key for api in (target.mem0, target.klavis) if api is not None))


@pytest.fixture(scope="session")
def npm_runners() -> dict[str, tuple[npm.RecordingProxy, npm.NodeRunner]]:
    """The npm SDKs' Node.js runners and recording proxies started in this run (stopped at its end)."""
    started: dict[str, tuple[npm.RecordingProxy, npm.NodeRunner]] = {}
    yield started
    for proxy, runner in started.values():
        runner.close()
        proxy.__exit__(None, None, None)


@pytest.fixture(scope="session")
def sdk_context(request, target, cleanup, traffic, sdk_version) -> Context:
    releases = {}
    for sdk in releases_wanted(target):
        if version(sdk) == "not installed":
            continue  # its scenarios skip, saying so (_build); the npm SDKs need no Python package
        try:
            releases[sdk] = release(sdk, sdk_version(sdk))
        except UnknownRelease as exc:
            pytest.skip(str(exc))
    users = request.getfixturevalue("new_user") if target.mem0 is not None else (lambda: "")
    klavis_api = request.getfixturevalue("klavis") if target.klavis is not None else None
    mem0_api = request.getfixturevalue("mem0") if target.mem0 is not None else None
    log = CallLog(traffic.recorder, sdk_version, step=_step)
    context = Context(log, releases, users, lambda sandbox_id: track_sandbox(cleanup, klavis_api, sandbox_id),
                      lambda webhook_id: track_webhook(cleanup, mem0_api, webhook_id),
                      wait=max(api.consistency_wait for api in (target.mem0, target.klavis) if api is not None),
                      prefix=request.getfixturevalue("run_prefix"))
    if "mem0ai" in releases:
        from mem0 import AsyncMemoryClient, MemoryClient

        context.make_mem0 = lambda **extra: log.construct(MemoryClient, "mem0ai", api_key=target.mem0.key,
                                                          host=target.mem0.url, client=traffic.client(), **extra)
        context.async_mem0 = lambda: log.construct(AsyncMemoryClient, "mem0ai", api_key=target.mem0.key,
                                                   host=target.mem0.url, client=traffic.async_client())
    if "klavis" in releases:
        from klavis import AsyncKlavis

        context.async_klavis = lambda: log.construct(AsyncKlavis, "klavis", api_key=target.klavis.key,
                                                     base_url=target.klavis.url, httpx_client=traffic.async_client())
    return context


def releases_wanted(target) -> list[str]:
    return [sdk for sdk, api in (("mem0ai", target.mem0), ("klavis", target.klavis)) if api is not None]


def _build(scenario: Scenario, context: Context, target, traffic: Traffic, request) -> None:
    """Construct the SDK's client on first use (MemoryClient pings when constructed); an npm SDK's runner
    and recording proxy on first use (installing the SDK with npm the first time)."""
    if scenario.sdk.startswith(npm.PREFIX):
        if scenario.sdk not in context.npm:
            _start_npm(npm_sdks(request.config)[scenario.sdk], context, target, traffic, request.getfixturevalue("npm_runners"))
        return
    if scenario.sdk not in context.releases:
        pytest.skip(f"the {scenario.sdk} SDK is not installed (pip install 'mem0-conformance[sdk]')")
    if scenario.sdk == "mem0ai" and context.mem0 is None:
        context.mem0 = context.make_mem0()
    if scenario.sdk == "klavis" and context.klavis is None:
        from klavis import Klavis

        context.klavis = context.log.construct(Klavis, "klavis", api_key=target.klavis.key, base_url=target.klavis.url,
                                               httpx_client=traffic.client())


def _start_npm(sdk: npm.NpmSdk, context: Context, target, traffic: Traffic, started: dict) -> None:
    api = target.mem0 if sdk.api == "mem0" else target.klavis
    try:
        folder = sdk.folder()  # installed once into the project's cache: before any clock starts
    except npm.NpmError as exc:
        pytest.skip(f"{sdk} cannot be installed: {exc}")
    proxy = npm.RecordingProxy(api.url, traffic.client()).__enter__()
    runner = npm.NodeRunner(sdk, {npm.KEY_VARIABLE[sdk.package]: api.key}, folder=folder)
    started[sdk.name] = (proxy, runner)
    context.npm[sdk.name] = npm.NpmClients(sdk, runner, proxy.url, context.log)


@contextmanager
def _step(call: SdkCall):
    """Each SDK call an Allure step, its exchanges attached; the step fails when the call raised."""
    import allure

    with allure.step(call.name[:300]):
        try:
            yield
        finally:
            allure.attach(call.render(), name="SDK call", attachment_type=allure.attachment_type.TEXT)


def test_sdk_scenario(scenario: Scenario, sdk_context: Context, target, traffic: Traffic, sdk_version, request):
    """The SDK call does what its scenario states, and every exchange it makes conforms to the documents."""
    traffic.take()
    sdk_context.log.calls.clear()
    started, raised = time.monotonic(), None
    try:
        _build(scenario, sdk_context, target, traffic, request)
        with traffic.requests_recorded():
            scenario.run(sdk_context)
    except npm.Unfinished:
        raise  # the data scenario itself is wrong: an error of the suite
    except Exception as exc:  # noqa: BLE001 - what the SDK (or the scenario's expectation) raises is judged below
        raised = exc
    exchanges, calls = traffic.take(), list(sdk_context.log.calls)
    findings = [finding for exchange in exchanges for finding in check(exchange)]
    findings += [TrafficFinding(DRIFT, "conformance/sdk/versions.py", text) for text in unlike(sdk_context.releases, calls)]
    of = sdk_version(scenario.sdk)
    _attach(scenario, of, calls, findings, time.monotonic() - started, raised)
    _record(request.config, scenario, of, exchanges, calls, findings, sdk_context)
    outcome = judge(f"{scenario.sdk} {of} {scenario.call}", exchanges, findings, raised,
                    expectation=scenario.expectation, source=scenario.source, calls=calls)
    if isinstance(outcome, BaseException):
        raise outcome
    if outcome is not None:
        pytest.xfail(outcome)


def _record(config, scenario: Scenario, of: str, exchanges, calls: list[SdkCall], findings, context: Context) -> None:
    """The scenario's traffic for ``sdk compare``: one JSON line per scenario in ``sdk-traffic-<worker>.jsonl``
    beside the results (operations called, the body fields sent to each, drift, the SDK calls made), and
    the SDK's public surface once (``sdk-surface-<sdk>.json``)."""
    from conformance.plugin import worker_name
    from conformance.reporting import RESULTS_DIR

    reports = config.stash[plugin.SETTINGS].reports if plugin.SETTINGS in config.stash else None
    if reports is None:
        return
    operations: dict[str, list[str]] = {}
    for exchange in exchanges:
        found = find_operation(exchange.method, urlsplit(exchange.url).path)
        label = found.label if found else f"{exchange.method} {urlsplit(exchange.url).path}"
        body = json.loads(exchange.request_body) if exchange.request_body.startswith("{") else {}
        operations.setdefault(label, [])
        operations[label] = sorted(set(operations[label]) | set(body))
    line = {"sdk": scenario.sdk, "version": of, "scenario": scenario.id,
            "operations": operations, "drift": sorted({str(f) for f in findings if f.kind == DRIFT}),
            "calls": [{**call.record(), "method": surface_name(scenario.sdk, call.method)} for call in calls]}
    folder = reports / RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"sdk-traffic-{worker_name(config)}.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    calls = folder / surface_file(scenario.sdk)  # the SDK's public calls and parameters, for sdk compare
    if not calls.exists():
        found = context.npm[scenario.sdk].surface()["calls"] if scenario.sdk in context.npm else surface(scenario.sdk)
        calls.write_text(json.dumps({"sdk": scenario.sdk, "version": of, "calls": found,
                                     "not_driven": not_driven(scenario.sdk, found)}, indent=1), encoding="utf-8")


def _attach(scenario: Scenario, of: str, calls: list[SdkCall], findings, elapsed: float, raised) -> None:
    """The scenario in the report: its expectation and source, each SDK call (a step of its own, see
    :func:`_step`) with its outcome, and drift apart."""
    import allure

    lines = [f"{scenario.sdk} {of}: {scenario.call}",
             f"expected: {scenario.expectation} (FACTS.md: {scenario.source})", f"duration: {elapsed:.3f}s",
             f"outcome: {'raised ' + type(raised).__name__ + ': ' + str(raised)[:300] if raised else 'as expected'}", ""]
    lines += [f"{call.duration:7.3f}s  {call.name}  ->  {call.outcome}" for call in calls]
    allure.attach("\n".join(lines), name="SDK calls", attachment_type=allure.attachment_type.TEXT)
    drift = sorted({str(f) for f in findings if f.kind == DRIFT})
    if drift:
        allure.attach("\n".join(drift), name="drift (beyond the seed documents)", attachment_type=allure.attachment_type.TEXT)
