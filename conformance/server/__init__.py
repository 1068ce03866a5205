"""The reference server: a faithful, stateful implementation of both APIs, with planted faults."""

from conformance.server.app import create_app
from conformance.server.runner import ServerThread
from conformance.server.settings import ServerSettings

__all__ = ["ServerSettings", "ServerThread", "create_app"]
