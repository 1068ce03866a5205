"""Operation handlers. Importing this package registers every handler and planted fault."""

from conformance.server.handlers import klavis, mem0_memories, mem0_platform, mem0_profiles  # noqa: F401
