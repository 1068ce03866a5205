"""Schema conformance: schemathesis drives every operation of both effective documents (the engine:
:mod:`conformance.suite.engine`).

Each operation is its own test (``test_mem0_operation[POST /v1/memories/]``): positive and
negative data, the examples, coverage and fuzzing phases, every default check, with the
per-operation settings of ``conformance/schemathesis.toml``. One stateful test per API follows
the overlay links. The budget per operation is the Hypothesis profile's ``max_examples``.

Base URL and key come from the target. On a live target without ``allow_destructive`` the
hooks of :mod:`conformance.suite.call_hooks` keep every request inside the run (unscoped
operations are skipped, entity ids run-prefixed, foreign resource ids replaced by absent ones).
Every exchange goes into the suite's recorder, so a failure shows what was sent, keys redacted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from conformance import retries
from conformance.apis import APIS
from conformance.capabilities import GATED
from conformance.cleanup import Cleanup
from conformance.client import ApiClient, Recorder
from conformance.plugin import SUCCESSES
from conformance.specs import operation_by_label
from conformance.suite.engine import OPERATIONS, Sender, run_operation, run_stateful
from conformance.suite.call_hooks import CallHooks, active
from conformance.suite.learned import Learned
from conformance.suite.live_scope import ENTITY_KEYS, UNSCOPED, Scope
from conformance.suite.success_paths import KlavisResources, Mem0Resources
from conformance.suite.support import (
    track_background_initialize,
    track_entity,
    track_sandbox,
    track_undeletable,
    track_webhook,
)
from conformance.targets import Target


def _live(target: Target) -> bool:
    """Requests must be kept inside the run: not the embedded server, no allow_destructive."""
    return not target.embedded and not target.allow_destructive


def _register_created(client: ApiClient, cleanup: Cleanup, shared: bool):
    """Registers what a schemathesis POST created: what has a delete of its own (sandboxes, webhooks) and
    what the API cannot delete (export jobs, events)."""

    def created(method: str, path: str, body: Any, case: Any) -> None:
        if client.api == "klavis" and shared:
            track_background_initialize(cleanup, path, case.body if isinstance(case.body, dict) else None,
                                        default_data=str((case.query or {}).get("init_default_data")).lower() == "true")
        if not isinstance(body, (dict, list)):
            return
        if client.api == "mem0":
            track_undeletable(cleanup, method, path, body)
        if not isinstance(body, dict):
            return
        if client.api == "klavis" and path.rstrip("/") == "/sandbox/mem0" and isinstance(body.get("sandbox_id"), str):
            track_sandbox(cleanup, client, body["sandbox_id"])
        if client.api == "mem0" and path.startswith("/api/v1/webhooks/projects/"):
            webhook = body.get("webhook_id") or body.get("id")
            if isinstance(webhook, (str, int)) and not isinstance(webhook, bool):
                track_webhook(cleanup, client, str(webhook))

    return created


def _sender(api: str, client: ApiClient, target: Target, recorder: Recorder, run_prefix: str,
           cleanup: Cleanup, http: requests.Session, successes: Counter[str], learned: Learned) -> tuple[Sender, CallHooks]:
    key = target.api(api).key
    scope = None
    if _live(target):
        mem0 = client if api == "mem0" else None

        def on_entity(kind: str, ident: str) -> None:
            if mem0 is not None and kind in ENTITY_KEYS.values():  # "entity": an entity_type nobody has
                track_entity(cleanup, mem0, kind, ident)

        scope = Scope(run_prefix, on_entity=on_entity)
    filter_user = f"{run_prefix}-user-filters"  # positive filters without an entity get this run's user
    if api == "mem0":
        track_entity(cleanup, client, "user", filter_user)
    hooks = CallHooks(recorder, (key,), client.transport.limiter, scope, _register_created(client, cleanup, target.shared_data),
                      filter_user=filter_user if api == "mem0" else None, learned=learned,
                      picks=learned.copy())
    return Sender(client.url, APIS[api].authorization(key), target.api(api).timeout, http, successes, hooks), hooks


def _skip_unscoped(api: str, request: pytest.FixtureRequest, target: Target) -> None:
    label = getattr(getattr(request.node, "callspec", None), "params", {}).get("operation")
    if _live(target) and OPERATIONS[api].get(label or "") in UNSCOPED:
        pytest.skip(f"{label} cannot be scoped to the run: only on the reference server or with --allow-destructive")


@pytest.fixture(scope="session")
def _http(target: Target) -> Iterator[requests.Session]:
    """One requests session for schemathesis's calls (connections reused, the suite's retry policy).

    The embedded server on loopback is reached directly: no proxy of the environment (requests would
    otherwise read the proxy variables anew on every request, and send loopback traffic to a proxy that
    ``NO_PROXY`` does not exempt it from)."""
    with retries.mount(requests.Session()) as http:
        http.trust_env = not target.embedded
        yield http


@pytest.fixture
def mem0_sender(request, mem0, target, recorder, run_prefix, cleanup, _http, learned) -> Iterator[Sender]:
    """How schemathesis calls the target's Mem0 API (base URL, key), with the run's safety hooks active."""
    _skip_unscoped("mem0", request, target)
    sender, hooks = _sender("mem0", mem0, target, recorder, run_prefix, cleanup, _http, request.config.stash[SUCCESSES],
                          learned)
    with active(hooks):
        yield sender


@pytest.fixture
def klavis_sender(request, klavis, target, recorder, run_prefix, cleanup, _http, learned) -> Iterator[Sender]:
    """How schemathesis calls the target's Klavis API (base URL, key), with the run's safety hooks active."""
    _skip_unscoped("klavis", request, target)
    sender, hooks = _sender("klavis", klavis, target, recorder, run_prefix, cleanup, _http, request.config.stash[SUCCESSES],
                          learned)
    with active(hooks):
        yield sender


def feature_of(api: str, label: str) -> str:
    """The report's feature of an operation: its resource (the operation's first tag)."""
    path = label.partition(" ")[2]
    if api == "klavis":
        return "Sandbox data" if path.endswith(("/initialize", "/dump")) else "Sandbox lifecycle"
    tag = operation_by_label(api, label).tag
    return {"Project": "projects"}.get(tag, tag).capitalize()


def operation_params(api: str) -> list[Any]:
    """One parameter per operation, labelled for the report (feature = resource, story = operation); a
    supplemented operation of a capability needs it (``conformance/capabilities.py``)."""
    return [pytest.param(label, marks=[pytest.mark.contract(feature_of(api, label), story=label),
                                       *([pytest.mark.requires(GATED[label])] if label in GATED else [])])
            for label in OPERATIONS[api]]


@pytest.mark.requires("mem0")
@pytest.mark.parametrize("operation", operation_params("mem0"))
def test_mem0_operation(operation, mem0_sender, mem0, ids, cleanup, target):
    """Every generated request to this Mem0 operation, and its success path, get answers that pass all default checks."""
    run_operation("mem0", operation, mem0_sender, Mem0Resources(mem0, ids, cleanup, destructive=not _live(target)))


@pytest.mark.requires("klavis")
@pytest.mark.parametrize("operation", operation_params("klavis"))
def test_klavis_operation(operation, klavis_sender, klavis, ids, cleanup):
    """Every generated request to this Klavis operation, and its success path, get answers that pass all default checks."""
    run_operation("klavis", operation, klavis_sender, KlavisResources(klavis, ids, cleanup))


def _lacking(api: str, target: Target) -> frozenset[str]:
    """The operationIds of supplemented operations whose capability the target neither offers nor pins."""
    offered = target.api(api).capabilities
    return frozenset(OPERATIONS[api][label] for label, need in GATED.items()
                     if label in OPERATIONS[api] and need not in offered)


def _run_stateful(api: str, sender: Sender, target: Target) -> None:
    run_stateful(api, sender, exclude=(UNSCOPED if _live(target) else frozenset()) | _lacking(api, target))


@pytest.mark.requires("mem0")
@pytest.mark.contract("Stateful workflows", story="links between Mem0 operations")
def test_mem0_stateful(mem0_sender, target):
    """Sequences that follow the Mem0 overlay links (create, then read, update, delete what was created) pass all default checks."""
    _run_stateful("mem0", mem0_sender, target)


@pytest.mark.requires("klavis")
@pytest.mark.contract("Stateful workflows", story="links between Klavis operations")
def test_klavis_stateful(klavis_sender, target):
    """Sequences that follow the Klavis overlay links (acquire, then initialize, dump, reset, release) pass all default checks."""
    _run_stateful("klavis", klavis_sender, target)
