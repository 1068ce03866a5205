"""The reference server reads a JSON body with orjson when it can: the same value, or the same refusal, as the
standard library's parser with the server's own checks (no NaN or Infinity, no lone surrogate)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.server.operations import _UNREAD, InvalidText, _fast_json, _not_json, check_text


def standard(raw: bytes) -> tuple[str, object]:
    """What the standard path makes of ``raw``: ("value", the value) or ("refused", None)."""
    try:
        body = json.loads(raw, parse_constant=_not_json)
        check_text(body, ["body"])
    except (ValueError, RecursionError, InvalidText):
        return "refused", None
    return "value", body


def fast_then_standard(raw: bytes) -> tuple[str, object]:
    body = _fast_json(raw)
    return standard(raw) if body is _UNREAD else ("value", body)


def same(raw: bytes) -> None:
    expected, got = standard(raw), fast_then_standard(raw)
    assert got[0] == expected[0], raw
    assert repr(got[1]) == repr(expected[1]), raw  # repr: -0.0 against 0.0, 1 against 1.0, keys in order


EDGES = [
    b'"\\ud800"', b'"\\udc00x"', b'"\\ud83d\\ude00"', b'"\xed\xa0\x80"', b'"\xff"', b"\xef\xbb\xbf{}",
    b"NaN", b"Infinity", b"-Infinity", b'{"a": [NaN]}', b"1e400", b"-1e400", b"0.1e-400",
    b"123456789012345678901234567890", b"-9223372036854775809", b"9223372036854775807", b"18446744073709551615",
    b"18446744073709551616", b"1" * 500, b"0.12345678901234567890123", b'{"a":1,"a":2}', b"-0", b"-0.0", b"1.0",
    b"1E2", b" {} ", b"{}\n", b"[1,]", b"\x00", b'"a\x00b"', b'"\\u0000"', b"[" * 1100 + b"]" * 1100,
    b"[" * 1000 + b"]" * 1000, b"[" * 512 + b"]" * 512, b"[" * 513 + b"]" * 513, b'{"a": ' * 300 + b"1" + b"}" * 300, '"\u00e9\u6211"'.encode("utf-16"), b"", b"   ", b'{"a": tru}', b"true false",
]


@pytest.mark.parametrize("raw", EDGES)
def test_each_known_difference_of_the_two_parsers_goes_the_standard_way(raw):
    """Where orjson and the standard library differ (lone surrogates, NaN, a byte order mark, an integer beyond 64
    bits, the nesting limit, another encoding), the body is read or refused as the standard path does."""
    same(raw)


def test_orjson_reads_the_common_bodies():
    """The fast path is taken, not only safe: a typical add, nesting up to 512 brackets, integers of 18 digits."""
    for raw in (b'{"messages": [{"role": "user", "content": "tea"}], "user_id": "alice", "infer": false}',
                b"[" * 512 + b"]" * 512, b"[922337203685477580, -999999999999999999, -1.5e300]"):
        assert _fast_json(raw) is not _UNREAD, raw


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSON, st.sampled_from(["plain", "ascii", "spaced"]))
def test_any_json_value_is_read_the_same_either_way(value, spelling):
    """Any JSON value (big integers, floats of every size, text of any code point, lone surrogates among them),
    spelt as orjson or Python would write it, is read or refused alike."""
    raw = json.dumps(value, ensure_ascii=spelling == "ascii", indent=2 if spelling == "spaced" else None,
                     allow_nan=True).encode("utf-8", "surrogatepass")
    same(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40) | st.text(alphabet='[]{}",:0123456789.eE+-tfnaulrsINy \\ud\n', max_size=40).map(
    lambda text: text.encode("utf-8", "surrogatepass")))
def test_any_bytes_are_read_or_refused_the_same_either_way(raw):
    """Arbitrary bytes and near-JSON text (the grammar's own characters, escapes, constants) are read or refused
    alike: orjson accepts nothing the standard path refuses."""
    same(raw)


@pytest.mark.parametrize(("value", "where"), [
    ("\ud800", ["query", "user_id"]),  # a string alone, as a parameter is checked
    ("tea \udc00", ["path", "memory_id"]),
    ({"messages": [{"content": "ok"}, {"content": "\ud83d"}]}, ["body", "messages", 1, "content"]),
    ({"\udfff": "a key"}, ["body", "\udfff"]),
])
def test_a_lone_surrogate_is_refused_where_it_is(value, where):
    loc = where[:2] if isinstance(value, str) else ["body"]
    with pytest.raises(InvalidText) as refused:
        check_text(value, loc)
    assert refused.value.loc == where


@pytest.mark.parametrize("value", ["tea", "\U0001f375 green", "", {"a": ["b", {"c": "\u00e9"}]}, [1, None, 2.5]])
def test_text_that_is_unicode_passes(value):
    assert check_text(value, ["body"]) is None  # a refusal raises InvalidText
