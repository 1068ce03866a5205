"""schemathesis, with every default check, finds no failure in the reference server.

Runs the schemathesis command line (all phases: examples, coverage, fuzzing and stateful over
the overlay links; positive and negative data) against the session's server, with the
effective documents. The budget per operation follows the Hypothesis profile: a small one in
`dev`/`ci`, the full 50+ in `thorough`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import conformance
from conformance.profiles import chosen_profile
from conformance.specs import effective
from tests.server.conftest import SETTINGS

EXAMPLES = {"dev": 10, "ci": 10, "thorough": 60}
CONFIG = Path(conformance.__file__).with_name("schemathesis.toml")
AUTH = {"mem0": f"Authorization: Token {SETTINGS.mem0_key}", "klavis": f"Authorization: Bearer {SETTINGS.klavis_key}"}


def _schemathesis() -> str:
    return shutil.which("st") or str(Path(sys.executable).with_name("st"))


@pytest.mark.slow
@pytest.mark.parametrize("api", ["mem0", "klavis"])
def test_schemathesis_finds_no_failure(api, served, server, tmp_path: Path):
    """All default checks pass for every operation, positive and negative, stateful phase included."""
    document = tmp_path / f"{api}.openapi.json"
    document.write_text(json.dumps(effective(api)), encoding="utf-8")
    examples = EXAMPLES[chosen_profile(os.environ)]
    command = [
        _schemathesis(), "--config-file", str(CONFIG), "run", str(document), "--url", served.url, "--header", AUTH[api],
        "--mode", "all", "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(examples),
        "--seed", "20261121", "--generation-database", "none", "--workers", "1", "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
