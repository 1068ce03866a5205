"""Settings of one reference server instance."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from conformance.apis import KLAVIS, MEM0

DEFAULT_MEM0_KEY = MEM0.reference_key
DEFAULT_KLAVIS_KEY = KLAVIS.reference_key


@dataclass(frozen=True)
class ServerSettings:
    """What a reference server accepts and how it behaves.

    ``processing_delay`` is how long (seconds) a background add or a background Klavis
    initialize stays PENDING before its memories exist: 0 settles on the next request.
    """

    mem0_key: str = DEFAULT_MEM0_KEY
    klavis_key: str = DEFAULT_KLAVIS_KEY
    faults: frozenset[str] = field(default_factory=frozenset)
    mutant: str | None = None  # the id of a planted mutant (conformance.catalogue.mutants), or None
    processing_delay: float = 0.0
    max_body_bytes: int = 1024 * 1024  # larger request bodies get 413 before they are read on
    state: str | None = None  # a SQLite file the state is shared through (serve --workers, --state); None: memory
    # Fixed UUIDs: the documents type organization and project ids as UUIDs.
    org_id: str = "0f0e0d0c-0b0a-4908-8706-050403020100"
    project_id: str = "1f1e1d1c-1b1a-4918-9716-151413121110"
    user_email: str = "reference@mem0-conformance.invalid"

    @classmethod
    def from_env(cls, **overrides: object) -> ServerSettings:
        """Keys from ``MEM0_API_KEY`` / ``KLAVIS_API_KEY`` when set; explicit overrides win."""
        values: dict[str, object] = {}
        if os.environ.get("MEM0_API_KEY"):
            values["mem0_key"] = os.environ["MEM0_API_KEY"]
        if os.environ.get("KLAVIS_API_KEY"):
            values["klavis_key"] = os.environ["KLAVIS_API_KEY"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def to_json(self) -> str:
        """For worker processes (``serve --workers``), which make their app from :func:`from_json`."""
        import json
        from dataclasses import asdict

        return json.dumps({**asdict(self), "faults": sorted(self.faults)})

    @classmethod
    def from_json(cls, text: str) -> ServerSettings:
        import json

        values = json.loads(text)
        return cls(**{**values, "faults": frozenset(values["faults"])})
