"""The Klavis ``Mem0Memory`` <-> Mem0 memory mapping of the reference server (FACTS.md table).

A Klavis initialize item is the Klavis spelling of one Mem0 add request:

==========================  =====================  =========================================
Klavis (default)            Mem0 add               kept on the stored :class:`Memory` as
==========================  =====================  =========================================
``message_list``            ``messages``           ``input`` (the source message of each memory)
``auto_infer`` (true)       ``infer``              ``options["auto_infer"]``
``background_processing``   ``async_mode``         ``options["background_processing"]``
(true)
``read_only`` (false)       ``immutable``          ``immutable``
``include_preferences``     ``includes``           ``options["include_preferences"]``
``exclude_preferences``     ``excludes``           ``options["exclude_preferences"]``
``category_definitions``    ``custom_categories``  ``options["category_definitions"]``
``processing_instructions`` ``custom_instructions`` ``options["processing_instructions"]``
``response_format`` (v1.1)  ``output_format``      ``options["response_format"]``
``content_text``            (output: ``memory``)   ``memory``
entity ids, ``metadata``    same names             same names
``timestamp``               ``timestamp``          ``options["timestamp"]``; sets ``created_at``
==========================  =====================  =========================================

Decisions (FACTS.md leaves them open):

- ``null`` for a boolean means its default (``auto_infer`` true, ``background_processing``
  true, ``read_only`` false); ``null`` for ``response_format`` means ``"v1.1"``.
- Memories come from the store's extraction rule (``store.extract``) with ``infer=auto_infer``.
  Each memory keeps its *own* source message as ``input``, so a dump item's ``message_list``
  is that one message: re-initializing a dump recreates the same memories (a fixpoint), and
  with ``auto_infer=false`` content, entity ids and metadata round-trip exactly.
- ``id``, ``content_text``, ``created_at`` and ``updated_at`` of an initialize item are
  output fields: ignored on input (the store assigns ids and times). ``timestamp`` is kept as
  given and, when it is a representable moment (years 1-9999), becomes the memory's
  ``created_at`` and ``updated_at``, as Mem0's ``timestamp`` on add does; any other integer is
  kept but leaves the times at "now" (no request is rejected for it).
- A dump item carries every Mem0Memory field, ``null`` where nothing was set, with the Klavis
  defaults applied.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conformance.server.store import ENTITY_KEYS, ISO_OF, JSON_LEAVES, Memory, extract, json_copy

KLAVIS_TO_MEM0 = {
    "message_list": "messages",
    "auto_infer": "infer",
    "background_processing": "async_mode",
    "read_only": "immutable",
    "include_preferences": "includes",
    "exclude_preferences": "excludes",
    "category_definitions": "custom_categories",
    "processing_instructions": "custom_instructions",
    "response_format": "output_format",
    "content_text": "memory",
}
DEFAULTS: dict[str, Any] = {
    "auto_infer": True,
    "background_processing": True,
    "read_only": False,
    "response_format": "v1.1",
}
# Klavis-only add options a dump gives back (kept in Memory.options under these names).
OPTION_KEYS = (
    "include_preferences", "exclude_preferences", "category_definitions", "processing_instructions",
    "response_format", "auto_infer", "background_processing",
)
# The options' defaults in a dump item's order, shared by every item: leaves only (a list or an object here would
# be one object in every answer).
_OPTION_DEFAULTS = {key: DEFAULTS.get(key) for key in OPTION_KEYS}
if any(type(value) not in JSON_LEAVES for value in _OPTION_DEFAULTS.values()):
    raise TypeError("a Klavis option's default must be a JSON leaf (a string, number, boolean or null)")
INITIALIZE_OPERATION = "initialize_sandbox_sandbox_mem0__sandbox_id__initialize_post"


def setting(item: dict[str, Any], key: str) -> Any:
    """An item's value for ``key``; absent or null means the Klavis default (None if none)."""
    value = item.get(key)
    return DEFAULTS.get(key) if value is None else value


def to_mem0_add(item: dict[str, Any]) -> dict[str, Any]:
    """The Mem0 add request an initialize item stands for (Klavis names mapped, defaults applied)."""
    request: dict[str, Any] = {KLAVIS_TO_MEM0.get(key, key): json_copy(setting(item, key))
                               for key in (*OPTION_KEYS, "read_only")}
    request["messages"] = json_copy(item.get("message_list") or [])
    for key in (*ENTITY_KEYS, "metadata", "timestamp"):
        request[key] = json_copy(item.get(key))
    if isinstance(request["timestamp"], float):  # JSON 1.7e9 is a valid integer: keep it as one
        request["timestamp"] = int(request["timestamp"])
    return request


@dataclass
class PlannedMemory:
    """One memory an initialize item creates: its text, its source message and its fields."""

    text: str
    source: dict[str, Any]
    fields: dict[str, Any]
    background: bool


def _moment(timestamp: Any) -> datetime | None:
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        return None
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def plan(item: dict[str, Any], sandbox_id: str) -> list[PlannedMemory]:
    """The memories one initialize item creates, by the store's extraction rule."""
    add = to_mem0_add(item)
    fields: dict[str, Any] = {key: add[key] for key in ENTITY_KEYS}
    fields["metadata"] = add["metadata"]
    fields["immutable"] = bool(add["immutable"])
    fields["sandbox_id"] = sandbox_id
    fields["options"] = {key: json_copy(setting(item, key)) for key in OPTION_KEYS}
    fields["options"]["timestamp"] = add["timestamp"]
    moment = _moment(add["timestamp"])
    if moment is not None:
        fields["created_at"] = fields["updated_at"] = moment
    return [PlannedMemory(text, source, json_copy(fields), bool(add["async_mode"]))
            for text, source in extract(add["messages"], infer=bool(add["infer"]))]


def dump_item(memory: Memory) -> dict[str, Any]:
    """A stored memory as a Klavis Mem0Memory ("the same format used for initialization")."""
    options = memory.options or {}
    metadata = memory.metadata
    item: dict[str, Any] = {
        "id": memory.id,
        "content_text": memory.memory,
        "message_list": list(memory.input),  # its messages shared, as a history's: a memory's input never changes
        "user_id": memory.user_id,
        "agent_id": memory.agent_id,
        "app_id": memory.app_id,
        "run_id": memory.run_id,
        "metadata": None if metadata is None else json_copy(metadata),
    }
    item.update(_OPTION_DEFAULTS)  # every dump asks for each memory: the defaults at once, then what it was given
    for key, value in options.items():
        if value is not None and key in _OPTION_DEFAULTS:
            item[key] = value if type(value) in JSON_LEAVES else json_copy(value)
    item["read_only"] = bool(memory.immutable)
    item["timestamp"] = options.get("timestamp")
    item["created_at"] = ISO_OF[memory.created_at]
    item["updated_at"] = ISO_OF[memory.updated_at]
    return item


@functools.cache
def _default_data_set() -> dict[str, Any]:
    from conformance.specs import effective

    for item in effective("klavis")["paths"].values():
        operation = item.get("post", {})
        if operation.get("operationId") == INITIALIZE_OPERATION:
            examples = operation["requestBody"]["content"]["application/json"]["examples"]
            return json_copy(examples["default"]["value"])
    raise LookupError(f"the effective Klavis document has no {INITIALIZE_OPERATION}")


def default_data_set() -> dict[str, Any]:
    """The ``init_default_data=true`` data: the initialize operation's example body (a copy)."""
    return json_copy(_default_data_set())
