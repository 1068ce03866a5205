"""The README (a guide) and the pages of ``docs/``: every command and CI recipe they show is one the command
accepts, as written; the guide stays short and links every page, and every link leads somewhere."""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from conformance.cli import build_parser
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = {path: path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md"))}
BLOCKS = [block for text in (README, *PAGES.values())
          for block in re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)]
_SHELL_OPERATORS = {">", ">>", "|", "||", "&&", ";", "2>", "2>&1"}


def commands_in(text: str) -> list[list[str]]:
    """Every ``mem0-conformance ...`` command in ``text``, as argv, without comments and shell operators."""
    found = []
    for line in text.splitlines():
        start = line.find("mem0-conformance ")
        if start < 0 or line[:start].strip() not in ("", "run:", "$"):
            continue
        words = shlex.split(line[start:], comments=True)
        cut = next((i for i, word in enumerate(words) if word in _SHELL_OPERATORS), len(words))
        found.append(words[1:cut])
    return found


def parses(argv: list[str]) -> None:
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"`mem0-conformance {shlex.join(argv)}` does not parse (exit {exc.code})")


def test_the_ci_recipe_is_valid_yaml_whose_commands_parse():
    """The GitHub Actions recipe loads as YAML, and every mem0-conformance command in its steps parses."""
    recipe = [body for lang, body in BLOCKS if lang == "yaml"][0]
    workflow = yaml.safe_load(recipe)
    steps = workflow["jobs"]["conformance"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    commands = [argv for text in runs for argv in commands_in(text)]
    assert [argv[0] for argv in commands] == ["run", "report", "diff"]
    assert "--baseline" in commands[0] and any(step.get("uses", "").startswith("actions/upload-artifact") for step in steps)
    assert "${{ secrets.MEM0_API_KEY }}" in recipe
    for argv in commands:
        parses(argv)


def test_every_command_the_readme_and_the_docs_show_parses():
    shown = [argv for lang, body in BLOCKS if lang != "yaml" for argv in commands_in(body)]
    assert len(shown) > 15
    for argv in shown:
        parses(argv)


def test_the_readme_is_a_short_guide_linking_every_page_of_the_docs():
    assert len(README.splitlines()) <= 300
    assert PAGES and all(f"](docs/{path.name})" in README for path in PAGES)


def test_every_link_of_the_readme_and_the_docs_leads_to_a_file():
    for path, text in [(ROOT / "README.md", README), *PAGES.items()]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if not target.startswith(("http://", "https://")):
                assert (path.parent / target).exists(), f"{path.name} links {target}, which does not exist"


def test_the_sharded_ci_recipe_runs_each_shard_then_merges_and_gates():
    """The matrix variant: N jobs of `run --shard K/N`, then one job that merges their results and gates."""
    (recipe,) = [body for lang, body in BLOCKS if lang == "yaml" and "--shard" in body]
    workflow = yaml.safe_load(recipe)
    shards = workflow["jobs"]["conformance"]["strategy"]["matrix"]["shard"]
    assert workflow["jobs"]["report"]["needs"] == "conformance"
    runs = {job: [step["run"] for step in data["steps"] if "run" in step] for job, data in workflow["jobs"].items()}
    for shard in shards:  # the matrix value GitHub puts in
        commands = [argv for text in runs["conformance"] for argv in commands_in(text.replace("${{ matrix.shard }}", str(shard)))]
        assert [argv[:3] for argv in commands] == [["run", "--shard", f"{shard}/{len(shards)}"]]
        for argv in commands:
            parses(argv)
    merged = [argv for text in runs["report"] for argv in commands_in(text)]
    assert [argv[0] for argv in merged] == ["report", "diff"]
    assert merged[0][1:1 + len(shards)] == [f"shards/shard-{shard}" for shard in shards]
    for argv in merged:
        parses(argv)


def test_the_drift_recipe_gates_on_a_baseline():
    """The spec drift workflow: its command parses and compares against an accepted report."""
    (recipe,) = [body for lang, body in BLOCKS if lang == "yaml" and "specs drift" in body]
    workflow = yaml.safe_load(recipe)
    runs = [" ".join(step["run"].split()) for step in workflow["jobs"]["drift"]["steps"] if "run" in step]
    commands = [argv for text in runs for argv in commands_in(text)]
    assert [argv[:2] for argv in commands] == [["specs", "drift"]] and "--baseline" in commands[0]
    for argv in commands:
        parses(argv)


def test_every_deviation_example_names_a_test_of_the_suite():
    """The deviations the README and the bundled target files show as examples name tests that exist."""
    texts = [README, *PAGES.values(), *(path.read_text(encoding="utf-8") for path in (ROOT / "targets").glob("*.toml"))]
    named = {name for text in texts for name in re.findall(r'^#?\s*test = "([^"]+)"', text, flags=re.MULTILINE)}
    assert named
    for name in named:
        module, _, test = name.partition("::")
        source = (ROOT / "conformance" / "suite" / module).read_text(encoding="utf-8")
        assert f"def {test.partition('[')[0]}(" in source, name
