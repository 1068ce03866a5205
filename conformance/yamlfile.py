"""YAML as the project reads it: the overlays, the newer documents ``specs drift`` compares, the npm SDK scenarios."""

from __future__ import annotations

from typing import Any

import yaml

# libyaml's parser where PyYAML was built with it (its wheels are), the pure-Python one otherwise: the same
# documents, about ten times faster (every process of a run reads the overlays).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(stream: Any) -> Any:
    """``yaml.safe_load`` of a string or a file, with libyaml's parser where available."""
    return yaml.load(stream, Loader=_YAML_LOADER)  # noqa: S506 (a safe loader)
