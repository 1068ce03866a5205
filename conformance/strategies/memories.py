"""Strategies for Mem0 memories: texts, metadata, messages and expiration dates.

Valid data by default, realistic rather than uniform: texts mix plain English with accented,
Cyrillic, CJK, right-to-left and emoji text, and with free-form Unicode; metadata nests objects
and lists and holds empty and large values. Texts are NFC-normalised and carry no control
characters or surrounding white space, so a target may store them verbatim (``infer: false``)
and the suite can compare what comes back exactly.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "PHRASES", "expiration_dates", "memory_texts", "message_lists", "metadata_values", "metadatas",
]

# Things people tell an assistant, in several scripts (every one non-ASCII but the first few).
PHRASES = (
    "I prefer tea over coffee in the morning",
    "My daughter's birthday is on March 3rd",
    "Allergic to peanuts; carries an EpiPen",
    "Je préfère le café noir, sans sucre",
    "Ich wohne in Köln und fahre gern Fahrrad",
    "Mi restaurante favorito está en Málaga",
    "Алиса любит зелёный чай и длинные прогулки",
    "私は寿司が好きです。特にサーモン",
    "我每天早上跑步五公里",
    "저는 한국 음식을 좋아해요",
    "أفضل القهوة العربية مع الهيل",
    "אני גר בתל אביב",
    "Πίνω καφέ χωρίς ζάχαρη",
    "Loves hiking 🥾 and camping ⛺ with the dog 🐕",
    "Naïve café owner in São Paulo — façade repainted",
    "Uses the ‘smart quotes’ and “fancy” dashes – always",
)

# Printable Unicode: no control, format (zero-width), surrogate, private-use, unassigned or line/paragraph separators.
_PRINTABLE = st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
_FREE_TEXT = st.text(alphabet=_PRINTABLE, min_size=1, max_size=40)
_KEYS = st.one_of(st.sampled_from(("source", "topic", "priority", "tags", "lieu", "日付", "настроение")),
                  st.text(alphabet=_PRINTABLE, min_size=1, max_size=12).map(lambda k: " ".join(k.split())).filter(bool))


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split()))


@st.composite
def _composed(draw: st.DrawFn, parts: st.SearchStrategy[str], max_parts: int) -> str:
    pieces = draw(st.lists(parts, min_size=1, max_size=max_parts))
    return _clean(" ".join(pieces))


def memory_texts(*, large: bool = True, free: bool = True, max_parts: int = 4) -> st.SearchStrategy[str]:
    """Non-empty memory texts: realistic phrases in many scripts, (``free``) free Unicode, and (``large``) a few KB.

    Every text is stripped, NFC-normalised and single-spaced; most hold non-ASCII characters.
    ``free=False`` composes the phrases only: far cheaper to shrink, for stateful machines whose
    every replay costs round trips.
    """
    word_parts = st.one_of(st.sampled_from(PHRASES), _FREE_TEXT) if free else st.sampled_from(PHRASES)
    texts = _composed(word_parts, max_parts).filter(bool)
    if not large:
        return texts
    big = st.builds(lambda phrase, n: _clean(" ".join([phrase] * n)), st.sampled_from(PHRASES),
                    st.integers(min_value=50, max_value=120))
    return st.one_of(texts, texts, texts, big)


def metadata_values(*, max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """JSON values as metadata holds them: scalars (incl. empty and large strings), nested lists and objects."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        st.just(""),
        st.sampled_from(PHRASES),
        st.text(alphabet=_PRINTABLE, max_size=20).map(_clean),
        st.builds(lambda phrase, n: phrase * n, st.sampled_from(PHRASES), st.integers(min_value=20, max_value=60)),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(_KEYS, children, max_size=4)),
        max_leaves=max_leaves,
    )


def metadatas(*, max_leaves: int = 8, empty: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Metadata objects: flat or nested, sometimes ``{}`` (with ``empty``), keys in several scripts."""
    objects = st.dictionaries(_KEYS, metadata_values(max_leaves=max_leaves), min_size=1, max_size=5)
    return st.one_of(st.just({}), objects, objects) if empty else objects


def message_lists(*, texts: st.SearchStrategy[str] | None = None, min_size: int = 1,
                  max_size: int = 5) -> st.SearchStrategy[list[dict[str, str]]]:
    """Conversations of user and assistant messages, each with non-empty text content."""
    message = st.fixed_dictionaries({
        "role": st.sampled_from(("user", "assistant")),
        "content": texts if texts is not None else memory_texts(large=False),
    })
    return st.lists(message, min_size=min_size, max_size=max_size)


def expiration_dates(*, past: bool = False, today: date | None = None) -> st.SearchStrategy[str]:
    """``YYYY-MM-DD`` expiration dates: from tomorrow on (default) or (``past``) before yesterday.

    Past dates keep a day of margin, so a target whose day is a little ahead or behind UTC
    still sees them as expired.
    """
    day = today or datetime.now(UTC).date()
    if past:
        return st.integers(min_value=2, max_value=3650).map(lambda n: (day - timedelta(days=n)).isoformat())
    return st.integers(min_value=2, max_value=3650).map(lambda n: (day + timedelta(days=n)).isoformat())
