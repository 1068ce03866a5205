"""The Allure results folder: what the run writes beside allure-pytest's test results, and reading it back.

allure-pytest writes one ``<uuid>-result.json`` per test (and containers and attachments).
Beside them the run writes ``environment.properties`` (target URLs without credentials, spec
digests, versions, run id, profile), ``categories.json`` (how Allure groups non-passing tests)
and, when CI variables say where it ran, ``executor.json``; each process that ran schemathesis
writes ``successes-<worker>.json``: per operation, how many 2xx answers passed every check.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# Allure matches a category when the status is listed and the regex matches the whole message
# ([\s\S] so that messages over several lines match in Java and JavaScript alike). First match wins.
CATEGORIES = [
    {"name": "Explained by a newer published document", "matchedStatuses": ["failed"],
     "messageRegex": r"[\s\S]*explained by the newer published document[\s\S]*",
     "description": "Failures that a difference between the effective document and a newer published one explains "
                    "(run --drift): the target may implement the newer document."},
    {"name": "Server errors", "matchedStatuses": ["failed"],
     "messageRegex": r"[\s\S]*([Ss]erver error|blocker)[\s\S]*",
     "description": "The target answered 5xx where the contract promises an answer."},
    {"name": "Contract violations", "matchedStatuses": ["failed"],
     "description": "The target's answer contradicts the effective documents or FACTS.md."},
    {"name": "Broken target or network", "matchedStatuses": ["broken"],
     "messageRegex": r"[\s\S]*TargetBroken[\s\S]*",
     "description": "Connection refused or reset, timeout, truncated body, 429/502/503/504 after retries: not judged."},
    {"name": "Known deviations", "matchedStatuses": ["skipped"],
     "messageRegex": r"XFAIL[\s\S]*",
     "description": "Expectations the target file lists as known deviations (strict xfails)."},
    {"name": "Errors of the suite", "matchedStatuses": ["broken"],
     "description": "A bug of the conformance suite itself, not of the target: please report it."},
]
PACKAGES = ("mem0-conformance", "schemathesis", "hypothesis", "pytest", "allure-pytest", "mem0ai", "klavis")
_RESULT_SUFFIXES = ("-result.json", "-container.json", "-attachment")
SUCCESSES_GLOB = "successes-*.json"
SDK_TRAFFIC_GLOB = "sdk-traffic-*.jsonl"
SDK_SURFACE_GLOB = "sdk-surface-*.json"  # an installed SDK's public calls, written once per run by test_sdk.py


def public_url(url: str) -> str:
    """``url`` without user information (``https://user:secret@host`` -> ``https://host``)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(settings: Any) -> dict[str, str]:
    """The properties of a run that a reader needs to know what was tested with what."""
    from conformance.specs import spec_digests

    target = settings.target
    props = {"run.id": settings.run_id, "target.name": target.name,
             "hypothesis.profile": settings.profile or "explicit --hypothesis-profile"}
    for api in (target.mem0, target.klavis):
        if api is not None:
            props[f"target.{api.api}.url"] = "embedded reference server" if target.embedded else public_url(api.url)
    if settings.faults:
        props["target.planted_faults"] = ", ".join(sorted(settings.faults))
    for finding in settings.findings:
        props[f"capability.{finding.name}"] = finding.line().partition(": ")[2]
    props.update({f"version.{package}": version(package) for package in PACKAGES})
    props["version.python"] = platform.python_version()
    props.update({f"spec.sha256.{name}": digest for name, digest in spec_digests().items()})
    return props


def executor(environ: Mapping[str, str] = os.environ) -> dict[str, Any] | None:
    """Where the run ran, when CI variables say so (GitHub Actions, GitLab CI), for Allure's executor widget."""
    if environ.get("GITHUB_ACTIONS") == "true" and environ.get("GITHUB_RUN_ID"):
        base = f"{environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{environ.get('GITHUB_REPOSITORY', '')}"
        return {"name": "GitHub Actions", "type": "github",
                "buildName": f"{environ.get('GITHUB_WORKFLOW', 'workflow')} #{environ.get('GITHUB_RUN_NUMBER', '')}",
                "buildOrder": int(environ.get("GITHUB_RUN_NUMBER", "0") or 0),
                "buildUrl": f"{base}/actions/runs/{environ['GITHUB_RUN_ID']}", "url": base}
    if environ.get("GITLAB_CI") == "true" and environ.get("CI_JOB_URL"):
        return {"name": "GitLab CI", "type": "gitlab", "buildName": environ.get("CI_JOB_NAME", ""),
                "buildOrder": int(environ.get("CI_PIPELINE_IID", "0") or 0), "buildUrl": environ["CI_JOB_URL"],
                "url": environ.get("CI_PROJECT_URL", "")}
    return None


def drop_bookkeeping_teardowns(results: Path) -> int:
    """Leave out of the fixture containers the teardown steps that are pytest's bookkeeping, not a fixture's
    code: allure-pytest records each finalizer pytest registers (``<fixture>::<lambda>``, the parameters'
    pseudo-fixtures included) as a step it never gives a status, so the report showed hundreds of steps of
    unknown status on a green run. The fixtures' own teardowns (``<fixture>::<n>``) stay. Returns how many went."""
    dropped = 0
    for path in results.glob("*-container.json"):
        try:
            container = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        afters = container.get("afters") or []
        kept = [step for step in afters if not (str(step.get("name", "")).endswith("::<lambda>") and "status" not in step)]
        if len(kept) != len(afters):
            dropped += len(afters) - len(kept)
            container["afters"] = kept
            path.write_text(json.dumps(container), encoding="utf-8")
    return dropped


def prepare(results: Path, settings: Any) -> None:
    """Empty ``results`` of earlier runs' files and write this run's environment, categories and executor."""
    results.mkdir(parents=True, exist_ok=True)
    for path in results.iterdir():
        if path.is_file() and (path.name.endswith(_RESULT_SUFFIXES) or "-attachment" in path.name
                               or path.match(SUCCESSES_GLOB) or path.match(SDK_TRAFFIC_GLOB) or path.match(SDK_SURFACE_GLOB)
                               or path.name in ("environment.properties", "categories.json", "executor.json")):
            path.unlink()
    write_environment(results, settings)
    (results / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n", encoding="utf-8")
    where = executor()
    if where is not None:
        (results / "executor.json").write_text(json.dumps(where, indent=2) + "\n", encoding="utf-8")


def write_environment(results: Path, settings: Any) -> None:
    lines = [f"{key}={_escape(value)}" for key, value in environment(settings).items()]
    (results / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("=", "\\=").replace(":", "\\:")


def read_environment(results: Path) -> dict[str, str]:
    path = results / "environment.properties"
    if not path.is_file():
        return {}
    props = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            props[key] = value.replace("\\:", ":").replace("\\=", "=").replace("\\n", "\n").replace("\\\\", "\\")
    return props


def write_successes(results: Path, worker: str, successes: Mapping[str, int]) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / f"successes-{worker}.json").write_text(json.dumps(dict(sorted(successes.items())), indent=1) + "\n",
                                                      encoding="utf-8")


def read_successes(folders: Iterable[Path]) -> dict[str, int]:
    """Validated 2xx answers per operation label, summed over every process of every folder."""
    total: dict[str, int] = {}
    for folder in folders:
        for path in sorted(folder.glob(SUCCESSES_GLOB)):
            for operation, count in json.loads(path.read_text(encoding="utf-8")).items():
                total[operation] = total.get(operation, 0) + int(count)
    return total


def read_sdk_traffic(folders: Iterable[Path]) -> list[dict[str, Any]]:
    """The SDK guard's records, one per scenario (``sdk-traffic-<worker>.jsonl``): SDK, version, scenario,
    operations with the body fields sent, drift, and the SDK calls made."""
    return [json.loads(line) for folder in folders for path in sorted(folder.glob(SDK_TRAFFIC_GLOB))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def surface_file(sdk: str) -> str:
    """The file name of an SDK's public surface beside the results: ``sdk-surface-npm-mem0ai.json``."""
    return f"sdk-surface-{sdk.replace(':', '-')}.json"


def surface_coverage(surface: Mapping[str, Any], traffic: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Which of an SDK's public calls (``surface``: the guard's surface file, constructors left out) the scenarios
    of ``traffic`` (one line per scenario, with the calls it made) exercised, which the guard does not drive on
    purpose (the file's ``not_driven``, with the reason), and which are gaps."""
    public = sorted(name for name in surface.get("calls", {}) if "." in name)
    exercised: dict[str, set[str]] = {}
    for line in traffic:
        for call in line.get("calls", ()):
            if call.get("method") in public:
                exercised.setdefault(str(call["method"]), set()).add(str(line.get("scenario", "")))
    reasons = {name: reason for name, reason in (surface.get("not_driven") or {}).items() if name not in exercised}
    return {"calls": len(public), "exercised": {name: sorted(found) for name, found in sorted(exercised.items())},
            "not_driven": reasons, "gaps": [name for name in public if name not in exercised and name not in reasons]}


def read_sdk_surfaces(folders: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """The guarded SDKs' public calls (``sdk-surface-<sdk>.json``): ``{sdk: {"version": ..., "calls": {...}}}``."""
    found: dict[str, dict[str, Any]] = {}
    for folder in folders:
        for path in sorted(folder.glob(SDK_SURFACE_GLOB)):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and isinstance(data.get("calls"), dict):
                found[str(data.get("sdk") or path.stem.removeprefix("sdk-surface-"))] = data
    return found


def read_results(folders: Iterable[Path]) -> list[dict[str, Any]]:
    """Every test result in ``folders``; for a test found more than once, the latest."""
    latest: dict[str, dict[str, Any]] = {}
    for folder in folders:
        for path in sorted(folder.glob("*-result.json")):
            result = json.loads(path.read_text(encoding="utf-8"))
            key = label(result, "testId") or result.get("historyId") or path.name
            if key not in latest or result.get("stop", 0) >= latest[key].get("stop", 0):
                latest[key] = result
    return list(latest.values())


def label(result: Mapping[str, Any], name: str) -> str | None:
    return next((entry["value"] for entry in result.get("labels", ()) if entry.get("name") == name), None)
