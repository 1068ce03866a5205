"""``mutants list|index|run|report`` and ``faults``: the suite graded with mutants and planted faults."""

from __future__ import annotations

import argparse
from pathlib import Path

from conformance import exits
from conformance.commands import CliError


def mutants_list(args: argparse.Namespace) -> int:
    from conformance.mutants.command import MutantsError, list_mutants

    try:
        return list_mutants(only=args.only, api=args.api, output=args.format)
    except MutantsError as exc:
        raise CliError(str(exc)) from None


def mutants_index(args: argparse.Namespace) -> int:
    from conformance.mutants.command import MutantsError, build_index
    from conformance.mutants.coverage import ENGINES

    try:
        return build_index(ENGINES if args.engine == "all" else [args.engine])
    except MutantsError as exc:
        raise CliError(str(exc)) from None


def mutants_run(args: argparse.Namespace) -> int:
    from conformance.mutants.command import MutantsError, run

    try:
        return run(engine=args.engine, only=args.only, sample=args.sample, seed=args.seed, shard_of=args.shard,
                   jobs=args.jobs, reports=args.reports.resolve(), min_score=args.min_score,
                   include_equivalent=args.include_equivalent)
    except MutantsError as exc:
        raise CliError(str(exc)) from None


def mutants_report(args: argparse.Namespace) -> int:
    from conformance.mutants.command import MutantsError, report

    try:
        return report([Path(folder) for folder in args.folders], args.reports, rerun=args.rerun)
    except MutantsError as exc:
        raise CliError(str(exc)) from None


def faults(args: argparse.Namespace) -> int:
    from conformance.server.faults import catalog

    faults = catalog()
    width = max(len(name) for name in faults)
    for fault in faults.values():
        print(f"{fault.name:<{width}}  {fault.family:<13} {fault.description}")
    return exits.OK
