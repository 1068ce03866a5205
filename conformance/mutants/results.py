"""What mutation runs found: the results file, scores, merging shards and engines, and the reports.

``mutants.json`` holds, per engine (``suite``, and ``schemathesis`` for the yardstick), the outcome
of every mutant it ran and how each run was made (machine, versions, wall time, selection), and the
mutants declared equivalent with their reasons. Shards and engines merge by id (``mutants report``).

The score of a set of mutants is (killed + timed out) / (every mutant run), Stryker's detected over
valid: declared equivalents are listed apart and count in no score (run with ``--include-equivalent``,
one that is detected is reported: its declaration is wrong); a survivor, a mutant no test
exercised and a mutant that made the suite crash (``error``) all count against it.
"""

from __future__ import annotations

import html
import json
import os
import platform
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance.catalogue.mutants import FAMILIES, Mutant, catalogue
from conformance.mutants.runner import ERRORED, KILLED, SURVIVED, TIMED_OUT

FORMAT = 1
DETECTED = (KILLED, TIMED_OUT)
ENGINE_TITLES = {"suite": "mem0-conformance", "schemathesis": "plain schemathesis"}
JSON, MARKDOWN, PAGE = "mutants.json", "mutants.md", "mutants.html"


class ResultsError(ValueError):
    """A results file cannot be read or merged; one sentence."""


def machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("mem0-conformance", "schemathesis", "hypothesis", "pytest", "starlette", "uvicorn"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions}


