"""Mutants declared equivalent: changes no test can tell apart from the contract, each with its reason.

``conformance/mutants/equivalent.toml`` is reviewed like a target's known deviations: every entry
names mutants (ids, or patterns with ``*`` and ``?``) and says why the contract cannot tell them
apart (a parameter the reference server has no way to act on, say), with its evidence. Declared
mutants are not run; they are listed apart in every report, never dropped. An entry (or one of its
patterns) that matches no mutant of the catalogue is an error, so the file cannot go stale quietly.
"""

from __future__ import annotations

import difflib
import fnmatch
import tomllib
from pathlib import Path

from conformance.catalogue.mutants import catalogue

EQUIVALENT = Path(__file__).with_name("equivalent.toml")


class EquivalentError(ValueError):
    """The file of equivalent mutants cannot be used; the message is one sentence naming the entry."""


def load(path: Path = EQUIVALENT) -> dict[str, str]:
    """Mutant id -> the reason it is declared equivalent."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise EquivalentError(f"{path.name} is not valid TOML: {exc}") from None
    ids = list(catalogue())
    declared: dict[str, str] = {}
    for number, entry in enumerate(data.get("equivalent", []), start=1):
        reason = entry.get("reason") if isinstance(entry, dict) else None
        patterns = entry.get("mutants") if isinstance(entry, dict) else None
        if not isinstance(reason, str) or not reason.strip():
            raise EquivalentError(f"{path.name} entry {number} gives no reason")
        if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
            raise EquivalentError(f"{path.name} entry {number} names no mutants (a list of ids or patterns)")
        for pattern in patterns:
            matched = [mutant for mutant in ids if fnmatch.fnmatchcase(mutant, pattern)]
            if not matched:
                close = difflib.get_close_matches(pattern, ids, n=3, cutoff=0.5)
                hint = f" (closest: {', '.join(close)})" if close else ""
                raise EquivalentError(f"{path.name} entry {number}: {pattern!r} matches no mutant of the catalogue{hint}")
            for mutant in matched:
                declared.setdefault(mutant, reason.strip())
    return declared
