"""``sdk compare OLD NEW``: the SDK guard with two versions of an SDK against one target."""

from __future__ import annotations

import argparse
import os

from conformance import exits
from conformance.apis import APIS
from conformance.commands import CliError


def sdk_compare(args: argparse.Namespace) -> int:
    from conformance.sdk.compare import (
        CompareError,
        Pin,
        compare,
        environment,
        render,
        run_guard,
    )

    from conformance.settings import SettingsError, resolve_settings

    if args.mem0_url or args.klavis_url:  # the target resolved as every run resolves it, before anything is installed
        try:
            resolve_settings(mem0_url=args.mem0_url, klavis_url=args.klavis_url)
        except SettingsError as exc:
            raise CliError(str(exc)) from None
    try:
        old, new = Pin.parse(args.old), Pin.parse(args.new)
        if old.sdk != new.sdk:
            raise CompareError(f"compare two versions of one SDK, not {old.sdk} with {new.sdk}")
        folders = {pin: (args.reports / pin.folder).resolve() for pin in (old, new)}
        scripts = {pin: environment(pin) for pin in (old, new)}
    except CompareError as exc:
        raise CliError(str(exc)) from None
    urls = {api: url for api, url in (("mem0", args.mem0_url), ("klavis", args.klavis_url)) if url}
    keys = {api.key_variable: os.environ[api.key_variable] for api in APIS.values() if os.environ.get(api.key_variable)}
    server = None
    if not urls:  # one reference server for both runs: the same target
        from conformance.server import ServerSettings, ServerThread, create_app

        server = ServerThread(create_app(ServerSettings())).start()
        urls = {"mem0": server.url, "klavis": server.url}
        keys = {api.key_variable: api.reference_key for api in APIS.values()}
    try:
        for pin in (old, new):
            print(f"mem0-conformance: the SDK guard with {pin} ...", flush=True)
            code = run_guard(scripts[pin], folders[pin], urls, keys, pin, own_server=server is not None)
            if code not in (exits.OK, exits.FAILED, exits.BROKEN):
                raise CliError(f"the SDK guard with {pin} did not complete (exit {code}); see {folders[pin]}")
    finally:
        if server is not None:
            server.stop()
    result = compare(old, new, folders[old], folders[new])
    print(render(result))
    return exits.FAILED if result.regressed else exits.OK
