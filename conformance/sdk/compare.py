"""``mem0-conformance sdk compare OLD NEW``: the SDK guard with two versions of an SDK, side by side.

Each version of a Python SDK (``mem0ai==1.0.11``) gets its own virtual environment under the project's
cache (``<cache>/sdk/mem0ai-1.0.11/``: this checkout, editable, that SDK version, the other SDK's
default), made once and reused. A version of an npm SDK (``npm:mem0ai@3.3.1``) is installed with npm
into the cache (:mod:`conformance.sdk.npm`) and driven from this environment, its scenarios alone. Both run ``mem0-conformance run --sdk-only`` against the same target (one
reference server this command starts, unless URLs are given), and the two runs are compared:
scenarios that pass with one and not the other, operations and body fields one sends and the
other does not, drift new in one. The newer version regresses when a scenario that passes with
the older one does not pass with it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.reporting import RESULTS_DIR
from conformance.reporting.results import read_sdk_traffic, surface_coverage, surface_file, version
from conformance.reporting.summary import load
from conformance.tools import cache_dir

SDKS = {"mem0ai": "klavis>=2.20,<3", "klavis": "mem0ai>=2.2.1,<3"}  # each SDK's companion, at its default
COMPANIONS = {"mem0ai": "klavis", "klavis": "mem0ai"}
_SPEC = re.compile(r"^(mem0ai|klavis)==([0-9][0-9A-Za-z.+-]*)$")
_NPM_SPEC = re.compile(r"^npm:(mem0ai|klavis)@([0-9][0-9A-Za-z.+-]*)$")


class CompareError(Exception):
    """A one-sentence reason ``sdk compare`` cannot go on."""


@dataclass(frozen=True)
class Pin:
    sdk: str  # "mem0ai", or "npm:mem0ai" for the npm SDK
    version: str

    @classmethod
    def parse(cls, text: str) -> Pin:
        match = _SPEC.match(text.strip())
        if match is not None:
            return cls(match.group(1), match.group(2))
        match = _NPM_SPEC.match(text.strip())
        if match is not None:
            return cls(f"npm:{match.group(1)}", match.group(2))
        raise CompareError(f"{text!r} is not an SDK version: write mem0ai==X.Y.Z or klavis==X.Y.Z (PyPI), "
                           "npm:mem0ai@X.Y.Z or npm:klavis@X.Y.Z (npm)")

    @property
    def npm(self) -> bool:
        return self.sdk.startswith("npm:")

    @property
    def folder(self) -> str:
        """Its reports' folder name: ``mem0ai-1.0.11``, ``npm-mem0ai-3.3.1``."""
        return f"{self.sdk.replace(':', '-')}-{self.version}"

    def __str__(self) -> str:
        return f"{self.sdk}@{self.version}" if self.npm else f"{self.sdk}=={self.version}"


def checkout() -> Path:
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise CompareError("sdk compare installs this checkout into each environment, and this installation is not one")
    return root


