"""The exit codes of every command, stated once (the CLI's help text lists them)."""

from __future__ import annotations

OK = 0  # every applicable expectation holds (known deviations included); mutants: the score is met
FAILED = 1  # some expectation fails; with --baseline or diff, something regressed; mutants: the score is below
USAGE = 2  # bad usage or target file
UNREACHABLE = 3  # a target cannot be reached (or is not the API)
KEY_REJECTED = 4  # a target refuses the key
INCOMPLETE = 5  # the run did not complete: interrupted, an error of the suite itself, or no test selected
BROKEN = 6  # the target or the network misbehaved (broken results) and no expectation failed

HELP = ("Exit codes: 0 every applicable expectation holds (known deviations included), 1 some fail, "
        "2 bad usage or target file, 3 a target cannot be reached, 4 a target rejects the key, "
        "5 the run did not complete (interrupted, an error of the suite itself, nothing selected), "
        "6 the target or network misbehaved (broken results) and nothing failed. "
        "With --baseline: 0 nothing regressed, 1 something did.")
