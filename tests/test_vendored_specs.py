"""The vendored documents are the published text, unchanged, with a provenance record."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from conformance.specs import APIS, api_spec

DOCUMENTS = [(api, doc) for api in APIS for doc in api_spec(api).documents]
IDS = [f"{api}/{doc.path.name}" for api, doc in DOCUMENTS]


@pytest.mark.parametrize(("api", "document"), DOCUMENTS, ids=IDS)
def test_sha256_matches_the_provenance_record(api, document):
    """Each vendored file hashes to the sha256 its SOURCE.toml records."""
    assert document.actual_sha256 == document.sha256


@pytest.mark.parametrize(("api", "document"), DOCUMENTS, ids=IDS)
def test_provenance_names_an_origin_and_a_seed(api, document):
    """Each provenance record names where the text was published and which seed it came from."""
    assert document.origin.startswith("https://")
    assert re.fullmatch(r"\d{3}_[0-9a-f]{16}\.txt", document.seed)


@pytest.mark.parametrize(("api", "document"), DOCUMENTS, ids=IDS)
def test_seed_hash_matches(seeds: Path, api, document):
    """The seed file named in the provenance record is the one whose hash is recorded."""
    seed = seeds / document.seed
    assert hashlib.sha256(seed.read_bytes()).hexdigest() == document.seed_sha256


def _yaml_fence(text: str) -> str:
    match = re.search(r"^````yaml[^\n]*\n(.*?)^````", text, re.S | re.M)
    assert match, "the seed page has no ````yaml fence"
    return match.group(1)


@pytest.mark.parametrize(("api", "document"), [d for d in DOCUMENTS if d[1].path.suffix == ".yaml"],
                         ids=[i for i, d in zip(IDS, DOCUMENTS) if d[1].path.suffix == ".yaml"])
def test_yaml_documents_are_the_text_inside_the_seed_page(seeds: Path, api, document):
    """A vendored YAML document is exactly the OpenAPI text inside its seed page's fence."""
    page = (seeds / document.seed).read_text(encoding="utf-8")
    assert document.path.read_text(encoding="utf-8") == _yaml_fence(page)


def test_mem0_json_is_seed_004_from_its_first_brace_line(seeds: Path):
    """openapi.json is seed 004's text from its first line that is exactly '{' to the end."""
    document = api_spec("mem0").documents[0]
    lines = (seeds / document.seed).read_text(encoding="utf-8").split("\n")
    text = "\n".join(lines[lines.index("{"):])
    assert document.path.read_text(encoding="utf-8") == text
    assert json.loads(document.path.read_text(encoding="utf-8")) == json.loads(text)


def test_mem0_pristine_document_has_the_48_seed_operations():
    """The pristine Mem0 document has the 48 operations of seed 004 (exports merged in, not added)."""
    from conformance.specs import operations

    assert len(operations(api_spec("mem0").pristine())) == 48