def environment(pin: Pin, *, log=print) -> Path:
    """The virtual environment of ``pin`` (made and installed on first use); its ``bin`` folder. When this
    environment already has that version (and the other SDK), it is used as it is: nothing to install.
    An npm SDK runs from this environment; its package is installed with npm now (once)."""
    here = Path(sys.executable).parent
    if pin.npm:
        from conformance.sdk.npm import NpmError, NpmSdk

        try:
            NpmSdk(pin.sdk.removeprefix("npm:"), pin.version).folder()
        except NpmError as exc:
            raise CompareError(f"{pin} could not be installed: {exc}") from None
        return here
    if (version(pin.sdk) == pin.version and version(COMPANIONS[pin.sdk]) != "not installed"
            and (here / "mem0-conformance").exists()):
        return here
    home = cache_dir() / "sdk" / f"{pin.sdk}-{pin.version}"
    ready = home / ".ready"
    scripts = home / ("Scripts" if os.name == "nt" else "bin")
    stamp = f"{pin}\n{checkout()}\n"  # the environment runs this checkout (editable): another one's is rebuilt
    if ready.is_file() and ready.read_text(encoding="utf-8") == stamp:
        return scripts
    log(f"mem0-conformance: installing {pin} into {home} (once)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True, capture_output=True)
    install = subprocess.run([str(scripts / "python"), "-m", "pip", "install", "--quiet", "--editable", str(checkout()), str(pin),
                              SDKS[pin.sdk]], capture_output=True, text=True)
    if install.returncode != 0:
        last = (install.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise CompareError(f"{pin} could not be installed: {last}")
    ready.write_text(stamp, encoding="utf-8")
    return scripts


def run_guard(scripts: Path, reports: Path, urls: dict[str, str], keys: dict[str, str], pin: Pin | None = None, *,
              own_server: bool = False) -> int:
    """``run --sdk-only`` with that environment's command against ``urls``; its exit code. The Python SDKs'
    scenarios, or with an npm ``pin`` that SDK's alone. Against the reference server this command started
    (``own_server``), the scenarios that change the project's settings run too (``--allow-destructive``)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_API", "KLAVIS_API", "MEM0_CONFORMANCE_"))}
    environ.update(keys, MEM0_TELEMETRY="False", MEM0_DIR=tempfile.mkdtemp(prefix="mem0-conformance-sdk-"))
    npm = f"{pin.sdk.removeprefix('npm:')}@{pin.version}" if pin is not None and pin.npm else "none"
    only = ["-k", pin.sdk] if pin is not None and pin.npm else []
    args = [str(scripts / "mem0-conformance"), "run", "--sdk-only", "--npm-sdk", npm, "--reports", str(reports),
            *(["--allow-destructive"] if own_server else []),
            *(arg for api, url in urls.items() for arg in (f"--{api}-url", url)), "--", "-q", "-p", "no:cacheprovider",
            *only]
    return subprocess.run(args, env=environ, capture_output=True, text=True).returncode


def traffic(reports: Path) -> list[dict[str, Any]]:
    return read_sdk_traffic([reports / RESULTS_DIR])


@dataclass
class Comparison:
    old: Pin
    new: Pin
    only_old: list[str]  # scenarios passing with the old version only: regressions of the new one
    only_new: list[str]  # scenarios passing with the new version only
    sent_new: dict[str, list[str]]  # operations the new version calls that the old does not (with their fields)
    sent_old: dict[str, list[str]]
    fields: dict[str, tuple[list[str], list[str]]]  # operation -> (fields only the old sends, only the new)
    drift_new: list[str]
    removed: dict[str, list[str]]  # SDK calls (or their parameters) the new version no longer has: breaking for callers
    added: dict[str, list[str]]
    unexercised: list[str] = field(default_factory=list)  # public calls new in NEW that no scenario exercised
    moved: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)  # SDK call -> (operations it sent with old, with new)

    @property
    def regressed(self) -> bool:
        return bool(self.only_old)


def compare(old: Pin, new: Pin, old_reports: Path, new_reports: Path) -> Comparison:
    passed = {pin: {ident.partition("[")[2].rstrip("]").removeprefix(f"{pin.sdk}: ")
                    for ident, test in load(reports)["tests"].items()
                    if test["verdict"] == "passed" and f"[{pin.sdk}: " in ident}
              for pin, reports in ((old, old_reports), (new, new_reports))}
    sent = {pin: _operations(traffic(reports), pin.sdk) for pin, reports in ((old, old_reports), (new, new_reports))}
    drift = {pin: {d for line in traffic(reports) if line["sdk"] == pin.sdk for d in line["drift"]}
             for pin, reports in ((old, old_reports), (new, new_reports))}
    both = sent[old].keys() & sent[new].keys()
    surface_change = _surface_change(old.sdk, old_reports, new_reports)
    return Comparison(
        old, new, sorted(passed[old] - passed[new]), sorted(passed[new] - passed[old]),
        {op: sent[new][op] for op in sorted(sent[new].keys() - sent[old].keys())},
        {op: sent[old][op] for op in sorted(sent[old].keys() - sent[new].keys())},
        {op: (sorted(set(sent[old][op]) - set(sent[new][op])), sorted(set(sent[new][op]) - set(sent[old][op])))
         for op in sorted(both) if set(sent[old][op]) != set(sent[new][op])},
        sorted(drift[new] - drift[old]), *surface_change,
        _unexercised(new, new_reports, [call for call, params in surface_change[1].items() if not params]),
        _moves(_sent_by_call(traffic(old_reports), old.sdk), _sent_by_call(traffic(new_reports), new.sdk)))


def _unexercised(pin: Pin, reports: Path, calls: list[str]) -> list[str]:
    """Of ``calls`` (new in ``pin``), those no scenario of its run exercised and none is kept from on purpose."""
    lines = [line for line in traffic(reports) if line["sdk"] == pin.sdk]
    coverage = surface_coverage(_surface_data(reports, pin.sdk), lines)
    return sorted(call for call in calls if call in coverage["gaps"])


def _sent_by_call(lines: list[dict[str, Any]], sdk: str) -> dict[str, set[str]]:
    """Each SDK call (``MemoryClient.add``) -> the operations its exchanges went to, over every scenario."""
    from urllib.parse import urlsplit

    from conformance.specs import find_operation

    found: dict[str, set[str]] = {}
    for line in lines:
        if line["sdk"] != sdk:
            continue
        for call in line.get("calls", ()):
            for exchange in call.get("exchanges", ()):
                method, _, rest = exchange.partition(" ")
                path = urlsplit(rest.split(" -> ")[0]).path
                operation = find_operation(method, path)
                found.setdefault(call["method"], set()).add(operation.label if operation else f"{method} {path}")
    return found


def _moves(old: dict[str, set[str]], new: dict[str, set[str]]) -> dict[str, tuple[list[str], list[str]]]:
    """The calls both versions made that went to other operations: where a path moved (v1 to v3, say)."""
    return {call: (sorted(old[call]), sorted(new[call])) for call in sorted(old.keys() & new.keys())
            if old[call] != new[call]}


def _surface_data(reports: Path, sdk: str) -> dict[str, Any]:
    """The guard's surface file of ``sdk`` in ``reports`` (its calls, version and the calls not driven), or {}."""
    path = reports / RESULTS_DIR / surface_file(sdk)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _surface(reports: Path, sdk: str) -> dict[str, list[str]]:
    return _surface_data(reports, sdk).get("calls", {})


def _surface_change(sdk: str, old_reports: Path, new_reports: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(calls or parameters only the old version has, those only the new one has); a whole call is ``[]``."""
    old, new = _surface(old_reports, sdk), _surface(new_reports, sdk)
    removed: dict[str, list[str]] = {call: [] for call in old.keys() - new.keys()}
    added: dict[str, list[str]] = {call: [] for call in new.keys() - old.keys()}
    for call in old.keys() & new.keys():
        if gone := [p for p in old[call] if p not in new[call] and not p.startswith("*")]:
            # a keyword the new version takes only through **kwargs may still work: said, not hidden
            removed[call] = [", ".join(gone) + " (only through **kwargs now)"] if "**kwargs" in new[call] else gone
        if extra := [p for p in new[call] if p not in old[call]]:
            added[call] = extra
    return dict(sorted(removed.items())), dict(sorted(added.items()))


def _operations(lines: list[dict[str, Any]], sdk: str) -> dict[str, list[str]]:
    found: dict[str, set[str]] = {}
    for line in lines:
        if line["sdk"] == sdk:
            for operation, fields in line["operations"].items():
                found.setdefault(operation, set()).update(fields)
    return {operation: sorted(fields) for operation, fields in found.items()}


def render(result: Comparison) -> str:
    old, new = result.old, result.new
    lines = [f"{old} -> {new}", ""]
    section = [("scenarios passing with " + str(old) + " only (regressions)", result.only_old),
               ("scenarios passing with " + str(new) + " only", result.only_new)]
    for title, items in section:
        lines.append(f"{title}: {len(items) or 'none'}")
        lines += [f"  {item}" for item in items]
    lines.append(f"operations {new} calls that {old} does not: {len(result.sent_new) or 'none'}")
    lines += [f"  {op}" + (f"  (fields: {', '.join(fields)})" if fields else "") for op, fields in result.sent_new.items()]
    lines.append(f"operations {old} calls that {new} does not: {len(result.sent_old) or 'none'}")
    lines += [f"  {op}" + (f"  (fields: {', '.join(fields)})" if fields else "") for op, fields in result.sent_old.items()]
    moved = result.moved
    lines.append(f"calls that moved to other operations: {len(moved) or 'none'}")
    lines += [f"  {call}: {', '.join(before)} -> {', '.join(after)}" for call, (before, after) in moved.items()]
    lines.append(f"body fields that changed on operations both call: {len(result.fields) or 'none'}")
    for op, (gone, added) in result.fields.items():
        lines.append(f"  {op}: " + "; ".join(part for part in (f"only {old}: {', '.join(gone)}" if gone else "",
                                                                   f"only {new}: {', '.join(added)}" if added else "")
                                              if part))
    for title, change in ((f"calls and arguments {old} has and {new} does not (code using them breaks)", result.removed),
                          (f"calls and arguments new in {new}", result.added)):
        lines.append(f"{title}: {len(change) or 'none'}")
        lines += [f"  {call}" + (f"({', '.join(params)})" if params else "  (the whole call)") for call, params in change.items()]
    lines.append(f"calls new in {new} that no scenario exercises: {len(result.unexercised) or 'none'}")
    lines += [f"  {call}" for call in result.unexercised]
    lines.append(f"drift new with {new}: {len(result.drift_new) or 'none'}")
    lines += [f"  {item.removeprefix('drift: ')}" for item in result.drift_new]
    lines += ["", f"{new} {'REGRESSES against' if result.regressed else 'does not regress against'} {old}"]
    return "\n".join(lines)
