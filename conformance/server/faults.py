"""Planted faults: named, switchable bugs that prove the suite catches real mistakes.

Each handler module declares the faults it can plant with :func:`declare` next to the code
they change, and asks ``call.fault(NAME)`` where the faulty behaviour branches off. The
catalog is the union of those declarations (complete once the handlers are imported).
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES = (
    "immutability", "batch", "roundtrip", "reset", "release", "history", "deletion", "filters",
    "pagination", "status-codes", "shapes", "auth", "unicode", "consistency",
)


@dataclass(frozen=True)
class Fault:
    name: str
    family: str
    description: str


CATALOG: dict[str, Fault] = {}


def declare(name: str, family: str, description: str) -> str:
    """Register a fault; returns its name, for use as a module constant."""
    if family not in FAMILIES:
        raise ValueError(f"fault {name!r}: unknown family {family!r}")
    if name in CATALOG and CATALOG[name] != Fault(name, family, description):
        raise ValueError(f"fault {name!r} is declared twice")
    CATALOG[name] = Fault(name, family, description)
    return name


class UnknownFault(ValueError):
    pass


def catalog() -> dict[str, Fault]:
    """Every fault, sorted by name (imports the handlers so that all are declared)."""
    import conformance.server.handlers  # noqa: F401

    return dict(sorted(CATALOG.items()))


def validate(names: frozenset[str] | set[str] | list[str]) -> frozenset[str]:
    known = catalog()
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise UnknownFault(f"unknown fault {', '.join(unknown)}; `mem0-conformance faults` lists them")
    return frozenset(names)
