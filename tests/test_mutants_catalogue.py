"""The mutant catalogue, the declared equivalents, the choice of a run's mutants and the results' arithmetic (no network)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.mutants import equivalent
from conformance.catalogue.mutants import (
    FAMILIES,
    UnknownMutant,
    catalogue,
    get,
    matching,
    reached,
    request_sites,
    short_name,
)
from conformance.mutants.command import chosen, shard
from conformance.mutants.coverage import Coverage
from conformance.mutants.results import document, merge, overall, render_html, render_markdown, scores_by, survivors
from conformance.mutants.runner import Outcome
from conformance.server.operations import load_operations
from conformance.specs import APIS, at_pointer, effective

ID = re.compile(r"^[A-Za-z_]\w*:(request\.[\w.\[\]]+|response\.\w+(\.[\w.\[\]]+|\[\][\w.\[\]]*)?|state):[\w+-]+$")


def test_the_catalogue_covers_both_apis_and_every_operation():
    """Every operation of both effective documents has mutants, hundreds in all, in every family."""
    mutants = catalogue().values()
    assert {m.operation for m in mutants} == {operation.operation_id for operation in load_operations()}
    assert {m.api for m in mutants} == set(APIS)
    assert {m.family for m in mutants} == set(FAMILIES)
    assert len(mutants) > 1000


def test_ids_are_stable_readable_and_unique():
    """Each id names the operation, the site and the operator; the issue's own example is one of them."""
    assert all(ID.match(mutant_id) for mutant_id in catalogue()), [m for m in catalogue() if not ID.match(m)][:5]
    assert get("memories_search_v2:request.filters.user_id:ignored").label == "POST /v2/memories/search/"
    assert get("initialize_sandbox:request.memory_list[].read_only:ignored").api == "klavis"
    assert short_name("initialize_sandbox_sandbox_mem0__sandbox_id__initialize_post", "post",
                      "/sandbox/mem0/{sandbox_id}/initialize") == "initialize_sandbox"
    assert short_name("memories_list_v2", "post", "/v2/memories/") == "memories_list_v2"


def test_required_parameters_are_never_ignored():
    """Only optional parameters get an ``ignored`` mutant: a required one missing is the request's own fault."""
    document = effective("mem0")
    required = {site.site for site in request_sites(document, "/v1/batch/", "put") if site.required}
    assert ("body", "memories") in required
    assert "memories_batch_update:request.memories:ignored" not in catalogue()
    assert "memories_batch_update:request.memories[].text:ignored" in catalogue()


def test_a_bound_mutant_points_at_its_keyword():
    """A bound mutant's pointer leads to the schema of the effective document that states the bound."""
    for mutant in (m for m in catalogue().values() if m.keyword):
        assert at_pointer(effective(mutant.api), mutant.pointer)[mutant.keyword] == mutant.limit, mutant.id
    batch = get("memories_batch_update:request.memories:maxItems-off-by-one")
    assert (batch.keyword, batch.limit) == ("maxItems", 1000)


def test_answer_mutants_follow_the_documented_answers():
    """Every documented property of a success answer can be dropped; free text gets no ``other``; ``before``
    only for what the request can change; each operation that refuses gets one ``emptied``."""
    ids = set(catalogue())
    assert {"memories_read:response.200.memory:dropped", "memories_read:response.200.memory:other",
            "memories_update:response.200.memory:before", "memories_list_v2:response.200:lose-last",
            "memories_list_v3:response.200.results:gain-foreign", "memories_read:response.4xx:emptied"} <= ids
    shapes = get("memories_list_v2:response.200[].memory:dropped")  # one mutant for the bare list and the envelope
    assert shapes.alternatives == (("200", "results", "[]", "memory"),)
    assert "memories_list_v2:response.200.results[].memory:dropped" not in ids
    assert "memories_read:response.200.memory:before" not in ids  # a read changes nothing
    assert "memories_update:response.200.created_at:before" not in ids  # an update does not move created_at
    assert "memories_delete:response.200.message:other" not in ids  # free text
    assert "memories_delete:response.200.message:dropped" in ids


