"""The ≈ of Klavis sandbox round trips: initialize(x) then dump gives x, up to normalisation.

A memory list (an initialize body's ``memory_list`` or a dump's ``data.memory_list``) is
normalised into :class:`Normalised`, a pair of canonical records (see ROUNDTRIP.md):

- Server-assigned fields are dropped: ``id``, ``created_at``, ``updated_at`` of each item (and
  the dump's ``dumped_at``, which :func:`memory_list` never reads).
- Klavis defaults are applied: an absent or ``null`` field takes the ``default`` that the
  effective document's ``Mem0Memory`` schema declares (``auto_infer`` true,
  ``background_processing`` true, ``read_only`` false, ``response_format`` "v1.1"), else null.
- ``auto_infer=false`` (messages stored directly): an initialize item stands for one memory
  per message (every message whose role is not ``system`` and whose content is a non-empty
  string), each with that message's content as ``content_text``; a dump item is one memory.
  These *verbatim* records compare exactly, as a multiset.
- ``auto_infer=true`` (inferred): an item may become 0..N memories whose text the server
  chooses, so ``content_text`` and ``message_list`` are dropped; these *inferred* records keep
  entity ids, metadata and the add options, and compare as a set.
- Order is dropped: records are sorted canonical JSON.

``dump ≈ initialized`` (:func:`assert_equivalent`) holds when the verbatim records are equal
as multisets and every inferred record of the dump is one of the initialized ones.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.apis import ENTITY_KEYS
from conformance.suite.sources import DUMP, KLAVIS, ROUNDTRIP, roundtrip_source
from conformance.verdicts import Severity, fact, require

SERVER_ASSIGNED = ("id", "created_at", "updated_at", "dumped_at")
# Mem0Memory fields a record keeps besides content (everything not server-assigned or input text).
KEPT = (*ENTITY_KEYS, "metadata", "include_preferences", "exclude_preferences", "category_definitions",
        "processing_instructions", "response_format", "auto_infer", "background_processing", "read_only",
        "timestamp")
_MEM0_MEMORY = "Mem0Memory"


@functools.cache
def klavis_defaults() -> dict[str, Any]:
    """The ``default`` of each Mem0Memory property in the effective Klavis document."""
    from conformance.specs import effective

    properties = effective("klavis")["components"]["schemas"][_MEM0_MEMORY]["properties"]
    return {name: schema["default"] for name, schema in properties.items() if "default" in schema}


def canonical(value: Any) -> str:
    """One spelling per JSON value: sorted keys, no insignificant spaces, text as is."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _setting(item: Mapping[str, Any], key: str) -> Any:
    value = item.get(key)
    return klavis_defaults().get(key) if value is None else value


def _fields(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _setting(item, key) for key in KEPT}


def stored_messages(messages: Iterable[Any] | None) -> list[dict[str, Any]]:
    """The messages ``auto_infer=false`` stores, one memory each: not ``system``, non-empty text."""
    return [message for message in messages or []
            if isinstance(message, Mapping) and message.get("role") != "system"
            and isinstance(message.get("content"), str) and message["content"] != ""]


@dataclass(frozen=True)
class Normalised:
    """A memory list up to ≈: verbatim records (with multiplicity) and inferred records (a set)."""

    verbatim: tuple[str, ...]
    inferred: frozenset[str]

    @property
    def empty(self) -> bool:
        return not self.verbatim and not self.inferred


def _normalised(items: Iterable[Mapping[str, Any]] | None,
                contents: Callable[[Mapping[str, Any]], list[Any]]) -> Normalised:
    """Split items by ``auto_infer``: a verbatim record per content ``contents(item)`` gives, an
    inferred record per item."""
    verbatim, inferred = [], []
    for item in items or []:
        fields = _fields(item)
        if fields["auto_infer"]:
            inferred.append(fields)
        else:
            verbatim.extend({**fields, "content_text": content} for content in contents(item))
    return Normalised(tuple(sorted(map(canonical, verbatim))), frozenset(map(canonical, inferred)))


def normalise_initialize(items: Iterable[Mapping[str, Any]] | None) -> Normalised:
    """What an initialize body's ``memory_list`` should dump as, normalised (one memory per stored message)."""
    return _normalised(items, lambda item: [m["content"] for m in stored_messages(item.get("message_list"))])


def normalise_dump(items: Iterable[Mapping[str, Any]] | None) -> Normalised:
    """A dump's ``memory_list``, normalised (one dump item is one stored memory)."""
    return _normalised(items, lambda item: [item.get("content_text")])


def memory_list(dump: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``data.memory_list`` of a dump answer (``dumped_at`` and the envelope are dropped)."""
    data = dump.get("data") if isinstance(dump, Mapping) else None
    items = data.get("memory_list") if isinstance(data, Mapping) else None
    require(isinstance(items, list), f"{DUMP} answers no data.memory_list list", received=dump,
            documented="{sandbox_id, server_name, dumped_at, data: {memory_list: [Mem0Memory]}}",
            source=fact(KLAVIS, DUMP))
    return items


def _background(record: str) -> bool:
    return bool(json.loads(record)["background_processing"])


def differences(actual: Normalised, expected: Normalised, *, settled: bool = True) -> list[str]:
    """Why ``actual`` (a dump) is not ≈ ``expected`` (what was initialized); empty when it is.

    With ``settled=False`` background items may still be missing: the verbatim records must lie
    between the expected non-background ones and all expected ones.
    """
    have, want = Counter(actual.verbatim), Counter(expected.verbatim)
    required = want if settled else Counter({r: n for r, n in want.items() if not _background(r)})
    problems = [f"missing {record} (x{n})" for record, n in (required - have).items()]
    problems += [f"unexpected {record} (x{n})" for record, n in (have - want).items()]
    problems += [f"unexpected inferred {record}" for record in sorted(actual.inferred - expected.inferred)]
    return problems


def assert_equivalent(actual: Normalised, expected: Normalised, *, settled: bool = True,
                      what: str = "GET /sandbox/mem0/{sandbox_id}/dump") -> None:
    """Require ``actual ≈ expected`` (a critical ContractViolation: data lost or changed), naming
    each record that differs: the unexpected ones as received, the missing ones as documented."""
    problems = [problem[:400] for problem in differences(actual, expected, settled=settled)]
    missing = [problem for problem in problems if problem.startswith("missing")]
    unexpected = [problem for problem in problems if not problem.startswith("missing")]
    rule = ROUNDTRIP + ("" if settled else ", background items may still be pending")
    require(not problems, f"{what} is not ≈ the initialized data ({len(missing)} records missing, "
            f"{len(unexpected)} unexpected)",
            received={"unexpected": unexpected[:8], "verbatim": list(actual.verbatim)[:6],
                      "inferred": sorted(actual.inferred)[:4]},
            documented={"missing": missing[:8], "≈": rule, "verbatim": list(expected.verbatim)[:6],
                        "inferred": sorted(expected.inferred)[:4]},
            source=roundtrip_source(), severity=Severity.CRITICAL)
