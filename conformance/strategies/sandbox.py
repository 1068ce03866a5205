"""Klavis mem0 sandbox data: Mem0Memory items, initialize bodies, and invalid bodies.

Valid by default. Entity ids carry the caller's ``run_prefix`` (a few per prefix, so that items
share entities), so data on a shared live store is the run's own. Text is realistic and
includes non-ASCII, padded and long contents; metadata is nested JSON, sometimes empty.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from conformance.apis import ENTITY_KEYS


_SENTENCES = (
    "I prefer dark mode for all applications",
    "My favourite café is on Rue de Rivoli — I go there every Sunday",
    "Ich trinke morgens immer grünen Tee",
    "私は毎朝ジョギングをします",
    "Мой любимый язык программирования — Python",
    "Allergic to peanuts 🥜, please remember that",
    "I'm working on a machine learning project using TensorFlow",
    "Noted: you have a meeting every Monday at 9 AM.",
    "My email is jane.doe+test@example.com",
    'She said "ship it" and left; tabs\tand\nnewlines stay',
)


def message_texts() -> st.SearchStrategy[str]:
    """Non-empty message contents: realistic sentences (non-ASCII among them), free Unicode
    text, whitespace-padded text (kept exactly when stored verbatim) and long text."""
    free = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
    sentences = st.sampled_from(_SENTENCES)
    padded = st.builds(lambda pad, text: f"{pad}{text}{pad}", st.sampled_from((" ", "\n", "\t ")), sentences)
    long = st.builds(lambda text, n: " ".join([text] * n), sentences, st.integers(10, 40))
    return st.one_of(sentences, padded, free, long).filter(lambda text: text.strip() != "")


def messages(*, roles: tuple[str, ...] = ("user", "assistant")) -> st.SearchStrategy[dict[str, str]]:
    """Mem0Message objects ``{role, content}``."""
    return st.fixed_dictionaries({"role": st.sampled_from(roles), "content": message_texts()})


def metadata_values() -> st.SearchStrategy[dict[str, Any] | None]:
    """Metadata objects: realistic, nested JSON two levels deep (no floats, integers within
    2**53), empty, or null."""
    keys = st.sampled_from(("category", "tags", "source", "clé", "注記", "nested", ""))
    scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.sampled_from(("", "x", "café ☕", "日本"))
    values = scalars | st.lists(scalars, max_size=3) | st.dictionaries(keys, scalars | st.lists(scalars, max_size=2),
                                                                       max_size=2)
    realistic = st.sampled_from((
        {"category": "preferences", "tags": ["ui", "settings"]},
        {"category": "santé", "source": {"app": "calendrier", "version": 3, "flags": [True, None]}},
        {"category": "contact", "tags": []},
    ))
    return st.one_of(realistic, st.dictionaries(keys, values, min_size=1, max_size=3), st.just({}), st.none())


def entity_ids(*, run_prefix: str, kind: str) -> st.SearchStrategy[str]:
    """One of three run-prefixed ids of ``kind`` (``<run_prefix>-kv<kind>-<n>``)."""
    return st.integers(0, 2).map(lambda n: f"{run_prefix}-kv{kind}-{n}")


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def mem0_memories(
    *, run_prefix: str, auto_infer: st.SearchStrategy[bool | None] | None = None,
    background_processing: st.SearchStrategy[bool | None] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Mem0Memory initialize items with a run-prefixed ``user_id`` and optional other entity ids.

    Absent and ``null`` settings both occur (they mean the Klavis default); ``auto_infer`` and
    ``background_processing``, when given, are strategies for the value always sent.
    """
    flags = st.sampled_from((False, True, None))
    required = {
        "message_list": st.lists(messages(), max_size=3),
        "user_id": entity_ids(run_prefix=run_prefix, kind="user"),
        "auto_infer": auto_infer if auto_infer is not None else st.sampled_from((False, False, True, None)),
        "metadata": metadata_values(),
    }
    optional = {
        "read_only": flags,
        "agent_id": _optional(entity_ids(run_prefix=run_prefix, kind="agent")),
        "app_id": entity_ids(run_prefix=run_prefix, kind="app"),
        "run_id": entity_ids(run_prefix=run_prefix, kind="run"),
        "timestamp": _optional(st.integers(0, 4_102_444_800)),
    }
    if background_processing is not None:  # given: always sent; else absent, null, true or false
        required["background_processing"] = background_processing
    else:
        optional["background_processing"] = flags
    return st.builds(lambda item, extra: {**item, **copy.deepcopy(extra)},
                     st.fixed_dictionaries(required, optional=optional), st.sampled_from(_ADD_OPTIONS))


# The Klavis-only add options, a few realistic combinations (each option round-trips as given).
_ADD_OPTIONS = (
    {},
    {"include_preferences": "project details, technologies, status", "response_format": "v1.0"},
    {"exclude_preferences": "temporary contact info", "include_preferences": "", "response_format": None},
    {"category_definitions": [{"ui_preferences": "Tracks themes, colours — and fonts"}, {"santé": ""}],
     "processing_instructions": "Store all calendar events with timezone information"},
    {"category_definitions": None, "processing_instructions": "", "response_format": "v1.1"},
)


def memory_lists(*, run_prefix: str, max_size: int = 3, **options: Any) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Lists of Mem0Memory items (possibly empty); ``options`` go to :func:`mem0_memories`."""
    return st.lists(mem0_memories(run_prefix=run_prefix, **options), max_size=max_size)


def initialize_bodies(*, run_prefix: str, **options: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Initialize request bodies ``{"memory_list": [...]}``."""
    return st.fixed_dictionaries({"memory_list": memory_lists(run_prefix=run_prefix, **options)})


# Values no FastAPI/pydantic server coerces into the declared type.
_INVALID_FIELDS = st.sampled_from((
    ("message_list", "I prefer tea"),
    ("message_list", [{"role": "user"}]),
    ("message_list", [{"role": "user", "content": 42}]),
    ("message_list", [["user", "hello"]]),
    ("auto_infer", "sometimes"),
    ("read_only", {"value": True}),
    ("background_processing", [True]),
    ("user_id", 12345),
    ("metadata", ["not", "an", "object"]),
    ("metadata", "category=preferences"),
    ("timestamp", "yesterday"),
    ("timestamp", 1.5),
    ("category_definitions", {"ui": "not a list"}),
))


def invalid_initialize_bodies(*, run_prefix: str) -> st.SearchStrategy[Any]:
    """Initialize bodies the schema refuses (422); some carry a valid item beside the invalid one."""

    def with_invalid_item(valid: list[dict[str, Any]], field: tuple[str, Any], position: int) -> dict[str, Any]:
        name, value = field
        bad = {"message_list": [{"role": "user", "content": "never stored"}], "user_id": f"{run_prefix}-kvuser-0",
               name: value}
        items = list(valid)
        items.insert(position % (len(items) + 1), bad)
        return {"memory_list": items}

    shapes = st.sampled_from(({"memory_list": "everything"}, {"memory_list": [7]}, {"memory_list": {"a": 1}},
                              [{"message_list": []}], "memory_list"))
    valid = memory_lists(run_prefix=run_prefix, max_size=2, auto_infer=st.just(False),
                         background_processing=st.just(False))
    return shapes | st.builds(with_invalid_item, valid, _INVALID_FIELDS, st.integers(0, 3))