def test_an_exchange_reaches_the_sites_it_touches():
    """What one exchange reaches: the parameters sent, the answer's properties and arrays, a change, a refusal."""
    found = reached("memories_list_v3", "POST", "/v3/memories/", [("page_size", "1")], {"filters": {"user_id": "u"}},
                    200, {"count": 1, "results": [{"id": "m", "memory": "tea"}]})
    assert {"memories_list_v3:request.query.page_size", "memories_list_v3:request.filters.user_id",
            "memories_list_v3:response.200.results", "memories_list_v3:response.200.results[].memory"} <= found
    assert all(any(key in found for key in m.reaches) for m in (get("memories_list_v3:request.query.page_size:ignored"),
                                                                get("memories_list_v3:response.200.results:lose-last")))
    assert reached("memories_update", "PUT", "/v1/memories/{memory_id}/", [], {"text": "t"}, 200, {}) >= {
        "memories_update:state", "memories_update:request.text"}
    assert reached("memories_update", "PUT", "/v1/memories/{memory_id}/", [], {"text": "t"}, 404,
                   {"error": "Memory not found!"}) >= {"memories_update:response.4xx"}
    assert "memories_update:state" not in reached("memories_update", "PUT", "/v1/memories/{memory_id}/", [], {}, 400,
                                                  {"error": "x"})


def test_unknown_ids_are_refused_with_a_hint():
    with pytest.raises(UnknownMutant, match="mutants list"):
        get("memories_read:response.200.nothing:dropped")


def test_patterns_choose_mutants():
    """``--only`` takes shell patterns or a part of an id."""
    assert {m.id for m in matching(["memories_update:state:*"])} == {
        "memories_update:state:no-op", "memories_update:state:partial", "memories_update:state:extra"}
    assert all("top_k" in m.id for m in matching(["top_k"]))


def test_a_sample_is_reproducible_and_leaves_the_equivalents_out():
    """The same seed picks the same mutants; declared equivalents are never chosen unless asked for."""
    declared = {"memories_update:state:partial": "one record"}
    first = chosen(sample=40, seed=7, equivalent=declared)
    assert len(first) == 40 and [m.id for m in first] == [m.id for m in chosen(sample=40, seed=7, equivalent=declared)]
    assert [m.id for m in first] != [m.id for m in chosen(sample=40, seed=8, equivalent=declared)]
    everything = chosen(only=["memories_update:state:*"], equivalent=declared)
    assert "memories_update:state:partial" not in {m.id for m in everything}
    assert "memories_update:state:partial" in {m.id for m in chosen(only=["memories_update:state:*"], equivalent=declared,
                                                                    include_equivalent=True)}


def test_shards_partition_the_mutants_by_cost():
    """Shards are disjoint, cover every mutant, and share the cost (the tests' time) evenly."""
    mutants = chosen(only=["memories_update:*", "memories_read:*"])
    updates = frozenset(key for m in mutants if m.operation == "memories_update" for key in m.reaches)
    coverage = Coverage({"a": (10.0, updates), "b": (1.0, frozenset(key for m in mutants for key in m.reaches))})
    parts = [shard(mutants, coverage, k, 3) for k in (1, 2, 3)]
    assert sorted(m.id for part in parts for m in part) == sorted(m.id for m in mutants)
    costs = [sum(11.0 if m.operation == "memories_update" else 1.0 for m in part) for part in parts]
    assert max(costs) - min(costs) <= 11.0


def test_the_equivalent_file_of_the_project_is_valid():
    """Every declared equivalent names mutants of the catalogue and gives its reason."""
    declared = equivalent.load()
    assert all(mutant in catalogue() and reason for mutant, reason in declared.items())


@pytest.mark.parametrize(("text", "error"), [
    ('[[equivalent]]\nmutants = ["memories_update:state:partal"]\nreason = "x"\n',
     "matches no mutant of the catalogue (closest: memories_update:state:partial"),
    ('[[equivalent]]\nmutants = ["memories_update:state:partial"]\n', "gives no reason"),
    ('[[equivalent]]\nreason = "x"\n', "names no mutants"),
    ("[[equivalent]\n", "is not valid TOML"),
])
def test_a_stale_or_incomplete_equivalent_entry_is_an_error(tmp_path: Path, text, error):
    """An entry that matches no mutant (naming the closest ids), or lacks its reason, is refused."""
    path = tmp_path / "equivalent.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(equivalent.EquivalentError, match=re.escape(error)):
        equivalent.load(path)


