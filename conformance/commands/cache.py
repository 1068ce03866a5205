"""``cache``: what the project keeps in its cache, and clearing it."""

from __future__ import annotations

import argparse
from pathlib import Path

from conformance import exits


def _size(path: Path) -> int:
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    return sum(item.lstat().st_size for item in path.rglob("*") if item.is_symlink() or item.is_file())


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def cache(args: argparse.Namespace) -> int:
    import shutil

    from conformance.tools import cache_dir

    folder = cache_dir()
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    sizes = {entry: _size(entry) for entry in entries}
    total = sum(sizes.values())
    if args.clear:
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        print(f"mem0-conformance: removed {len(entries)} entries ({_human(total)}) from {folder}")
        return exits.OK
    print(f"{folder}  {_human(total)}")
    for entry, size in sizes.items():
        print(f"  {_human(size):>10}  {entry.name}")
    return exits.OK
