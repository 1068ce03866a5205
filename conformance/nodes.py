"""Which pytest items are the suite's, and a test's id as every report writes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SUITE = Path(__file__).resolve().parent / "suite"


def in_suite(item: Any) -> bool:
    """Whether a collected pytest item is a test of the conformance suite (not one of the project's own)."""
    return Path(str(item.path)).is_relative_to(SUITE)


def identity(nodeid: str) -> str:
    """``<file>::<test>[params]`` of a node id, whatever the rootdir."""
    path, sep, rest = nodeid.partition("::")
    return path.rsplit("/", 1)[-1] + sep + rest
