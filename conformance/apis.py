"""The facts of the two APIs the project tests, stated once, which every other module reads.

Each :class:`Api` holds its name, its title, its auth scheme, where its key and URL come from, and
the reference server's default key. Beside them: the entity ids Mem0 scopes memories by, the
statuses that say a request was not served (retried, never judged), the marker that stands for a
key wherever one would have been shown, and the capabilities a target may offer beyond the seed
documents (probed by :mod:`conformance.capabilities`, pinned in target files).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Api:
    name: str  # "mem0" | "klavis": the target file's section, the `--<name>-url` option
    title: str
    scheme: str  # the Authorization header's scheme: "Token <key>" or "Bearer <key>"
    key_variable: str  # the environment variable holding the key
    url_variable: str  # the environment variable holding the URL
    reference_key: str  # the key the reference server accepts unless told otherwise

    def authorization(self, key: str) -> str:
        """The Authorization header's value for ``key``."""
        return f"{self.scheme} {key}"


MEM0 = Api("mem0", "Mem0 platform API", "Token", "MEM0_API_KEY", "MEM0_CONFORMANCE_MEM0_URL", "m0-reference-key")
KLAVIS = Api("klavis", "Klavis mem0 sandbox API", "Bearer", "KLAVIS_API_KEY", "MEM0_CONFORMANCE_KLAVIS_URL",
             "kl-reference-key")
APIS = MappingProxyType({api.name: api for api in (MEM0, KLAVIS)})
API_NAMES = tuple(APIS)
BY_SCHEME = MappingProxyType({api.scheme: api for api in APIS.values()})

# Mem0 scopes memories by these ids; an entity type is the id's name without "_id".
ENTITY_KEYS = ("user_id", "agent_id", "app_id", "run_id")
ENTITY_TYPES = MappingProxyType({key.removesuffix("_id"): key for key in ENTITY_KEYS})

# Answers that say the request was not served (rate limited, a gateway or the target unavailable):
# retried by the clients, never judged as the target's answer.
UNSERVED = frozenset({429, 502, 503, 504})

REDACTED = "[redacted]"  # what stands for a key, wherever one would have been shown


@dataclass(frozen=True)
class Capability:
    name: str
    api: str  # whose target file section pins it ("klavis" for the shared store)
    offers: str  # what a test gets, in a few words
    operations: tuple[str, ...]  # the supplemented operations it stands for


CAPABILITIES = (
    Capability("ping", "mem0", "the key's organization and project (SDK construction)", ("GET /v1/ping/",)),
    Capability("v3", "mem0", "v3 add, list and search",
               ("POST /v3/memories/add/", "POST /v3/memories/", "POST /v3/memories/search/")),
    Capability("events", "mem0", "queued adds and their events", ("GET /v1/event/{event_id}/",)),
    Capability("webhooks", "mem0", "project webhooks", ("GET /api/v1/webhooks/projects/{project_id}/",)),
    Capability("profiles", "mem0", "the memory profiles API (settings, generation jobs, profiles)",
               ("GET /v2/profiles/settings/", "POST /v2/profiles/settings/", "POST /v2/profiles/jobs/",
                "GET /v2/profiles/jobs/{job_id}/", "GET /v2/entities/user/{entity_id}/profile/")),
    Capability("shared_data", "klavis", "Klavis sandboxes and Mem0 memories in one store",
               ("POST /sandbox/mem0/{sandbox_id}/initialize", "GET /v1/memories/")),
)
# What a target file may pin in each API's section (the shared store has a setting of its own).
PINNABLE = MappingProxyType({api: frozenset(c.name for c in CAPABILITIES if c.api == api and c.name != "shared_data")
                             for api in API_NAMES})
