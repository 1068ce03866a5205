"""The Node.js tools the project runs, installed with npm on first use into the project's cache.

- Allure 3 (the npm package ``allure``) builds the HTML report (:mod:`conformance.reporting.html`).
- Optic (``@useoptic/optic``) diffs OpenAPI documents for ``specs drift`` (:mod:`conformance.drift`).
- The TypeScript SDKs (``mem0ai`` and ``klavis`` on npm) the SDK guard drives (:mod:`conformance.sdk.npm`):
  packages with no executable, whose folder is what the guard needs.

A tool lands in ``<cache>/tools/<name>-<version>/`` and works offline afterwards. A tool with a
lock folder (``package.json`` and ``package-lock.json`` kept in the project) is installed with
``npm ci``, so every machine gets the same dependency tree; the others with ``npm install
<package>@<version>``. A library's peer dependencies are not installed (npm's ``legacy-peer-deps``,
also in its lock folder's ``.npmrc``): mem0ai lists every vector store it can talk to as one. An
install goes to a staging folder renamed into place when complete, so an interrupted install is
never taken for a finished one.
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
    executable: str | None  # its name in node_modules/.bin; None: a library, its package folder is what is used
    purpose: str  # what needs it, for messages: "the HTML report"
    lock: Path | None = None  # a folder with package.json and package-lock.json: installed with `npm ci`

    @property
    def folder(self) -> Path:
        return cache_dir() / "tools" / f"{self.name}-{self.version}"

    def _installed(self, folder: Path) -> Path:
        """Where the executable (or the package's ``package.json``) lands under ``folder``."""
        if self.executable is None:
            return folder / "node_modules" / Path(*self.package.split("/")) / "package.json"
        return folder / "node_modules" / ".bin" / self.executable

    def path(self, *, quiet: bool = False) -> Path:
        """The executable (a library: its package folder), installed first when the cache does not have it."""
        exe = self._installed(self.folder)
        if exe.is_file():
            return exe.parent if self.executable is None else exe
            return exe
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        with open(self.folder.parent / f".{self.name}-{self.version}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another process installing the same tool: wait, then use its install
            if exe.is_file():
                return exe.parent if self.executable is None else exe
            installed = self._install(exe, quiet=quiet)
            return installed.parent if self.executable is None else installed

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
            for name in ("package.json", "package-lock.json", ".npmrc"):
                if name != ".npmrc" or (self.lock / name).is_file():
                    shutil.copyfile(self.lock / name, staging / name)
            command = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        else:
            (staging / "package.json").write_text(json.dumps({"name": "mem0-conformance-tools", "private": True}),
                                                  encoding="utf-8")
            peers = ["--legacy-peer-deps"] if self.executable is None else []
            command = [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *peers, f"{self.package}@{self.version}"]
        result = subprocess.run(command, cwd=staging, capture_output=True, text=True)
        if result.returncode != 0 or not self._installed(staging).is_file():
            shutil.rmtree(staging, ignore_errors=True)
            reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise ToolError(f"npm could not install {self.package}@{self.version} ({reason})")
        shutil.rmtree(self.folder, ignore_errors=True)
        staging.rename(self.folder)
        return exe
