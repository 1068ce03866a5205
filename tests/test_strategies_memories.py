"""The memory strategies generate valid, realistic data: non-ASCII, nested, empty and large values."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, date, datetime

from hypothesis import HealthCheck, find, given, settings

from conformance.strategies.memories import (
    expiration_dates,
    memory_texts,
    message_lists,
    metadata_values,
    metadatas,
)

FIND = settings(max_examples=2000, database=None, suppress_health_check=list(HealthCheck))


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


@given(memory_texts())
def test_memory_texts_are_stored_verbatim_safe(text):
    """A memory text is non-empty, stripped, single-spaced, NFC and free of control characters."""
    assert text and text == text.strip() and "  " not in text
    assert unicodedata.is_normalized("NFC", text)
    assert not any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") for char in text)


@given(memory_texts(free=False, large=False))
def test_phrase_only_texts_are_small(text):
    """Without free text or large values, texts are built from the phrases only and stay short."""
    assert len(text) < 400


def test_memory_texts_reach_non_ascii_scripts_and_large_values():
    """The text strategy yields non-ASCII (CJK, Cyrillic, emoji) and multi-kilobyte texts."""
    assert find(memory_texts(), lambda t: any("\u4e00" <= c <= "\u9fff" for c in t), settings=FIND)
    assert find(memory_texts(), lambda t: any("\u0400" <= c <= "\u04ff" for c in t), settings=FIND)
    assert find(memory_texts(), lambda t: any(ord(c) > 0xFFFF for c in t), settings=FIND)
    assert len(find(memory_texts(), lambda t: len(t) > 2000, settings=FIND)) > 2000


@given(metadatas())
def test_metadata_round_trips_through_json(metadata):
    """Metadata is a JSON object that survives a JSON round trip unchanged, with integers in the safe range."""
    assert isinstance(metadata, dict)
    assert json.loads(json.dumps(metadata, allow_nan=False)) == metadata  # no NaN or infinity either
    assert all(abs(v) < 2**53 for v in _integers(metadata))


def _integers(value):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [n for item in value for n in _integers(item)]
    return [value] if isinstance(value, int) and not isinstance(value, bool) else []


def test_metadata_reaches_empty_nested_and_large_values():
    """The metadata strategy yields {}, objects nested three deep, empty strings and large strings."""
    assert find(metadatas(), lambda m: m == {}, settings=FIND) == {}
    assert _depth(find(metadatas(), lambda m: _depth(m) >= 3, settings=FIND)) >= 3
    assert find(metadata_values(), lambda v: v == "", settings=FIND) == ""
    assert len(find(metadata_values(), lambda v: isinstance(v, str) and len(v) > 500, settings=FIND)) > 500
    assert find(metadatas(empty=False), lambda m: True, settings=FIND) != {}


@given(message_lists())
def test_message_lists_hold_user_and_assistant_text(messages):
    """A message list holds 1..5 user or assistant messages, each with non-empty text."""
    assert 1 <= len(messages) <= 5
    assert all(m["role"] in ("user", "assistant") and m["content"] for m in messages)


@given(expiration_dates(past=True), expiration_dates())
def test_expiration_dates_are_past_or_future_by_at_least_a_day(past, future):
    """Past expiration dates lie before yesterday, future ones after tomorrow (YYYY-MM-DD, UTC)."""
    today = datetime.now(UTC).date()
    assert (date.fromisoformat(past) - today).days <= -2
    assert (date.fromisoformat(future) - today).days >= 2
