"""``serve``: the reference server on a port of this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from conformance import exits
from conformance.commands import CliError


def serve(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from conformance.server import ServerSettings, create_app
    from conformance.server.app import MutantError
    from conformance.server.faults import UnknownFault
    from conformance.server.runner import BindError, bind, serve, serve_workers
    from conformance.server.shared import SharedState, StateError

    shared = args.workers > 1 or args.state is not None
    if shared and args.mutant:
        raise CliError("--mutant needs the in-memory state of one worker, not --workers or --state")
    if shared and args.processing_delay:
        raise CliError("--processing-delay needs the in-memory state of one worker: with --workers or --state, "
                       "queued work settles when its request ends")
    scratch = tempfile.mkdtemp(prefix="mem0-conformance-state-") if shared and args.state is None else None
    state = args.state.resolve() if args.state is not None else Path(scratch) / "state.sqlite" if scratch else None
    try:
        settings = ServerSettings.from_env(
            mem0_key=args.mem0_key, klavis_key=args.klavis_key, faults=frozenset(args.fault),
            processing_delay=args.processing_delay, max_body_bytes=args.max_body, state=str(state) if state else None,
            mutant=args.mutant,
        )
        app = create_app(settings) if args.workers == 1 else None  # the workers make their own
        if app is None and state is not None:
            SharedState(state).close()  # a state file that cannot be used is said now, not by every worker
        sock = bind(args.host, args.port)
    except (UnknownFault, MutantError, BindError, StateError) as exc:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        raise CliError(str(exc)) from None
    host, port = sock.getsockname()[:2]
    switched = ", ".join(sorted(settings.faults)) or "none"
    switched += f", mutant: {settings.mutant}" if settings.mutant else ""
    sharing = f", {args.workers} worker{'s' if args.workers > 1 else ''} sharing {state}" if state else ""
    print(f"mem0-conformance reference server on http://{host}:{port}: Mem0 and Klavis APIs, faults: {switched}, "
          f"bodies up to {settings.max_body_bytes} bytes{sharing}", flush=True)
    try:
        if app is not None:
            serve(app, sock, log_level=args.log_level)
        else:
            serve_workers(settings.to_json(), sock, args.workers, log_level=args.log_level)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return exits.OK
