"""The Mem0 v2/v3 filter language (list and search), compiled into a predicate on memories.

A filter is an object whose keys must all hold (flat keys are an implicit AND)::

    AND | OR | NOT              a list of filters: all / at least one / none of them hold
    user_id | agent_id | app_id | run_id     the memory's entity ids
    created_at | updated_at     the memory's times
    categories                  the memory's category list
    keywords                    the memory text
    metadata                    {metadata key: condition, ...}

A condition is a literal (``"*"`` means any non-null value), a list of literals (one of them),
or an object of operators ``in, gte, lte, gt, lt, ne, contains, icontains``, which must all hold
(FACTS.md "List/search filters"). Literals and operands are strings, numbers or booleans
(components/schemas/FilterCondition), except that metadata literals may be any JSON value.
Any other key, operator or shape is answered 400 before a single memory is looked at.

Decisions where the documentation says nothing:
- Values of different kinds never compare (``"5"`` is not ``5``, ``true`` is not ``1``); ``gt``
  and friends compare numbers with numbers and strings with strings only.
- ``ne`` holds for a memory that lacks the field (null is not equal to the operand).
- An empty ``AND`` or ``OR`` list constrains nothing; an empty ``NOT`` excludes nothing.
- Times: an operand ``YYYY-MM-DD`` stands for that whole UTC day (``gte`` from its first
  instant, ``lte`` up to its last, equality anywhere within it); an ISO 8601 date-time for that
  instant (UTC if it has no offset); a number for a Unix timestamp. Anything else gets 400.
- ``categories``: a literal or ``in`` means one of the categories equals it; ``contains`` /
  ``icontains`` that one of them contains the text; ``ne`` that none equals it; ``"*"`` that
  there is at least one. Order comparisons get 400.
- ``keywords``: a literal means the text contains it, ignoring case; ``contains`` /
  ``icontains`` / ``ne`` / ``in`` apply to the text. Order comparisons get 400.
- ``metadata`` values: an object whose keys are all operators is a condition; any other object
  is a literal compared as a whole; null matches a missing or null metadata value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from conformance.server.errors import ApiError
from conformance.server.store import ENTITY_KEYS, Memory

Predicate = Callable[[Memory], bool]
LOGICAL = ("AND", "OR", "NOT")
TIME_KEYS = ("created_at", "updated_at")
FIELD_KEYS = (*ENTITY_KEYS, *TIME_KEYS, "categories", "keywords", "metadata")
OPERATORS = ("in", "gte", "lte", "gt", "lt", "ne", "contains", "icontains")
ORDER_OPERATORS = ("gte", "lte", "gt", "lt")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_DEPTH = 32


def invalid(message: str) -> ApiError:
    return ApiError(400, {"error": message})


def _always(_: Memory) -> bool:
    return True


def names_entity(filters: Any) -> bool:
    """Whether an entity id key appears in the filter, at the top or inside AND / OR / NOT."""
    if not isinstance(filters, dict):
        return False
    for key, value in filters.items():
        if key in ENTITY_KEYS:
            return True
        if key in LOGICAL and isinstance(value, list) and any(names_entity(item) for item in value):
            return True
    return False


def required_entities(filters: Any) -> dict[str, str]:
    """Entity ids every match must have: plain strings at the top or under AND (not ``*``, not under OR or
    NOT). A necessary condition only, cheap to test first; the compiled predicate still decides."""
    found: dict[str, str] = {}
    if not isinstance(filters, dict):
        return found
    for key, value in filters.items():
        if key in ENTITY_KEYS and isinstance(value, str) and value != "*":
            found[key] = value
        elif key == "AND" and isinstance(value, list):
            for part in value:
                found.update(required_entities(part))
    return found


def compile_filters(filters: Any, *, ignore_entities_under_or: bool = False) -> Predicate:
    """A predicate for ``filters``; raises 400 for anything outside the language.

    ``ignore_entities_under_or`` plants fault filter-leaks-other-users: entity conditions
    inside an OR list are dropped, as a scope-extraction step that forgets OR would do.
    """
    return _Compiler(ignore_entities_under_or).filter(filters, "filters", depth=0, under_or=False)


class _Compiler:
    def __init__(self, leak: bool) -> None:
        self.leak = leak

    def filter(self, node: Any, where: str, *, depth: int, under_or: bool) -> Predicate:
        if depth > _MAX_DEPTH:
            raise invalid(f"{where}: filters are nested too deeply")
        if not isinstance(node, dict):
            raise invalid(f"{where}: a filter must be an object")
        parts = [self.key(key, value, f"{where}.{key}", depth=depth, under_or=under_or) for key, value in node.items()]
        return lambda memory: all(part(memory) for part in parts)

    def key(self, key: str, value: Any, where: str, *, depth: int, under_or: bool) -> Predicate:
        if key in LOGICAL:
            return self.logical(key, value, where, depth=depth, under_or=under_or)
        if key in ENTITY_KEYS:
            condition = _condition(value, where)
            if self.leak and under_or:
                return _always
            return lambda memory: condition(getattr(memory, key))
        if key in TIME_KEYS:
            return _time_condition(key, value, where)
        if key == "categories":
            return _categories_condition(value, where)
        if key == "keywords":
            return _keywords_condition(value, where)
        if key == "metadata":
            return _metadata_condition(value, where)
        known = ", ".join((*LOGICAL, *FIELD_KEYS))
        raise invalid(f"Invalid filter key '{key}'. Supported keys: {known}.")

    def logical(self, key: str, value: Any, where: str, *, depth: int, under_or: bool) -> Predicate:
        if not isinstance(value, list):
            raise invalid(f"{where}: must be a list of filters")
        inner_or = under_or or key == "OR"
        parts = [self.filter(item, f"{where}[{i}]", depth=depth + 1, under_or=inner_or) for i, item in enumerate(value)]
        if key == "AND":
            return lambda memory: all(part(memory) for part in parts)
        if key == "OR":  # an empty OR constrains nothing, as an empty AND (as in mem0_selection)
            return lambda memory: not parts or any(part(memory) for part in parts)
        return lambda memory: not any(part(memory) for part in parts)


# --- generic values (entity ids, metadata) ---------------------------------------------------

def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: kinds must match (true is not 1); 1 equals 1.0."""
    if type(left) is str and type(right) is str:  # the usual case (an entity id, a metadata value), at once
        return left == right
    if _kind(left) != _kind(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    return bool(left == right)


def _equals(actual: Any, operand: Any) -> bool:
    if operand == "*":
        return actual is not None
    return json_equal(actual, operand)


def _ordered(actual: Any, operand: Any, operator: str) -> bool:
    kind = _kind(actual)
    if kind not in ("number", "string") or kind != _kind(operand):
        return False
    if operator == "gte":
        return bool(actual >= operand)
    if operator == "lte":
        return bool(actual <= operand)
    if operator == "gt":
        return bool(actual > operand)
    return bool(actual < operand)


def _contains(actual: Any, operand: Any, *, fold: bool) -> bool:
    if not isinstance(operand, str):
        return False
    needle = operand.casefold() if fold else operand
    if isinstance(actual, str):
        return needle in (actual.casefold() if fold else actual)
    if isinstance(actual, list):
        return any(isinstance(item, str) and needle in (item.casefold() if fold else item) for item in actual)
    return False


def _is_operator_object(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(key in OPERATORS for key in value)


def _check_operators(value: dict[str, Any], where: str, allowed: tuple[str, ...] = OPERATORS) -> None:
    if not value:
        raise invalid(f"{where}: an operator object needs at least one of {', '.join(allowed)}")
    for operator, operand in value.items():
        if operator not in allowed:
            raise invalid(f"{where}: unsupported operator '{operator}' (supported: {', '.join(allowed)})")
        if operator == "in" and not (isinstance(operand, list) and all(map(_is_scalar, operand))):
            raise invalid(f"{where}.in: must be a list of strings, numbers or booleans")
        if operator in ("contains", "icontains") and not isinstance(operand, str):
            raise invalid(f"{where}.{operator}: must be a string")
        if operator in ("ne", *ORDER_OPERATORS) and not _is_scalar(operand):
            raise invalid(f"{where}.{operator}: must be a string, a number or a boolean")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float)  # bool is an int


def _condition(value: Any, where: str, *, literal_objects: bool = False) -> Callable[[Any], bool]:
    """A test on one value: literal, list of literals, or operators (see the module docstring)."""
    if not literal_objects and not (isinstance(value, list | dict) or _is_scalar(value)):
        raise invalid(f"{where}: a condition is a string, a number, a boolean, a list or operators")
    if isinstance(value, list):
        if not literal_objects and not all(map(_is_scalar, value)):
            raise invalid(f"{where}: a list condition holds strings, numbers or booleans only")
        return lambda actual: any(_equals(actual, item) for item in value)
    if isinstance(value, dict) and not (literal_objects and not _is_operator_object(value)):
        _check_operators(value, where)
        tests = [_operator_test(operator, operand) for operator, operand in value.items()]
        return lambda actual: all(test(actual) for test in tests)
    return lambda actual: _equals(actual, value)


def _operator_test(operator: str, operand: Any) -> Callable[[Any], bool]:
    if operator == "in":
        return lambda actual: any(_equals(actual, item) for item in operand)
    if operator == "ne":
        return lambda actual: not _equals(actual, operand)
    if operator in ("contains", "icontains"):
        return lambda actual: _contains(actual, operand, fold=operator == "icontains")
    return lambda actual: _ordered(actual, operand, operator)


def _metadata_condition(value: Any, where: str) -> Predicate:
    if not isinstance(value, dict):
        raise invalid(f"{where}: must be an object of metadata keys")
    tests = {key: _condition(condition, f"{where}.{key}", literal_objects=True) for key, condition in value.items()}

    def matches(memory: Memory) -> bool:
        metadata = memory.metadata or {}
        return all(test(metadata.get(key)) for key, test in tests.items())

    return matches


# --- categories and keywords ---------------------------------------------------------------------

def _categories_condition(value: Any, where: str) -> Predicate:
    allowed = ("in", "ne", "contains", "icontains")
    if isinstance(value, dict):
        _check_operators(value, where, allowed)
        tests = [_category_test(operator, operand) for operator, operand in value.items()]
    else:
        values = value if isinstance(value, list) else [value]
        if not all(map(_is_scalar, values)):
            raise invalid(f"{where}: categories are matched with strings, numbers or booleans")
        tests = [_category_test("in", values)]
    return lambda memory: all(test(memory.categories) for test in tests)


def _category_test(operator: str, operand: Any) -> Callable[[list[str]], bool]:
    if operator == "in":
        return lambda cats: any(_equals(cat, item) for cat in cats for item in operand)
    if operator == "ne":
        return lambda cats: not any(_equals(cat, operand) for cat in cats)
    return lambda cats: _contains(cats, operand, fold=operator == "icontains")


def _keywords_condition(value: Any, where: str) -> Predicate:
    allowed = ("in", "ne", "contains", "icontains")
    if isinstance(value, dict):
        _check_operators(value, where, allowed)
        for operator, operand in value.items():
            if not all(isinstance(item, str) for item in (operand if operator == "in" else [operand])):
                raise invalid(f"{where}.{operator}: keywords are compared with text only")
        tests = [_text_test(operator, operand) for operator, operand in value.items()]
    elif isinstance(value, str):
        tests = [_text_test("icontains", value)]
    else:
        raise invalid(f"{where}: must be a string or an operator object")
    return lambda memory: all(test(memory.memory) for test in tests)


def _text_test(operator: str, operand: Any) -> Callable[[str], bool]:
    if operator == "in":
        return lambda text: any(isinstance(item, str) and item.casefold() in text.casefold() for item in operand)
    if operator == "ne":
        return lambda text: not _contains(text, operand, fold=True)
    return lambda text: _contains(text, operand, fold=operator == "icontains")


# --- times ---------------------------------------------------------------------------------------

def parse_moment(value: Any, where: str) -> tuple[datetime, datetime]:
    """The instants an operand stands for, as an inclusive ``(first, last)`` pair (UTC)."""
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(value, UTC)
            return moment, moment
        if isinstance(value, str) and _DATE.fullmatch(value):
            day = datetime.fromisoformat(value).replace(tzinfo=UTC)
            return day, day + timedelta(days=1) - timedelta(microseconds=1)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value)
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
            return moment, moment
    except (ValueError, OverflowError, OSError):
        pass
    raise invalid(f"{where}: expected a date (YYYY-MM-DD), an ISO 8601 date-time or a Unix timestamp")


def _time_condition(key: str, value: Any, where: str) -> Predicate:
    if value == "*":
        return _always
    if isinstance(value, dict):
        _check_operators(value, where, ("in", "gte", "lte", "gt", "lt", "ne"))
        tests = [_time_test(operator, operand, f"{where}.{operator}") for operator, operand in value.items()]
    elif isinstance(value, list):
        tests = [_time_test("in", value, where)]
    else:
        tests = [_time_test("eq", value, where)]
    return lambda memory: all(test(getattr(memory, key)) for test in tests)


def _time_test(operator: str, operand: Any, where: str) -> Callable[[datetime], bool]:
    if operator == "in":
        spans = [parse_moment(item, f"{where}[{i}]") for i, item in enumerate(operand)]
        return lambda moment: any(first <= moment <= last for first, last in spans)
    first, last = parse_moment(operand, where)
    tests: dict[str, Callable[[datetime], bool]] = {
        "eq": lambda moment: first <= moment <= last,
        "ne": lambda moment: not first <= moment <= last,
        "gte": lambda moment: moment >= first,
        "gt": lambda moment: moment > last,
        "lte": lambda moment: moment <= last,
        "lt": lambda moment: moment < first,
    }
    return tests[operator]