def _results(engine: str, statuses: dict[str, str]) -> dict:
    outcomes = [Outcome(mutant, status, killed_by="t" if status == "killed" else None) for mutant, status in statuses.items()]
    return document(engine, outcomes, {"mutants": len(outcomes)}, {"memories_update:state:partial": "one record"})


def test_scores_count_timeouts_as_detected_and_errors_against():
    """Score = (killed + timed out) / mutants run, per API and operator; survivors and errors are listed, errors first."""
    data = _results("suite", {"memories_read:response.200.memory:dropped": "killed",
                              "memories_read:response.200.memory:other": "survived",
                              "memories_update:state:no-op": "timed out",
                              "initialize_sandbox:state:no-op": "error"})
    assert overall(data, "suite") == (2, 4, 0.5)
    assert scores_by(data, "suite", lambda m: m.api) == {"klavis": (0, 1, 0.0), "mem0": (2, 3, 2 / 3)}
    assert [m.id for m, _ in survivors(data)] == ["initialize_sandbox:state:no-op", "memories_read:response.200.memory:other"]


def test_shards_and_engines_merge_and_render():
    """Shard results merge by id, read against today's declarations; the two engines stand side by side in the
    Markdown and the page."""
    merged = merge([_results("suite", {"memories_update:state:no-op": "killed"}),
                    _results("suite", {"memories_read:response.200.memory:other": "survived"}),
                    _results("schemathesis", {"memories_update:state:no-op": "survived"})])
    assert overall(merged, "suite") == (1, 2, 0.5) and overall(merged, "schemathesis") == (0, 1, 0.0)
    markdown = render_markdown(merged)
    assert "| all mutants run | 0.500 (1/2) | 0.000 (0/1) |" in markdown
    assert "memories_read:response.200.memory:other" in markdown
    assert "a queued add answers PENDING" in markdown  # the declarations of today, whatever the runs recorded
    page = render_html(merged)
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")


def test_a_property_the_documents_fix_to_one_value_has_no_other_mutant():
    """A ``const`` beside a ``$ref`` (OpenAPI 3.1) makes a property single-valued: no record can show another value."""
    ids = set(catalogue())
    assert "acquire_mem0_sandbox:response.201.status:other" not in ids  # const occupied beside $ref SandboxStatus
    assert "acquire_mem0_sandbox:response.201.status:dropped" in ids  # its presence still counts
    assert "release_mem0_sandbox:response.200.status:other" in ids  # idle or occupied: two values


def test_a_rerun_replaces_an_earlier_outcome_and_shards_must_agree():
    """Shards of one run that disagree on a mutant are refused; with ``rerun`` the later run's outcome counts."""
    from conformance.mutants.results import ResultsError, merge

    first = {"engines": {"suite": {"outcomes": {"m": {"status": "survived"}}, "runs": [{"commit": "a"}]}}}
    later = {"engines": {"suite": {"outcomes": {"m": {"status": "killed"}}, "runs": [{"commit": "b"}]}}}
    with pytest.raises(ResultsError, match="two runs of the suite engine disagree on m: survived and killed"):
        merge([first, later])
    merged = merge([first, later], rerun=True)["engines"]["suite"]
    assert merged["outcomes"] == {"m": {"status": "killed"}} and merged["runs"] == [{"commit": "a"}, {"commit": "b"}]


def test_a_run_chosen_by_many_patterns_is_listed_by_their_number():
    """The report's list of runs names a long --only selection by its length and first patterns, not all of them."""
    from conformance.mutants.results import _run_lines

    data = {"engines": {"suite": {"runs": [{"mutants": 13, "wall seconds": 66, "finished": "t",
                                            "selection": {"only": [f"m{i}:x:y" for i in range(13)], "shard": "1/2"}}]}}}
    (line,) = _run_lines(data)
    assert "only 13 patterns (m0:x:y, m1:x:y, ...)" in line and "m12" not in line and "shard 1/2" in line
