"""What each command of ``mem0-conformance`` does, one module per family (``conformance/cli.py`` parses the
arguments and dispatches here)."""


class CliError(Exception):
    """A problem the user can fix; printed as one sentence."""
