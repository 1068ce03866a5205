"""mem0-conformance: contract tests for the Mem0 platform API and the Klavis mem0 sandbox API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mem0-conformance")
except PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0+unknown"
