"""The HTML report, built by Allure 3's own command-line tool (the npm package ``allure``).

The tool is installed on first use into ``<cache>/tools/allure-<version>/`` with npm (see
:mod:`conformance.tools`), and works offline afterwards. The report is one self-contained
``index.html`` (Allure's "awesome" report in single-file mode) that opens from disk; the history
file beside it carries every earlier report's results, so Allure's history and trend views fill
up run after run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from conformance.tools import NodeTool, ToolError

ALLURE_VERSION = "3.18.0"  # the npm package `allure` (Allure Report 3), pinned
HISTORY_FILE = "history.jsonl"


class ReportError(Exception):
    """The HTML report cannot be built; the message is one sentence saying what to do."""


ALLURE = NodeTool("allure", "allure", ALLURE_VERSION, "allure", "the HTML report")


def allure_cli(*, quiet: bool = False) -> Path:
    """The pinned Allure command-line tool, installed with npm on first use."""
    try:
        return ALLURE.path(quiet=quiet)
    except ToolError as exc:
        raise ReportError(str(exc)) from None


def generate(folders: Sequence[Path], output: Path, *, name: str = "mem0-conformance", quiet: bool = False) -> Path:
    """Build ``output/index.html`` from the Allure results ``folders``; history kept in ``output/../history.jsonl``."""
    missing = [str(folder) for folder in folders if not folder.is_dir()]
    if missing:
        raise ReportError(f"no results folder at {missing[0]}: run `mem0-conformance run` first")
    exe = allure_cli(quiet=quiet)
    output = output.resolve()
    history = output.parent / HISTORY_FILE
    from conformance.reporting.results import CATEGORIES

    config = {
        "name": name,
        # Allure 3 takes categories from its configuration (categories.json is Allure 2's place).
        "categories": [{key: value for key, value in category.items() if key != "description"} for category in CATEGORIES],
        "output": str(output),
        "historyPath": str(history),
        "plugins": {"awesome": {"options": {"singleFile": True, "reportName": name,
                                            "groupBy": ["epic", "feature", "story"]}}},
    }
    with tempfile.TemporaryDirectory(prefix="allure-config-") as scratch:
        config_path = Path(scratch) / "allurerc.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        shutil.rmtree(output, ignore_errors=True)
        result = subprocess.run([str(exe), "generate", "--config", str(config_path), "--output", str(output),
                                 *[str(Path(folder).resolve()) for folder in folders]],
                                cwd=scratch, capture_output=True, text=True,
                                env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"})
    index = output / "index.html"
    if result.returncode != 0 or not index.is_file():
        reason = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
        raise ReportError(f"Allure could not build the report ({reason})")
    return index
