"""The Mem0 platform resources against a model: entities, webhooks, projects, organizations and members.

Every change (create, re-create, update, delete; add, change and remove members) is checked by reading
everything the run made back, whole, after every step (:mod:`machines.platform`). Projects and
organizations run only where destructive operations are allowed; webhooks where the target offers them.
The machine explores programs at random; a fixed program of the same machine runs every rule in every
run, with two of each kind of resource, so that a value read from the wrong one shows.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from conformance.suite.machines.platform import PlatformMachine
from conformance.suite.test_platform import account

pytestmark = [pytest.mark.requires("mem0", "ping"), pytest.mark.contract("Platform resources")]

STEPS = 10


@pytest.fixture
def new_machine(mem0, ids, cleanup, target, run_prefix):
    org_id, project_id = account(mem0)
    email = mem0.get("/v1/ping/").json().get("user_email", "")
    offered = target.mem0.capabilities

    def new(tag: str) -> PlatformMachine:
        return PlatformMachine(mem0=mem0, prefix=f"{run_prefix}-{tag}", new_name=lambda kind: ids.new(f"{tag}{kind}"),
                               cleanup=cleanup, account=(org_id, project_id, email), webhooks="webhooks" in offered,
                               destructive=target.allow_destructive)
    return new


def test_platform_resources_match_a_plain_model(new_machine):
    """Entities, webhooks, projects, organizations and their members read back as they were made, changed and
    deleted, after every step."""
    run_state_machine_as_test(lambda: new_machine("pm"), settings=settings(settings(), stateful_step_count=STEPS))


def test_every_platform_change_in_a_fixed_program(new_machine):
    """Every rule of the machine at least once, two of each resource, everything read back after every step."""
    machine = new_machine("pf")
    steps: list = [  # the user after the others, so that a change that also reaches the newest other entity hits one of these
        lambda: machine.create_entity(kind="agent", metadata={}, label=True, again=False),
        lambda: machine.create_entity(kind="app", metadata={"k": "ß"}, label=True, again=False),
        lambda: machine.create_entity(kind="run", metadata={}, label=True, again=False),
        lambda: machine.create_entity(kind="user", metadata={"tier": "gold"}, label=False, again=False),
        lambda: machine.create_entity(kind="user", metadata={"tier": "silver"}, label=False, again=True),
        lambda: machine.create_entity(kind="agent", metadata={"v": 2}, label=True, again=True),
        lambda: machine.create_entity(kind="app", metadata={"k": "ss"}, label=True, again=True),
        lambda: machine.create_entity(kind="run", metadata={"n": 1}, label=True, again=True),
    ]
    if machine.webhooks_on:
        steps += [lambda: machine.make_webhook(machine.project_id, ["memory_add"], True),
                  lambda: machine.make_webhook(machine.project_id, ["memory_update", "memory_delete"], False)]
    if machine.destructive:
        steps += [machine.make_organization, machine.make_organization,
                  lambda: machine.make_project(""), lambda: machine.make_project("Scratch project — Projekt ✓")]
    try:
        for step in steps:
            step()
            machine.everything_reads_back_as_modelled()
        later: list = []
        if machine.webhooks_on:
            first, second = sorted(machine.webhooks)[:2]
            later += [lambda: machine.change_webhook(first, True, True, ["memory_delete"], False),
                      lambda: machine.change_webhook(second, False, False, None, True)]
        if machine.destructive:
            orgs, projects = sorted(machine.orgs), sorted(machine.projects)
            later += [lambda: machine.join("org", orgs[0], "READER"), lambda: machine.join("org", orgs[0], "OWNER"),
                      lambda: machine.join("org", orgs[1], "READER"), lambda: machine.join("project", projects[0], "READER"),
                      lambda: machine.join("project", projects[0], "OWNER"),
                      lambda: machine.join("project", projects[1], "READER"),
                      lambda: machine.change_project(projects[0], True, True, True, True),
                      lambda: machine.change_project(projects[1], False, True, False, False)]
            if machine.webhooks_on:
                later += [lambda: machine.make_webhook(projects[0], ["memory_add", "memory_categorize"], True),
                          lambda: machine.make_webhook(projects[1], ["memory_delete"], True)]
            later += [lambda: machine.regrade(*machine._others()[0], "role"),
                      lambda: machine.regrade(*[o for o in machine._others() if o[0] == "project"][0], "role"),
                      lambda: machine.regrade(*machine._others()[-1], "remove"),
                      lambda: machine.regrade(*[o for o in machine._others() if o[0] == "org"][0], "remove"),
                      lambda: machine.drop_project(projects[1]), lambda: machine.drop_organization(orgs[1])]
        if machine.webhooks_on:
            later.append(lambda: machine.drop_webhook(sorted(machine.webhooks)[0]))
        later += [lambda: machine.drop_entity("agent", sorted(n for k, n in machine.entities if k == "agent")[0], "v1"),
                  lambda: machine.drop_entity("run", sorted(n for k, n in machine.entities if k == "run")[0], "v2")]
        for step in later:
            step()
            machine.everything_reads_back_as_modelled()
    finally:
        machine.teardown()
