"""`immutable` fading upstream: a target that leaves the field out of its answers still passes.

Newer published Mem0 documents no longer show ``immutable`` in the memory objects of answers;
the vendored ones do, and immutability stays a contract of the suite (FACTS.md "Upstream drift").
A stand-in live target is a reference server on 127.0.0.1 behind :class:`tests.chaos.ChaosProxy`,
which rewrites every JSON answer: without any ``immutable`` key (as newer documents show memories),
or with ``immutable: false``. Each run selects the suite's immutability tests only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.profiles import PROFILE_VARIABLE, SHRINK_VARIABLE
from conformance.server import ServerSettings, ServerThread, create_app
from conformance.suite.sources import IMMUTABLE_FADING
from tests.chaos import ChaosProxy
from tests.test_report_runs import KEYS, Run, run, verdicts

PUT = "test_immutability.py::test_put_on_an_immutable_memory_is_refused_and_changes_nothing"
BATCH = "test_immutability.py::test_batch_update_of_an_immutable_memory_is_refused_and_changes_nothing"
RE_ADD = "test_immutability.py::test_an_immutable_memory_is_deleted_and_re_added"
BATCH_ITEM = "test_batch.py::test_a_batch_with_a_bad_last_item_changes_nothing[update-immutable]"
MAPPED = "test_cross_api.py::test_initialized_memories_are_mem0_memories_with_the_mapped_fields"
READ_ONLY = "test_cross_api.py::test_read_only_memory_refuses_a_mem0_update"
SELECTION = [PUT, BATCH, RE_ADD, BATCH_ITEM, MAPPED, READ_ONLY]
FAULTS = frozenset({"immutable-update-allowed", "immutable-batch-update-allowed", "read-only-not-immutable"})
# Derandomized, and without the shrink phase: a failure is all these runs need to see.
ENV = {**KEYS, PROFILE_VARIABLE: "ci", SHRINK_VARIABLE: "0"}


def json_rewrite(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[bytes], bytes]:
    """A rewrite of JSON bodies applying ``change`` to every object in them (the body as is when nothing changes)."""
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return change({key: walk(item) for key, item in value.items()})
        return [walk(item) for item in value] if isinstance(value, list) else value

    def rewrite(body: bytes) -> bytes:
        value = json.loads(body)
        changed = walk(value)
        return body if changed == value else json.dumps(changed).encode()

    return rewrite


without_immutable = json_rewrite(lambda item: {key: value for key, value in item.items() if key != "immutable"})
immutable_false = json_rewrite(lambda item: {**item, "immutable": False} if "immutable" in item else item)


def faded_run(folder: Path, rewrite: Callable[[bytes], bytes], *selection: str,
              faults: frozenset[str] = frozenset()) -> tuple[Run, ChaosProxy]:
    """The suite's ``selection`` against a reference server (with ``faults``) whose answers ``rewrite`` changes."""
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"], faults=faults)
    with ServerThread(create_app(settings)) as server, ChaosProxy(server.url, trouble=None, rewrite=rewrite) as proxy:
        path = folder / "target.toml"
        path.write_text(f'name = "faded"\nshared_data = true\n[mem0]\nurl = "{proxy.url}"\n'
                        f'[klavis]\nurl = "{proxy.url}"\n', encoding="utf-8")
        outcome = run(folder, "--target", str(path), "--", "-p", "no:cacheprovider", *selection, env=ENV)
    return outcome, proxy


def test_a_target_that_leaves_immutable_out_of_its_answers_passes_while_the_behaviour_holds(tmp_path):
    """Without any `immutable` in the answers, every immutability test passes: updates are refused and
    the memories unchanged, which is the contract."""
    outcome, proxy = faded_run(tmp_path, without_immutable, *SELECTION)
    assert outcome.code == 0, outcome.stdout[-4000:] + outcome.stderr
    assert verdicts(outcome) == dict.fromkeys(SELECTION, "passed")
    assert proxy.counts["rewritten"] > 0  # answers did carry `immutable`, and lost it on the way


def test_a_target_that_lets_immutable_memories_change_fails_and_says_that_the_documents_drifted(tmp_path):
    """With updates of immutable memories let through (and no `immutable` in the answers), the
    immutability tests fail, each failure noting that newer published documents no longer show the field."""
    outcome, _ = faded_run(tmp_path, without_immutable, *SELECTION, faults=FAULTS)
    assert outcome.code == 1, outcome.stdout[-4000:] + outcome.stderr
    found = verdicts(outcome)
    caught = {PUT, BATCH, BATCH_ITEM, READ_ONLY}
    assert {test: found[test] for test in caught} == dict.fromkeys(caught, "failed")
    assert found[RE_ADD] == found[MAPPED] == "passed"
    assert outcome.stdout.count(IMMUTABLE_FADING) >= len(caught), outcome.stdout[-4000:]
    assert "instead of a 4xx refusal" in outcome.stdout


def test_a_target_that_shows_immutable_false_for_an_immutable_memory_fails(tmp_path):
    """A memory added immutable that shows `immutable: false` fails, though updates are refused."""
    outcome, proxy = faded_run(tmp_path, immutable_false, PUT, RE_ADD)
    assert outcome.code == 1, outcome.stdout[-4000:] + outcome.stderr
    assert verdicts(outcome) == {PUT: "failed", RE_ADD: "failed"}
    assert "shows immutable False" in outcome.stdout
    assert "shows the re-added immutable memory changed" in outcome.stdout
    assert proxy.counts["rewritten"] > 0
