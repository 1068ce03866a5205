"""Strategies for the Mem0 platform resources: entities, exports, feedback, members, webhooks.

Valid data by default. Values that must carry the run prefix (ids, names, URLs) are composed
by the test from the run prefix and what these strategies draw, since a strategy cannot know
the prefix beforehand.
"""

from __future__ import annotations


from hypothesis import strategies as st

ENTITY_KINDS = ("user", "agent", "app", "run")
MEMBER_ROLES = ("READER", "OWNER")
FEEDBACK_VALUES = ("POSITIVE", "NEGATIVE", "VERY_NEGATIVE", None)
WEBHOOK_EVENT_TYPES = ("memory_add", "memory_update", "memory_delete", "memory_categorize")
# How an export names the users it wants (see filters_for in the suite): one user at the top
# level of the filters, inside AND, at the top level of the body (as the SDK passes keyword
# arguments), or one or more users as an OR of conditions. (The "in" operator is not among
# them: the export document types an entity filter as a plain string.)
SINGLE_USER_SHAPES = ("flat", "and", "top-level")
MANY_USER_SHAPES = ("or",)

# Printable text of any script, without control characters or surrogates (which JSON bodies
# and stored text on real servers do not carry).
_TEXT = st.characters(blacklist_categories=("Cc", "Cs"))


def texts(*, min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    """Short human text, any script (accents, CJK, emoji), possibly empty."""
    return st.text(_TEXT, min_size=min_size, max_size=max_size)


def feedback_values() -> st.SearchStrategy[str | None]:
    """The documented feedback values, null included."""
    return st.sampled_from(FEEDBACK_VALUES)


def feedback_reasons() -> st.SearchStrategy[str | None]:
    """A feedback reason: null, empty, or free text in any script."""
    return st.none() | texts(max_size=200)


def member_roles() -> st.SearchStrategy[str]:
    return st.sampled_from(MEMBER_ROLES)


def event_type_lists() -> st.SearchStrategy[list[str]]:
    """Non-empty lists of distinct webhook event types (a proper subset or all three)."""
    return st.lists(st.sampled_from(WEBHOOK_EVENT_TYPES), min_size=1, max_size=4, unique=True)


def webhook_update_fields() -> st.SearchStrategy[tuple[str, ...]]:
    """Which fields a webhook update (PUT) changes: the name, the url or both, never event_types."""
    return st.sampled_from([("name",), ("url",), ("name", "url")])


def user_selections(*, count: int) -> st.SearchStrategy[tuple[str, tuple[int, ...]]]:
    """``(shape, indices)``: which of ``count`` users an export selects, and how it names them."""
    single = st.tuples(st.sampled_from(SINGLE_USER_SHAPES), st.integers(0, count - 1).map(lambda i: (i,)))
    many = st.tuples(
        st.sampled_from(MANY_USER_SHAPES),
        st.lists(st.integers(0, count - 1), min_size=1, max_size=count, unique=True).map(lambda xs: tuple(sorted(xs))),
    )
    return single | many
