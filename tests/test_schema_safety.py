"""The live-safety rewriting of schemathesis requests (conformance.suite.live_scope, learned, call_hooks), without network."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from conformance.client import RateLimiter, Recorder
from conformance.specs import effective
from conformance.suite.call_hooks import CallHooks, active, after_call, before_call
from conformance.suite.learned import with_entity
from conformance.suite.live_scope import (
    UNSCOPED,
    Scope,
    rewrite_case,
)

PREFIX = "mct-run1-main"


@pytest.fixture
def scope() -> Scope:
    return Scope(PREFIX)


def test_an_entity_id_becomes_a_run_prefixed_id_and_the_same_value_the_same_id(scope):
    """A generated user id maps to one run-prefixed id, the same every time, different for another value."""
    first = scope.entity("user", "alice")
    assert first.startswith(f"{PREFIX}-user-")
    assert scope.entity("user", "alice") == first
    assert scope.entity("user", "bob") != first


def test_run_prefixed_ids_null_and_non_scalars_stay(scope):
    """An id the run already owns, None, booleans and containers are left as they are."""
    owned = f"{PREFIX}-user-7"
    assert scope.entity("user", owned) == owned
    for value in (None, True, {"a": 1}):
        assert scope.entity("user", value) == value


def test_an_empty_entity_id_becomes_a_run_prefixed_one(scope):
    """`?user_id=` could read as "no filter" on a live platform: an empty id is scoped like any other."""
    assert scope.entity("user", "").startswith(f"{PREFIX}-user-")
    assert scope.query({"user_id": "", "page": 1})["user_id"].startswith(f"{PREFIX}-user-")


def test_sandbox_tags_and_webhook_names_become_run_prefixed(scope):
    """A generated sandbox tag (acquire body, list query) and webhook name carry the run prefix; other names do not."""
    case = SimpleNamespace(path="/sandbox/{server_name}", path_parameters=None, query=None, body={"tag": "ºÞ", "ttl_seconds": 60})
    rewrite_case(scope, case)
    assert case.body["tag"].startswith(f"{PREFIX}-tag-") and case.body["ttl_seconds"] == 60
    listing = SimpleNamespace(path="/sandbox", path_parameters=None, query={"tag": ""}, body=None)
    rewrite_case(scope, listing)
    assert listing.query["tag"].startswith(f"{PREFIX}-tag-")
    hook = SimpleNamespace(path="/api/v1/webhooks/projects/{project_id}/", path_parameters=None, query=None,
                           body={"name": "", "url": "https://example.com/x"})
    rewrite_case(scope, hook)
    assert hook.body["name"].startswith(f"{PREFIX}-name-") and hook.body["url"] == "https://example.com/x"
    other = SimpleNamespace(path="/v1/users/", path_parameters=None, query=None, body={"name": "Zoë"})
    rewrite_case(scope, other)
    assert other.body == {"name": "Zoë"}


def test_numbers_are_rewritten_too(scope):
    """A number in an entity field (sent as text in a query) becomes a run-prefixed id."""
    assert scope.entity("agent", 123).startswith(f"{PREFIX}-agent-")


def test_query_entity_ids_are_rewritten_and_other_parameters_kept(scope):
    """user_id, agent_id, app_id and run_id in a query are run-prefixed; page and org_id are kept."""
    query = scope.query({"user_id": "u", "agent_id": "a", "app_id": "p", "run_id": "r", "page": 2, "org_id": "o"})
    assert all(query[key].startswith(f"{PREFIX}-{kind}-") for key, kind in
               (("user_id", "user"), ("agent_id", "agent"), ("app_id", "app"), ("run_id", "run")))
    assert query["page"] == 2 and query["org_id"] == "o"


def test_entity_ids_inside_filters_are_rewritten_at_any_depth(scope):
    """Entity ids inside AND/OR filters and operator objects ({"in": [...]}, {"ne": ...}) are all run-prefixed."""
    body = scope.body({
        "query": "user_id is the topic",
        "filters": {"AND": [{"user_id": "alice"}, {"OR": [{"agent_id": {"in": ["x", "y"]}}, {"run_id": {"ne": "z"}}]}]},
    })
    assert body["query"] == "user_id is the topic"
    and_ = body["filters"]["AND"]
    assert and_[0]["user_id"] == scope.entity("user", "alice")
    assert and_[1]["OR"][0]["agent_id"]["in"] == [scope.entity("agent", "x"), scope.entity("agent", "y")]
    assert and_[1]["OR"][1]["run_id"]["ne"] == scope.entity("run", "z")


def test_wildcard_entity_ids_are_scoped_too(scope):
    """A "*" entity id (every entity) is turned into one run-prefixed id, never sent as is."""
    assert scope.query({"user_id": "*"})["user_id"].startswith(f"{PREFIX}-user-")


def test_entity_path_parameters_take_their_kind_from_entity_type(scope):
    """{entity_id} and {entity_name} become run-prefixed ids of the kind named by {entity_type}."""
    assert scope.path({"entity_type": "agents", "entity_id": "a1"})["entity_id"].startswith(f"{PREFIX}-agent-")
    assert scope.path({"entity_type": "user", "entity_name": "u1"})["entity_name"].startswith(f"{PREFIX}-user-")
    assert scope.path({"entity_type": "???", "entity_id": "e"})["entity_id"].startswith(f"{PREFIX}-entity-")


def test_a_foreign_path_id_becomes_a_fresh_id_of_the_same_shape(scope):
    """A memory id the run did not see is replaced by a new random UUID; other ids by an absent run-prefixed id."""
    foreign = str(uuid.uuid4())
    path = scope.path({"memory_id": foreign, "sandbox_id": "sbx-1", "webhook_id": 42})
    assert path["memory_id"] != foreign and uuid.UUID(path["memory_id"])
    assert path["sandbox_id"].startswith(f"{PREFIX}-absent-")
    assert isinstance(path["webhook_id"], int) and path["webhook_id"] != 42
    assert scope.path({"memory_id": foreign})["memory_id"] != path["memory_id"]  # fresh every time


def test_a_path_id_the_run_created_is_kept(scope):
    """An id from the answer to the run's own create is used as is."""
    scope.learn("POST", 201, {"sandbox_id": "sbx-mine", "status": "occupied"})
    assert scope.path({"sandbox_id": "sbx-mine"}) == {"sandbox_id": "sbx-mine"}


