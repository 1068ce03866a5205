"""Which tests exercise which operation: the coverage index of the mutation run.

Built from the traffic of a green run against the embedded reference server (``mutants index``):
for each test (its setup and teardown included), how long it took and what it made the server do,
as the mutants' reach keys (:attr:`~conformance.catalogue.mutants.Mutant.reaches`): each parameter it
sent to an operation, each property the operation's answers held, a change the operation made, a
refusal with a body. It is kept in the repository (``conformance/mutants/coverage.json``), like the
shard durations, and refreshed by the same command when the suite changes. A mutant runs against
only the tests that reached its site, quickest first (PIT's coverage-targeted test selection): the
tests and the server are deterministic, so a test that never reached a mutant's site behaves the same
with the mutant planted, and a mutant no test reaches is a blind spot found without running anything.

Two engines are indexed: ``suite`` (the conformance suite) and ``schemathesis`` (plain schemathesis,
the yardstick: :mod:`conformance.mutants.plain`).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance import plugin
from conformance.catalogue.mutants import catalogue, reached

INDEX = Path(__file__).with_name("coverage.json")
ENGINES = ("suite", "schemathesis")


class CoverageError(ValueError):
    """The coverage index cannot be read or is missing an engine."""


@dataclass
class Coverage:
    """One engine's index: test id -> (seconds, the reach keys it touched: :attr:`Mutant.reaches`)."""

    tests: dict[str, tuple[float, frozenset[str]]]

    def covering(self, reaches: tuple[str, ...]) -> list[str]:
        """The tests that touched any of ``reaches`` (a mutant's sites), quickest first (ties in test order)."""
        found = [(seconds, position, test) for position, (test, (seconds, reached)) in enumerate(self.tests.items())
                 if any(reach in reached for reach in reaches)]
        return [test for _, _, test in sorted(found)]

    def seconds(self, test: str) -> float:
        return self.tests[test][0] if test in self.tests else 0.0

    def operations(self) -> set[str]:
        """The operations (their names in mutant ids) some test exercised."""
        return {key.partition(":")[0] for _, reached in self.tests.values() for key in reached}


def load(engine: str, path: Path = INDEX) -> Coverage:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tests = data["engines"][engine]
    except FileNotFoundError:
        raise CoverageError(f"the coverage index {path} does not exist: `mem0-conformance mutants index` writes it") from None
    except (ValueError, KeyError, TypeError):
        raise CoverageError(f"the coverage index {path} holds no {engine} tests: refresh it with "
                          "`mem0-conformance mutants index`") from None
    return Coverage({test: (float(entry["seconds"]), frozenset(entry["reaches"])) for test, entry in tests.items()})


def write(engine: str, coverage: Coverage, path: Path = INDEX) -> None:
    """Replace one engine's index in the file, keeping the other's."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    engines = data.get("engines") if isinstance(data.get("engines"), dict) else {}
    engines[engine] = {test: {"seconds": round(seconds, 3), "reaches": sorted(reached)}
                       for test, (seconds, reached) in coverage.tests.items()}
    data = {"about": "What each test made the reference server do in a green run (mem0-conformance mutants index): "
                     "the parameters sent, the answer properties received, the changes and refusals, per operation; "
                     "a mutant runs against the tests that reached its site.",
            "engines": {name: engines[name] for name in sorted(engines)}}
    path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")


@functools.cache
def known_reaches() -> frozenset[str]:
    """Every mutant's reach key: all the index keeps of a test's traffic."""
    return frozenset(reach for mutant in catalogue().values() for reach in mutant.reaches)


@dataclass(eq=False)  # a pytest plugin object: hashable by identity
class Recorder:
    """A pytest plugin that notes the operations the embedded server answers during each test."""

    tests: dict[str, tuple[float, set[str]]] = field(default_factory=dict)
    current: str | None = None
    _watched: set[int] = field(default_factory=set)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[Any]:
        self.current = plugin.identity(item.nodeid)
        self.tests.setdefault(self.current, (0.0, set()))
        started = time.perf_counter()
        try:
            return (yield)
        finally:
            seconds, operations = self.tests[self.current]
            self.tests[self.current] = (seconds + time.perf_counter() - started, operations)

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
        result = yield
        server = request.config.stash.get(plugin.EMBEDDED, None)
        if server is not None and id(server) not in self._watched:
            self._watched.add(id(server))
            server.observers.append(self.note)
        return result

    def note(self, operation: Any, query: list[tuple[str, str]], raw: bytes, reply: Any) -> None:
        if self.current is None:
            return
        try:
            body = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
        found = reached(operation.operation_id, operation.method, operation.path, query, body, reply.status, reply.body)
        self.tests[self.current][1].update(found & known_reaches())

    def coverage(self) -> Coverage:
        return Coverage({test: (seconds, frozenset(operations)) for test, (seconds, operations) in self.tests.items()})
