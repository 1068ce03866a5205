"""The Node.js tools the project runs, installed with npm on first use into the project's cache.

- Allure 3 (the npm package ``allure``) builds the HTML report (:mod:`conformance.reporting.html`).
- Optic (``@useoptic/optic``) diffs OpenAPI documents for ``specs drift`` (:mod:`conformance.drift`).

A tool lands in ``<cache>/tools/<name>-<version>/`` and works offline afterwards. A tool with a
lock folder (``package.json`` and ``package-lock.json`` kept in the project) is installed with
``npm ci``, so every machine gets the same dependency tree; the others with ``npm install
<package>@<version>``. An install goes to a staging folder renamed into place when complete, so
an interrupted install is never taken for a finished one.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

CACHE_VARIABLE = "MEM0_CONFORMANCE_CACHE"


class ToolError(Exception):
    """A tool cannot be installed; the message is one sentence saying what to do."""


def cache_dir(environ: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    """The project's cache: ``$MEM0_CONFORMANCE_CACHE``, else ``$XDG_CACHE_HOME/mem0-conformance``, else ``~/.cache/...``."""
    if environ.get(CACHE_VARIABLE):
        return Path(environ[CACHE_VARIABLE])
    base = Path(environ["XDG_CACHE_HOME"]) if environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "mem0-conformance"


@dataclass(frozen=True)
class NodeTool:
    """One pinned npm package and the executable of it the project runs."""

    name: str  # the folder name in the cache, e.g. "allure"
    package: str  # the npm package, e.g. "@useoptic/optic"
    version: str
    executable: str  # its name in node_modules/.bin
    purpose: str  # what needs it, for messages: "the HTML report"
    lock: Path | None = None  # a folder with package.json and package-lock.json: installed with `npm ci`

    @property
    def folder(self) -> Path:
        return cache_dir() / "tools" / f"{self.name}-{self.version}"

    def path(self, *, quiet: bool = False) -> Path:
        """The executable, installed first when the cache does not have it."""
        exe = self.folder / "node_modules" / ".bin" / self.executable
        if exe.is_file():
            return exe
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        with open(self.folder.parent / f".{self.name}-{self.version}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another process installing the same tool: wait, then use its install
            if exe.is_file():
                return exe
            return self._install(exe, quiet=quiet)

    def _install(self, exe: Path, *, quiet: bool) -> Path:
        npm, node = shutil.which("npm"), shutil.which("node")
        if npm is None or node is None:
            raise ToolError(f"{self.purpose} needs Node.js 20 or newer with npm on the PATH (https://nodejs.org); "
                            "install them and run the command again")
        if not quiet:
            print(f"mem0-conformance: installing {self.package} {self.version} into {self.folder} "
                  "(once; offline afterwards)", file=sys.stderr, flush=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.folder.parent))
        if self.lock is not None:
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(self.lock / name, staging / name)
            command = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        else:
            (staging / "package.json").write_text(json.dumps({"name": "mem0-conformance-tools", "private": True}),
                                                  encoding="utf-8")
            command = [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", f"{self.package}@{self.version}"]
        result = subprocess.run(command, cwd=staging, capture_output=True, text=True)
        if result.returncode != 0 or not (staging / "node_modules" / ".bin" / self.executable).is_file():
            shutil.rmtree(staging, ignore_errors=True)
            reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise ToolError(f"npm could not install {self.package}@{self.version} ({reason})")
        shutil.rmtree(self.folder, ignore_errors=True)
        staging.rename(self.folder)
        return exe