def test_memory_ids_in_a_body_are_replaced_unless_the_run_owns_them(scope):
    """A batch names only memories the run created; other memory ids become absent ones."""
    mine = str(uuid.uuid4())
    scope.learn("GET", 200, {"results": [{"id": mine, "user_id": f"{PREFIX}-user-1"}]})
    foreign = str(uuid.uuid4())
    body = scope.body({"memories": [{"memory_id": mine, "text": "x"}, {"memory_id": foreign}]})
    assert body["memories"][0] == {"memory_id": mine, "text": "x"}
    assert body["memories"][1]["memory_id"] != foreign


def test_ids_of_someone_else_s_resources_are_not_learned(scope):
    """Ids in answers that name another entity, in failed answers or in reads of foreign data are not learned."""
    other, failed, read = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    scope.learn("POST", 200, {"results": [{"id": other, "user_id": "someone"}]})
    scope.learn("POST", 400, {"id": failed})
    scope.learn("GET", 200, {"id": read})
    assert not scope.known & {other, failed, read}


def test_rewrite_case_changes_query_body_and_path_in_place(scope):
    """A schemathesis case's query, body and path parameters are all rewritten."""
    case = SimpleNamespace(path_parameters={"memory_id": "m"}, query={"user_id": "u"}, body={"user_id": "b"})
    rewrite_case(scope, case)
    assert case.path_parameters["memory_id"] != "m"
    assert case.query["user_id"].startswith(PREFIX) and case.body["user_id"].startswith(PREFIX)


def test_each_entity_id_handed_out_is_announced_for_cleanup():
    """Every run-prefixed entity id is reported to on_entity (the suite registers its deletion)."""
    seen = []
    scope = Scope(PREFIX, on_entity=lambda kind, ident: seen.append((kind, ident)))
    ident = scope.entity("user", "alice")
    assert seen == [("user", ident)]


def test_unscoped_operations_name_real_operations():
    """Every operationId in UNSCOPED exists in the effective Mem0 document (a typo would let one through)."""
    ids = {op.get("operationId") for item in effective("mem0")["paths"].values() for op in item.values()
           if isinstance(op, dict)}
    assert UNSCOPED <= ids


def _case(method="GET", body=None, query=None):
    return SimpleNamespace(method=method, formatted_path="/v1/memories/", path_parameters=None,
                           query=query or {}, body=body)


def _response(status, content=b"", auth="Token secret-key", message="OK"):
    """An answer as schemathesis hands it to the hooks (its own Response, the request a prepared ``requests`` one)."""
    import requests
    from schemathesis.core.transport import Response

    request = requests.Request("GET", "http://t/v1/memories/?user_id=x",
                               headers={"Authorization": auth, "X-Other": "secret-key here"}).prepare()
    return Response(status_code=status, headers={"Content-Type": ["application/json"]}, content=content,
                    request=request, elapsed=0.01, verify=True, message=message)


def test_the_hooks_act_only_while_a_session_is_active_and_record_without_the_key():
    """Outside ``active`` nothing happens; inside, requests are rewritten and exchanges recorded with keys redacted."""
    recorder = Recorder()
    case = _case(query={"user_id": "u"})
    before_call(None, case, {})
    assert case.query == {"user_id": "u"} and len(recorder) == 0
    hooks = CallHooks(recorder, ("secret-key",), RateLimiter(None), Scope(PREFIX))
    with active(hooks):
        before_call(None, case, {})
        after_call(None, case, _response(200, b'{"echo": "secret-key"}'))
    assert case.query["user_id"].startswith(PREFIX)
    text = recorder.render()
    assert "secret-key" not in text and "[redacted]" in text and "< 200" in text


