"""What each SDK call is expected to do against a conforming target: one :class:`Scenario` each.

A scenario drives the real SDK through a :class:`Context` (the SDK's clients, built on recorded
httpx clients, and run-prefixed ids registered for cleanup) and states its expectation and its
source. Several guard against regressions users met when upgrading mem0ai: an add whose entity
id is not stored (get_all with that filter comes back empty), search answering another shape,
memories still found after delete_all.
"""

from __future__ import annotations

from conformance.sdk.context import Context, Scenario, shape
from conformance.sdk.klavis_scenarios import _async_klavis, _default_data, _sandbox_lifecycle
from conformance.sdk.mem0_async_scenarios import _async_calls, _async_client, _async_settings
from conformance.sdk.mem0_scenarios import (
    _add_then_get_all,
    _batch,
    _construct,
    _constructor,
    _delete,
    _delete_all,
    _delete_users,
    _export,
    _export_as_documented,
    _feedback,
    _get,
    _ids_as_documented,
    _paging,
    _profiles,
    _project_update,
    _queued_add,
    _search,
    _summary,
    _top_level_ids,
    _update_and_history,
    _users_and_project,
    _webhooks,
)

__all__ = ["SCENARIOS", "Context", "Scenario", "shape"]


SCENARIOS = (
    Scenario("mem0ai", "MemoryClient(api_key, host)", "construction pings and learns the key's org and project",
             "GET /v1/ping/", _construct),
    Scenario("mem0ai", "add(user_id=u) then get_all(filters={'user_id': u})", "the added memory is listed for its user",
             "List/search filters (v2/v3)", _add_then_get_all),
    Scenario("mem0ai", "get_all(filters, page=1|2, page_size=2)", "two pages of 2 and 1 of the user's 3 memories",
             "Pagination", _paging),
    Scenario("mem0ai", "get_all and search with entity ids as the version documents them",
             "the memory is listed and found (no 'filters are required' for a documented call)",
             "List/search filters (v2/v3)", _ids_as_documented),
    Scenario("mem0ai", "get_all(user_id=u), search(q, user_id=u): top-level entity ids",
             "sent and honoured, or refused by the SDK itself with nothing sent, as the version's row says",
             "mem0ai Python SDK", _top_level_ids),
    Scenario("mem0ai", "MemoryClient(org_id=..., project_id=...)",
             "the version's constructor arguments are accepted; the ones it removed raise TypeError",
             "mem0ai Python SDK", _constructor),
    Scenario("mem0ai", "users(), get_project()", "the run's user is listed; the project is the key's",
             "mem0ai Python SDK", _users_and_project),
    Scenario("mem0ai", "get(memory_id)", "returns the memory added", "Add", _get),
    Scenario("mem0ai", "search(query, filters={'user_id': u})", "answers {results: [...]} holding the user's memory",
             "List/search filters (v2/v3)", _search),
    Scenario("mem0ai", "update(memory_id, text) then history(memory_id)", "history holds ADD then UPDATE", "History",
             _update_and_history),
    Scenario("mem0ai", "delete(memory_id)", "the memory is no longer listed", "Add", _delete),
    Scenario("mem0ai", "delete_all(user_id=u) then search", "nothing of the user is found any more", "Delete-all",
             _delete_all),
    Scenario("mem0ai", "add(user_id=u) (queued) then get_all", "the queued add is listed within the consistency wait",
             "Add", _queued_add),
    Scenario("mem0ai", "AsyncMemoryClient: construction, add, get_all, search, delete",
             "the asynchronous client pings (through requests) and does what the synchronous one does",
             "GET /v1/ping/", _async_client),
    Scenario("mem0ai", "batch_update then batch_delete", "one memory changed, the other gone", "Batch", _batch),
    Scenario("mem0ai", "AsyncMemoryClient: get, update, history, batch_update, batch_delete, feedback, get_summary, "
             "users, get_project, webhooks, delete_all, delete_users",
             "each does what its synchronous twin does", "mem0ai Python SDK", _async_calls),
    Scenario("mem0ai", "feedback(memory_id, 'POSITIVE', reason)", "the feedback is accepted and echoed", "Add", _feedback),
    Scenario("mem0ai", "create_memory_export(schema, filters) then get_memory_export", "the export holds the memory",
             "Add", _export),
    Scenario("mem0ai", "create_memory_export(schema={...}, filters) then get_memory_export",
             "with the schema as the document types it, the export holds the memory", "Exports", _export_as_documented),
    Scenario("mem0ai", "update_project(custom_instructions) then get_project(fields)",
             "the project's instructions read back as written", "mem0ai Python SDK", _project_update,
             needs=("destructive",)),
    Scenario("mem0ai", "AsyncMemoryClient: profile settings, generate_profile, get_profile_job, get_profile, "
             "sample_profiles, update_project, create_memory_export, get_memory_export",
             "each does what its synchronous twin does", "mem0ai Python SDK", _async_settings,
             needs=("profiles", "destructive")),
    Scenario("mem0ai", "get_summary(filters={'user_id': u})", "answers a summary object", "Add", _summary),
    Scenario("mem0ai", "create_webhook, update_webhook, get_webhooks, delete_webhook",
             "the renamed webhook is listed, then deleted", "Add", _webhooks),
    Scenario("mem0ai", "delete_users(user_id=u) then get_all", "nothing of the user is listed any more", "Delete-all",
             _delete_users),
    Scenario("mem0ai", "update_profile_settings, get_profile_settings, generate_profile, get_profile_job, get_profile, "
             "sample_profiles", "settings read back as written; the user's profile job settles and the profile says "
             "succeeded; a sample of one", "mem0ai Python SDK", _profiles, needs=("profiles", "destructive")),
    Scenario("klavis", "create_sandbox, get_sandbox, initialize_mem0sandbox, dump, reset_sandbox, delete_sandbox",
             "the dump holds what was initialized, nothing after reset; release answers idle",
             "Klavis mem0 sandbox API", _sandbox_lifecycle),
    Scenario("klavis", "initialize_mem0sandbox(init_default_data=True)", "the dump holds the default data set",
             "Klavis mem0 sandbox API", _default_data),
    Scenario("klavis", "AsyncKlavis: create_sandbox, get_sandbox, initialize_mem0sandbox, dump_mem0sandbox, "
             "reset_sandbox, delete_sandbox", "the asynchronous client does what the synchronous one does",
             "Klavis mem0 sandbox API", _async_klavis),
)
