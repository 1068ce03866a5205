"""The settings of one run, resolved once: by ``mem0-conformance run``, by the pytest plugin for a
plain pytest session, and by ``sdk compare``; handed to pytest (and to xdist's workers, on the wire)
as one :class:`RunSettings` that every part reads (``config.stash[plugin.SETTINGS]``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.capabilities import CapabilityFinding, pinned_all
from conformance.cleanup import new_run_id
from conformance.targets import Target, TargetError, embedded, resolve


@dataclass(frozen=True)
class RunSettings:
    """Everything a run is about, resolved once."""

    target: Target  # ``embedded("")`` when the run serves its own reference server
    faults: frozenset[str] = frozenset()
    reports: Path | None = None  # the folder for Allure results, JUnit and the summary
    run_id: str = field(default_factory=new_run_id)
    preflight: bool = False  # check the target at session start (plain pytest; `run` has checked it)
    profile: str | None = None  # the Hypothesis profile loaded
    findings: tuple[CapabilityFinding, ...] = ()  # the target's capabilities, as the preflight found them
    drift: tuple[str, ...] = ()  # `specs drift` JSON files: failures they explain are marked (run --drift)
    mutant: str | None = None  # a mutant planted in the embedded reference server (run --mutant)
    html: bool = False  # the run builds the HTML report itself (run --html)
    npm_sdks: tuple[str, ...] | None = None  # the npm SDKs the SDK guard drives ("mem0ai@3.3.1"); None: the pinned

    def __post_init__(self) -> None:
        if self.target.embedded and not self.findings:
            object.__setattr__(self, "findings", pinned_all(self.target))

    def to_wire(self) -> dict[str, Any]:
        return {"target": self.target.to_wire(), "faults": sorted(self.faults), "run_id": self.run_id,
                "reports": str(self.reports) if self.reports else None, "profile": self.profile,
                "findings": [finding.to_wire() for finding in self.findings], "drift": list(self.drift),
                "mutant": self.mutant, "html": self.html, "npm_sdks": None if self.npm_sdks is None else list(self.npm_sdks)}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> RunSettings:
        return cls(Target.from_wire(data["target"]), frozenset(data["faults"]),
                   Path(data["reports"]) if data["reports"] else None, data["run_id"], profile=data["profile"],
                   findings=tuple(CapabilityFinding(*finding) for finding in data["findings"]), drift=tuple(data.get("drift", ())),
                   mutant=data.get("mutant"), html=data.get("html", False),
                   npm_sdks=None if data.get("npm_sdks") is None else tuple(data["npm_sdks"]))


class SettingsError(ValueError):
    """A run cannot be resolved; the message is one sentence naming the setting."""


def resolve_settings(*, target_file: Path | None = None, mem0_url: str | None = None, klavis_url: str | None = None,
                     allow_destructive: bool = False, faults: Iterable[str] = (), mutant: str | None = None,
                     reports: Path | None = None, npm_sdks: Iterable[str] = (), drift: tuple[str, ...] = (),
                     html: bool = False) -> RunSettings:
    """The one resolution of a run, which the command (``run``), the plugin (plain pytest) and ``sdk compare``
    share: the target (a file, then the environment, then the options; none: the embedded reference server),
    the planted faults or mutant (the embedded server only, by known names), the npm SDKs of the SDK guard,
    the reports folder, a new run id. The target's capabilities are found by the preflight, which updates it."""
    faults = frozenset(faults)
    for option, value in (("--fault", faults), ("--mutant", mutant)):
        if value and (target_file or mem0_url or klavis_url):  # said before any key is looked up
            raise SettingsError(f"{option} applies only to the embedded reference server, not to a target")
    try:
        target = resolve(target_file=target_file, mem0_url=mem0_url, klavis_url=klavis_url,
                         allow_destructive=allow_destructive)
    except TargetError as exc:
        raise SettingsError(str(exc)) from None
    if target is not None and (faults or mutant):
        raise SettingsError(f"{'--fault' if faults else '--mutant'} applies only to the embedded reference server, "
                            "not to a target")
    if faults:
        from conformance.server.faults import UnknownFault, validate

        try:
            validate(faults)
        except UnknownFault as exc:
            raise SettingsError(str(exc)) from None
    from conformance.sdk.npm import NpmError, chosen

    npm_sdks = list(npm_sdks)
    try:
        npm = tuple(f"{sdk.package}@{sdk.version}" for sdk in chosen(npm_sdks)) if npm_sdks else None
    except NpmError as exc:
        raise SettingsError(str(exc)) from None
    return RunSettings(target or embedded(""), faults, Path(reports).resolve() if reports else None,
                       preflight=target is not None, drift=drift, mutant=mutant, html=html, npm_sdks=npm)