def test_without_a_scope_nothing_is_rewritten():
    """On the reference server (no scope) the generated request is sent as generated."""
    hooks = CallHooks(Recorder(), (), RateLimiter(None), None)
    case = _case(query={"user_id": "u"}, body={"user_id": "b"})
    with active(hooks):
        before_call(None, case, {})
    assert case.query == {"user_id": "u"} and case.body == {"user_id": "b"}


# --- generated filters get a run-scoped entity (their success path) ----------------------------------------

@pytest.mark.parametrize(("filters", "scoped"), [
    ({}, {"user_id": "u"}),
    ({"created_at": {"gte": "2000-01-01"}}, {"created_at": {"gte": "2000-01-01"}, "user_id": "u"}),
    ({"AND": [{"categories": {"in": ["x"]}}]}, {"AND": [{"categories": {"in": ["x"]}}, {"user_id": "u"}]}),
    ({"OR": [{"metadata": {"a": 1}}]}, {"AND": [{"user_id": "u"}, {"OR": [{"metadata": {"a": 1}}]}]}),
    ({"NOT": [{"app_id": "someone"}]}, {"NOT": [{"app_id": "someone"}]}),  # names an entity already: unchanged
    ({"OR": [{"agent_id": "a"}]}, {"OR": [{"agent_id": "a"}]}),
])
def test_filters_without_an_entity_get_the_run_s_user(filters, scoped):
    assert with_entity({"query": "q", "filters": filters}, "u") == {"query": "q", "filters": scoped}


def test_bodies_without_filters_are_left_alone():
    assert with_entity({"query": "q"}, "u") == {"query": "q"}
    assert with_entity({"filters": "not an object"}, "u") == {"filters": "not an object"}


def test_an_unserved_answer_to_a_generated_case_is_the_target_broken():
    """A 429/502/503/504 that outlasted the retries stops the run as the target broken, naming the answer."""
    from conformance.verdicts import TargetBroken

    hooks = CallHooks(Recorder(), (), RateLimiter(None), None)
    case = SimpleNamespace(**vars(_case()), path="/v1/memories/")
    with active(hooks), pytest.raises(TargetBroken, match="GET /v1/memories/ answered 503 Service Unavailable"):
        after_call(None, case, _response(503, b"", message="Service Unavailable"))


def test_the_ids_a_run_learns_from_its_answers():
    """A memory by its ``id`` (when known to be mutable), a resource by the key its path parameter is named after, a
    member by its email, at any depth and in the order they appear; nothing from a history entry's memory_id."""
    from conformance.suite.learned import Learned

    learned = Learned()
    learned.learn({"results": [{"id": "m1", "memory": "tea", "immutable": False},
                               {"id": "m2", "memory": "coffee"},  # not known to be mutable
                               {"id": "m3", "memory": "milk", "immutable": True}],
                   "history": [{"memory_id": "m9", "event": "ADD"}],
                   "nested": {"webhook_id": "w1", "deeper": [{"sandbox_id": "s1", "event_id": "e1"}]},
                   "members": [{"email": "a@x.invalid", "role": "OWNER"}, {"email": "b@x.invalid"}],
                   "org": {"org_id": "o1", "project_id": "", "id": "p1"}})
    assert learned.ids == {"memory_id": {"m1": None}, "webhook_id": {"w1": None}, "sandbox_id": {"s1": None},
                           "event_id": {"e1": None}, "email": {"a@x.invalid": None}, "org_id": {"o1": None}}
    learned.learn([{"id": "m4", "data": {"memory": "tea"}, "event": "ADD"}, {"id": "m5", "memory": "x"}],
                  sent={"messages": [{"role": "user", "content": "tea"}]})  # a mutable add's answer (v1.0)
    assert list(learned.ids["memory_id"]) == ["m1", "m4", "m5"]
    learned.learn([{"id": "m6", "memory": "x"}], sent={"messages": [], "immutable": True})
    assert "m6" not in learned.ids["memory_id"]


def test_a_positive_case_addresses_a_learned_id_about_half_the_time_and_the_same_one_on_a_replay():
    from conformance.suite.learned import Learned, address_learned

    def addressed(learned, generated):
        case = SimpleNamespace(**vars(_case()), path="/v1/memories/{memory_id}/")
        case.path_parameters = {"memory_id": generated, "other": "kept"}
        address_learned(case, learned, None)
        return case.path_parameters

    generated = [f"generated-{n}" for n in range(200)]
    assert all(addressed(Learned(), value) == {"memory_id": value, "other": "kept"} for value in generated)
    learned = Learned({"memory_id": {"m1": None, "m2": None}})
    chosen = [addressed(learned, value) for value in generated]
    pointed = [params["memory_id"] for params in chosen if params["memory_id"] in ("m1", "m2")]
    assert 60 < len(pointed) < 140 and set(pointed) == {"m1", "m2"}
    assert all(params["other"] == "kept" for params in chosen)
    assert [addressed(learned, value) for value in generated] == chosen  # a replay addresses the same resource
