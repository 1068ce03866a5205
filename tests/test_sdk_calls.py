"""One record per SDK call (conformance/sdk/calls.py) and the version table (conformance/sdk/versions.py),
without network: stand-in SDK objects and hand-made exchanges."""

from __future__ import annotations

import asyncio

import pytest

from conformance.client import Exchange, Recorder
from conformance.sdk.calls import CallLog, arguments, reproducer
from conformance.sdk.versions import (
    PAGE,
    REFUSED,
    RESULTS,
    SENT,
    UnknownRelease,
    release,
    unlike,
)

BASE = "http://127.0.0.1:8000"


def exchange(method: str, path: str, status: int = 200) -> Exchange:
    return Exchange(method, BASE + path, (), "", status, "{}", 0.01)


class Sandbox:  # stands in for klavis's SandboxClient: an SDK object handed out by the client
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def dump_mem0sandbox(self, sandbox_id: str) -> str:
        self.recorder.record(exchange("GET", f"/sandbox/mem0/{sandbox_id}/dump"))
        return "dumped"


Sandbox.__module__ = "klavis.sandbox.client"


class MemoryClient:
    __module__ = "mem0.client.main"

    def __init__(self, recorder: Recorder, api_key: str = "", host: str = "") -> None:
        self.recorder, self.project_id = recorder, "p1"
        self.sandbox = Sandbox(recorder)
        recorder.record(exchange("GET", "/v1/ping/"))

    def add(self, text: str, **kwargs) -> dict:
        self.recorder.record(exchange("POST", "/v3/memories/add/"))
        return self.get_all()  # internal calls run on the real object: not recorded twice

    def get_all(self, **kwargs) -> dict:
        self.recorder.record(exchange("POST", "/v3/memories/"))
        return {"results": []}

    def feedback(self, memory_id: str, feedback: str) -> None:
        self.recorder.record(exchange("POST", "/v1/feedback/"))
        raise TypeError("capture_client_event() takes 3 positional arguments")

    async def search(self, query: str) -> dict:
        self.recorder.record(exchange("POST", "/v3/memories/search/"))
        return {"results": []}


@pytest.fixture
def log() -> CallLog:
    return CallLog(Recorder(limit=1000), lambda sdk: {"mem0ai": "2.2.1", "klavis": "2.20.0"}[sdk])


def test_each_public_call_is_one_record_with_its_own_exchanges(log):
    client = log.construct(MemoryClient, "mem0ai", recorder=log.recorder, api_key="m0-secret", host=BASE)
    assert client.project_id == "p1"  # plain attributes pass through
    client.add("I keep bees", user_id="mct-1-u1")
    assert client.sandbox.dump_mem0sandbox("sb-1") == "dumped"  # SDK objects handed out are watched too
    assert asyncio.run(client.search("bees")) == {"results": []}
    assert [call.method for call in log.calls] == [
        "MemoryClient", "MemoryClient.add", "Sandbox.dump_mem0sandbox", "MemoryClient.search"]
    construct, add, dump, search = log.calls
    assert "api_key=[redacted]" in construct.arguments and "m0-secret" not in construct.arguments
    assert [e.url for e in construct.exchanges] == [BASE + "/v1/ping/"]
    assert add.name == "MemoryClient.add('I keep bees', user_id='mct-1-u1')"
    assert [e.url.removeprefix(BASE) for e in add.exchanges] == ["/v3/memories/add/", "/v3/memories/"]
    assert dump.sdk == "mem0ai" and dump.outcome == "returned" and search.duration >= 0
    assert log.last("add") is add and log.failing() is None


def test_a_call_that_raises_is_recorded_with_where_it_raised_and_a_reproducer(log):
    client = log.construct(MemoryClient, "mem0ai", recorder=log.recorder, api_key="m0-secret", host=BASE)
    with pytest.raises(TypeError):
        client.feedback("3f1c", feedback="POSITIVE")
    failing = log.failing()
    assert failing is log.calls[-1] and failing.outcome.startswith("raised TypeError: capture_client_event()")
    assert [e.status for e in failing.exchanges] == [200]
    assert failing.where() == ""  # raised in this test module, not inside an SDK package
    assert reproducer(failing, BASE) == (
        "pip install 'mem0ai==2.2.1'; python -c \"import asyncio, os; from mem0 import MemoryClient; "
        "print(MemoryClient(api_key=os.environ['MEM0_API_KEY'], host='http://127.0.0.1:8000')"
        ".feedback('3f1c', feedback='POSITIVE'))\"")


