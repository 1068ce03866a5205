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
import re
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
    index.write_text(without_analytics(index.read_text(encoding="utf-8")), encoding="utf-8")
    return index


# Allure 3's report template loads Google's tag manager and reports each opening of the report to it
# (allure3 issue 476 asks for a switch; 3.18.0 has none). A conformance report may hold a live target's
# data and must contact nobody when opened: the loader and its inline configuration go.
_ANALYTICS = (
    re.compile(r'\s*<script[^>]*\bsrc="https?://www\.googletagmanager\.com/[^"]*"[^>]*>\s*</script>'),
    re.compile(r"\s*<script>\s*window\.dataLayer\s*=.*?</script>", re.DOTALL),
)


def without_analytics(html: str) -> str:
    """``html`` without the report template's analytics (its loader and its inline configuration)."""
    for pattern in _ANALYTICS:
        html = pattern.sub("", html, count=1)
    return html


def external_resources(html: str) -> list[str]:
    """The URLs on other hosts that a browser opening ``html`` would load (scripts, styles, images, frames)."""
    return re.findall(r'<(?:script|img|iframe|link|source|audio|video)\b[^>]*\b(?:src|href)="((?:https?:)?//[^"]+)"', html)