def document(engine: str, outcomes: Iterable[Any], run: dict[str, Any], equivalent: dict[str, str]) -> dict[str, Any]:
    """The results of one run."""
    run = {"finished": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": machine(), **run}
    return {"format": FORMAT, "catalogue": len(catalogue()), "equivalent": dict(sorted(equivalent.items())),
            "engines": {engine: {"outcomes": {o.id: o.to_wire() for o in outcomes}, "runs": [run]}}}


def read(path: Path) -> dict[str, Any]:
    file = path if path.suffix == ".json" else path / JSON
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{file} does not exist: `mem0-conformance mutants run --reports {path}` writes it") from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise ResultsError(f"{file} is not a mutants.json of `mem0-conformance mutants run`") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("engines"), dict):
        raise ResultsError(f"{file} is not a mutants.json of `mem0-conformance mutants run`")
    return data


def merge(documents: list[dict[str, Any]], *, rerun: bool = False) -> dict[str, Any]:
    """One document of several runs' (shards, engines): outcomes by id, runs listed. Runs of one engine must
    agree on a mutant they share, unless ``rerun``: the documents are then in time order and a later run's
    outcome replaces an earlier one's (the survivors run again after the suite changed; both runs are listed)."""
    from conformance.mutants.equivalent import load

    # the catalogue and the declarations of today: a run's outcomes are read against what is declared now
    merged: dict[str, Any] = {"format": FORMAT, "catalogue": len(catalogue()), "equivalent": load(), "engines": {}}
    for data in documents:
        for engine, found in data["engines"].items():
            into = merged["engines"].setdefault(engine, {"outcomes": {}, "runs": []})
            for mutant, outcome in found.get("outcomes", {}).items():
                if not rerun and mutant in into["outcomes"] and into["outcomes"][mutant]["status"] != outcome["status"]:
                    raise ResultsError(f"two runs of the {engine} engine disagree on {mutant}: "
                                       f"{into['outcomes'][mutant]['status']} and {outcome['status']}")
                into["outcomes"][mutant] = outcome
            into["runs"] += found.get("runs", [])
    return merged


def write(data: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / JSON, folder / MARKDOWN, folder / PAGE]
    paths[0].write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    paths[1].write_text(render_markdown(data), encoding="utf-8")
    paths[2].write_text(render_html(data), encoding="utf-8")
    return paths


# --- scores ----------------------------------------------------------------------------------------

def score(statuses: Iterable[str]) -> tuple[int, int, float | None]:
    """(detected, run, detected / run) of some outcomes' statuses."""
    statuses = list(statuses)
    detected = sum(1 for status in statuses if status in DETECTED)
    return detected, len(statuses), (detected / len(statuses)) if statuses else None


def _known(data: dict[str, Any], engine: str) -> list[tuple[Mutant, dict[str, Any]]]:
    """The scored outcomes of ``engine``: mutants of the catalogue not declared equivalent."""
    everything = catalogue()
    return [(everything[mutant], outcome) for mutant, outcome in data["engines"].get(engine, {}).get("outcomes", {}).items()
            if mutant in everything and mutant not in data.get("equivalent", {})]


def equivalents_detected(data: dict[str, Any], engine: str = "suite") -> list[str]:
    """Mutants declared equivalent that a run (``--include-equivalent``) detected: their declaration is wrong."""
    outcomes = data["engines"].get(engine, {}).get("outcomes", {})
    return sorted(m for m in data.get("equivalent", {}) if outcomes.get(m, {}).get("status") in DETECTED)


def scores_by(data: dict[str, Any], engine: str, key) -> dict[str, tuple[int, int, float | None]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for mutant, outcome in _known(data, engine):
        groups[key(mutant)].append(outcome["status"])
    return {name: score(statuses) for name, statuses in sorted(groups.items())}


def overall(data: dict[str, Any], engine: str) -> tuple[int, int, float | None]:
    return score(outcome["status"] for _, outcome in _known(data, engine))


def _ratio(found: tuple[int, int, float | None] | None) -> str:
    if found is None or found[2] is None:
        return "-"
    return f"{found[2]:.3f} ({found[0]}/{found[1]})"


def summary_rows(data: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Rows of the score table: overall, per API, per family, per operator; one column per engine."""
    engines = [engine for engine in ENGINE_TITLES if engine in data["engines"]]
    rows: list[tuple[str, list[str]]] = [("all mutants run", [_ratio(overall(data, e)) for e in engines])]
    for title, key in (("API", lambda m: m.api), ("family", lambda m: m.family), ("operator", lambda m: m.operator)):
        tables = [scores_by(data, engine, key) for engine in engines]
        names = sorted(set().union(*tables)) if tables else []
        if title == "family":
            names = [name for name in FAMILIES if name in names]
        rows += [(f"{title} {name}", [_ratio(table.get(name)) for table in tables]) for name in names]
    return rows


def counts(data: dict[str, Any], engine: str) -> Counter[str]:
    return Counter(outcome["status"] for _, outcome in _known(data, engine))


def survivors(data: dict[str, Any], engine: str = "suite") -> list[tuple[Mutant, dict[str, Any]]]:
    """Mutants of ``engine`` that were not detected: errors first, then survivors, by id."""
    found = [(m, o) for m, o in _known(data, engine) if o["status"] not in DETECTED]
    return sorted(found, key=lambda pair: (pair[1]["status"] != ERRORED, pair[0].id))


# --- rendering ------------------------------------------------------------------------------------

def render_text(data: dict[str, Any]) -> str:
    lines = []
    for engine in data["engines"]:
        found = counts(data, engine)
        lines.append(f"{ENGINE_TITLES.get(engine, engine)}: score {_ratio(overall(data, engine))}; "
                     + ", ".join(f"{found[s]} {s}" for s in (KILLED, TIMED_OUT, SURVIVED, ERRORED) if found[s]))
    if data["equivalent"]:
        lines.append(f"{len(data['equivalent'])} mutants declared equivalent (in no score): "
                     "conformance/mutants/equivalent.toml")
        wrong = equivalents_detected(data)
        if wrong:
            lines.append(f"declared equivalent, yet detected (remove the declaration): {', '.join(wrong[:10])}")
    left = survivors(data) if "suite" in data["engines"] else []
    if left:
        lines.append(f"not detected by the suite ({len(left)}):")
        lines += [f"  {o['status']:<8} {m.id}  ({o['detail']})" for m, o in left[:30]]
        if len(left) > 30:
            lines.append(f"  ... and {len(left) - 30} more (mutants.md)")
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)]


def _brief(value: Any) -> str:
    """A selection as a person reads it: a long list of patterns by its length and first entries."""
    if isinstance(value, list) and len(value) > 3:
        return f"{len(value)} patterns ({', '.join(map(str, value[:2]))}, ...)"
    return str(value)


def _run_lines(data: dict[str, Any]) -> list[str]:
    lines = []
    for engine, found in data["engines"].items():
        for run in found.get("runs", []):
            chosen = ", ".join(f"{k} {_brief(v)}" for k, v in run.get("selection", {}).items() if v not in (None, [], ""))
            wall = run.get("wall seconds")
            lines.append(f"- {ENGINE_TITLES.get(engine, engine)}: {run.get('mutants', '?')} mutants"
                         + (f" in {wall / 60:.1f} min" if isinstance(wall, int | float) else "")
                         + (f" ({chosen})" if chosen else "") + f", finished {run.get('finished', '?')}")
    return lines


def render_markdown(data: dict[str, Any]) -> str:
    engines = [engine for engine in ENGINE_TITLES if engine in data["engines"]]
    lines = ["# Mutation report", "",
             f"{data.get('catalogue', '?')} mutants in the catalogue, {len(data['equivalent'])} declared equivalent. "
             "Score = (killed + timed out) / mutants run.", "", *_run_lines(data), "", "## Scores", ""]
    lines += _table(["", *(ENGINE_TITLES[e] for e in engines)], [[name, *cells] for name, cells in summary_rows(data)])
    if "suite" in data["engines"]:
        left = survivors(data)
        lines += ["", f"## Not detected by the suite ({len(left)})", ""]
        if left:
            lines += _table(["mutant", "operation", "site", "status", "what a test would have to check", "seen"],
                            [[m.id, m.label, m.where or "state", o["status"], m.check, o["detail"]] for m, o in left])
        else:
            lines.append("Every mutant run was detected.")
        lines += ["", "## Per operation", ""]
        per = {engine: scores_by(data, engine, lambda m: f"{m.api} {m.label}") for engine in engines}
        names = sorted(per["suite"], key=lambda name: (per["suite"][name][2] or 0, name))
        lines += _table(["operation", *(ENGINE_TITLES[e] for e in engines)],
                        [[name, *(_ratio(per[e].get(name)) for e in engines)] for name in names])
    if data["equivalent"]:
        lines += ["", "## Declared equivalent (in no score)", ""]
        shown = [[mutant, reason, *(data["engines"][e]["outcomes"].get(mutant, {}).get("status", "not run") for e in engines)]
                 for mutant, reason in data["equivalent"].items()]
        lines += _table(["mutant", "reason", *(ENGINE_TITLES[e] for e in engines)], shown)
    return "\n".join(lines) + "\n"


def render_html(data: dict[str, Any]) -> str:
    """One self-contained page (no script, no external resource): the scores, the survivors, every mutant."""
    engines = [engine for engine in ENGINE_TITLES if engine in data["engines"]]
    esc = html.escape

    def table(header: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = ["<!doctype html><html lang=en><head><meta charset=utf-8><title>Mutation report</title><style>",
             "body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
             "th{background:#f3f3f3}.killed{color:#166534}.survived,.error{color:#b91c1c}</style></head><body>",
             "<h1>Mutation report</h1>",
             f"<p>{esc(str(data.get('catalogue', '?')))} mutants in the catalogue, {len(data['equivalent'])} declared "
             "equivalent. Score = (killed + timed out) / mutants run.</p>",
             "<ul>" + "".join(f"<li>{esc(line[2:])}</li>" for line in _run_lines(data)) + "</ul>",
             "<h2>Scores</h2>",
             table(["", *(ENGINE_TITLES[e] for e in engines)], [[name, *cells] for name, cells in summary_rows(data)])]
    if "suite" in data["engines"]:
        left = survivors(data)
        parts += [f"<h2>Not detected by the suite ({len(left)})</h2>",
                  table(["mutant", "operation", "site", "status", "what a test would have to check", "seen"],
                        [[m.id, m.label, m.where or "state", o["status"], m.check, o["detail"]] for m, o in left])]
    everything = catalogue()
    rows = []
    for mutant_id in sorted(set().union(*(data["engines"][e]["outcomes"] for e in engines))):
        mutant = everything.get(mutant_id)
        cells = [data["engines"][e]["outcomes"].get(mutant_id, {}) for e in engines]
        rows.append([mutant_id, mutant.sentence if mutant else "(no longer in the catalogue)",
                     *(f"{c.get('status', '-')}" + (f" by {c['killed_by']}" if c.get("killed_by") else "") for c in cells)])
    parts += ["<h2>Every mutant run</h2>", table(["mutant", "what it does", *(ENGINE_TITLES[e] for e in engines)], rows)]
    if data["equivalent"]:
        parts += ["<h2>Declared equivalent (in no score)</h2>",
                  table(["mutant", "reason", *(ENGINE_TITLES[e] for e in engines)],
                        [[m, r, *(data["engines"][e]["outcomes"].get(m, {}).get("status", "not run") for e in engines)]
                         for m, r in data["equivalent"].items()])]
    parts.append("</body></html>\n")
    return "".join(parts)