def test_arguments_are_written_as_a_caller_writes_them_keys_redacted_and_values_shortened():
    assert arguments(("tea",), {"api_key": "k", "client": object(), "text": "x" * 300}).startswith(
        "'tea', api_key=[redacted], client=<object>, text='xxx")
    assert len(arguments((), {"text": "x" * 300})) < 140


@pytest.mark.parametrize(("sdk", "version", "add", "shape", "top_level", "removed"), [
    ("mem0ai", "1.0.11", "POST /v1/memories/", RESULTS, SENT, ()),
    ("mem0ai", "2.0.0", "POST /v3/memories/add/", PAGE, REFUSED, ("org_id", "project_id")),
    ("mem0ai", "2.2.1", "POST /v3/memories/add/", PAGE, REFUSED, ("org_id", "project_id")),
])
def test_each_version_has_its_row(sdk, version, add, shape, top_level, removed):
    row = release(sdk, version)
    assert (row.sends["add"], row.shapes["get_all"], row.top_level_ids, row.removed) == (add, shape, top_level, removed)


def test_a_version_no_row_describes_is_named():
    with pytest.raises(UnknownRelease, match=r"mem0ai 0.1.118 is not described .*known: mem0ai 1.0 to before 2.0"):
        release("mem0ai", "0.1.118")
    assert release("klavis", "2.20.0").sends["dump_mem0sandbox"] == "GET /sandbox/mem0/{sandbox_id}/dump"
    with pytest.raises(UnknownRelease):
        release("klavis", "2.16.0")  # before the SDK had its mem0 sandbox calls


def test_a_call_that_sends_another_operation_than_its_row_is_drift(log):
    client = log.construct(MemoryClient, "mem0ai", recorder=log.recorder, host=BASE)
    client.add("tea")
    assert unlike({"mem0ai": release("mem0ai", "2.2.1")}, log.calls) == []
    assert unlike({"mem0ai": release("mem0ai", "1.0.11")}, log.calls) == [
        "MemoryClient.add sent POST /v3/memories/add/, POST /v3/memories/, where conformance/sdk/versions.py "
        "(mem0ai 1.0 to before 2.0) says POST /v1/memories/"]


def test_judge_names_the_call_that_got_the_bad_answer_or_raised(log):
    import json as _json

    import pydantic

    from conformance.sdk.traffic import check, judge
    from conformance.verdicts import ContractViolation

    client = log.construct(MemoryClient, "mem0ai", recorder=log.recorder, host=BASE)
    client.get_all()
    bad = Exchange("GET", BASE + "/v1/ping/", (), "", 200, _json.dumps({"status": "ok", "org_id": "o"}), 0.01)
    log.calls[0].exchanges = [bad]  # the construction's ping lacked project_id
    everything = [e for call in log.calls for e in call.exchanges]
    findings = [f for e in everything for f in check(e)]
    outcome = judge("mem0ai 2.2.1 scenario", everything, findings, None, expectation="x", source="Add", calls=log.calls)
    assert isinstance(outcome, ContractViolation)
    assert outcome.title.startswith("mem0ai 2.2.1 MemoryClient(recorder=<Recorder>, host='http://127.0.0.1:8000'): the target's answer breaks "
                                    "the documents (GET /v1/ping/: the 200 answer at (root): 'project_id' is a required")

    class Answer(pydantic.BaseModel):
        server_url: str

    log.calls.clear()
    try:
        client.get_all()
        Answer.model_validate({})
    except pydantic.ValidationError as exc:
        log.calls[-1].error = exc
        model = judge("klavis 2.19.0 scenario", log.calls[-1].exchanges, [], exc, expectation="x", source="Add",
                      calls=log.calls)
    assert model.startswith("SDK and document disagree: mem0ai 2.2.1 MemoryClient.get_all() could not read an answer "
                            "valid against the document; the SDK's model of it says: 1 validation error for Answer server_url")
    assert "Reproduce: pip install 'mem0ai==2.2.1'" in model


def test_a_recorded_call_is_named_as_in_the_sdk_s_surface_and_the_calls_not_driven_say_why():
    from conformance.sdk.versions import not_driven, surface_name

    assert surface_name("klavis", "SandboxClient.create_sandbox") == "Klavis.sandbox.create_sandbox"
    assert surface_name("klavis", "AsyncSandboxClient.get_sandbox") == "AsyncKlavis.sandbox.get_sandbox"
    assert surface_name("mem0ai", "MemoryClient.add") == "MemoryClient.add"
    reasons = not_driven("mem0ai", {"MemoryClient": [], "MemoryClient.chat": [], "AsyncMemoryClient.reset": [],
                                    "MemoryClient.add": []})
    assert list(reasons) == ["AsyncMemoryClient.reset", "MemoryClient.chat"] and "NotImplementedError" in reasons["MemoryClient.chat"]
