"""The planted-fault catalog is complete, covers every family, and every fault has its own test."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import conformance.server
from conformance.server.faults import FAMILIES, catalog

TESTS = Path(__file__).parent
FAULTS = catalog()


def _constant_names(fault_name: str) -> set[str]:
    """The module constants, anywhere in the server package, that hold this fault's name."""
    names = set()
    for module_info in pkgutil.walk_packages(conformance.server.__path__, "conformance.server."):
        module = importlib.import_module(module_info.name)
        names |= {attr for attr, value in vars(module).items() if attr.isupper() and value == fault_name}
    return names


def test_the_catalog_has_at_least_20_faults_in_every_family():
    """At least 20 faults, and each invariant family has at least one."""
    assert len(FAULTS) >= 20
    assert {fault.family for fault in FAULTS.values()} == set(FAMILIES)


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_every_fault_has_a_unit_test(name):
    """Each fault is switched on by a test under tests/server/, by its name or its constant."""
    sources = "\n".join(p.read_text(encoding="utf-8") for p in TESTS.glob("test_*.py") if p.name != Path(__file__).name)
    spellings = {re.escape(name)} | {rf"\b{re.escape(c)}\b" for c in _constant_names(name)}
    assert any(re.search(pattern, sources) for pattern in spellings), f"no test switches on {name}"


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_every_fault_has_a_one_line_description(name):
    """Each fault says in one line what the bug is."""
    description = FAULTS[name].description
    assert description.endswith(".") and "\n" not in description and len(description) > 20
