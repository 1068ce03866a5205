"""Whether the target still answers, so that a run ends soon after the target goes silent.

Every request of the run reports here (the suite's clients through :class:`conformance.client.RecordingTransport`,
schemathesis's sessions through :func:`conformance.retries.mount`): an answer of any status, or no answer
at all (a timeout, a refused or reset connection). Once the requests of the last :data:`SILENCE` seconds
(in a run: twice the target's request timeout) have all gone unanswered, every further request fails at once
with :class:`TargetSilent` (no wait, no retry): the test that sent it ends broken, and the plugin stops the run
(exit 6) with the tests already judged kept and the rest reported as not run. A silence that long is final for
the run: a request let through now and then to see whether the target is back would wait out its own timeout,
and a run of tests that each send one such request would never end (seen: ten minutes and counting, one test
per timeout). The preflight tells a target that is down from the start;
this tells one that stops answering during the run.

One watch per process (each xdist worker watches its own requests).
"""

from __future__ import annotations

import threading
import time

SILENCE = 60.0  # seconds of nothing but unanswered requests after which the target counts as gone (default)
SILENCE_TIMEOUTS = 2  # a run's bound: this many of the target's request timeouts (the plugin sets it)
STOPPED = "the target stopped answering"  # the start of TargetSilent's message, which the plugin looks for


class TargetSilent(Exception):
    """No request to the target has been answered for :data:`SILENCE` seconds."""


class Watch:
    def __init__(self, silence: float = SILENCE) -> None:
        self.silence = silence
        self._lock = threading.Lock()
        self._silent_since: float | None = None  # when the first request of the current silence was sent

    def answered(self) -> None:
        with self._lock:
            self._silent_since = None

    def unanswered(self, sent: float) -> None:
        with self._lock:
            if self._silent_since is None:
                self._silent_since = sent

    def check(self) -> None:
        """Raise :class:`TargetSilent` once the target has answered nothing for the bound."""
        now = time.monotonic()
        with self._lock:
            since = self._silent_since
        if since is not None and now - since >= self.silence:
            raise TargetSilent(f"{STOPPED}: no request was answered for {now - since:.0f} s")


WATCH = Watch()
