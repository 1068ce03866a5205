"""`mem0-conformance run`: targets, preflight exit codes, known deviations, fault planting.

The suite itself is exercised by the fault matrix (``test_fault_matrix.py``); these tests pick
single suite tests (``-- test_smoke.py::...``) to check the command's contract quickly. Live
targets are stood in for by reference servers this test starts on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.server import ServerSettings, ServerThread, create_app
from tests.test_cli import EXE

PING = "test_smoke.py::test_mem0_ping_names_the_key_s_organization_and_project"
LIST = "test_smoke.py::test_klavis_lists_sandboxes"
KEYS = {"MEM0_API_KEY": "m0-secret-for-tests", "KLAVIS_API_KEY": "kl-secret-for-tests"}


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_API", "KLAVIS_API", "MEM0_CONFORMANCE_"))}
    environ.update(env or {})
    return subprocess.run([EXE, "run", *args], capture_output=True, text=True, timeout=300, env=environ, cwd=cwd)


@pytest.fixture(scope="module")
def live() -> Iterator[ServerThread]:
    """A reference server standing in for a live target, with keys from the environment."""
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"])
    with ServerThread(create_app(settings)) as thread:
        yield thread


@pytest.fixture(scope="module")
def faulty() -> Iterator[ServerThread]:
    """A stand-in live target whose ping omits project_id (a planted fault)."""
    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], faults=frozenset({"ping-missing-project-id"}))
    with ServerThread(create_app(settings)) as thread:
        yield thread


def target_file(tmp_path: Path, url: str, *, deviation: str | None = None) -> Path:
    text = f'name = "stand-in"\n[mem0]\nurl = "{url}"\nkey = "${{MEM0_API_KEY}}"\n'
    if deviation:
        text += f'[[deviations]]\ntest = "{deviation}"\nreason = "ping omits project_id (ticket 7)"\n'
    path = tmp_path / "target.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_with_no_target_the_embedded_server_is_tested_and_a_pass_exits_0(tmp_path: Path):
    result = run("--", PING, LIST, "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def _installed_plugin(folder: Path) -> Path:
    """A pytest plugin installed in ``folder`` (a distribution with a pytest11 entry point, found on PYTHONPATH)
    that notes each process that loads it into ``loaded.txt`` beside it."""
    (folder / "spy_plugin.py").write_text(
        "def pytest_configure(config):\n"
        f"    with open({str(folder / 'loaded.txt')!r}, 'a') as fh:\n"
        "        fh.write(getattr(config, 'workerinput', {}).get('workerid', 'controller') + '\\n')\n", encoding="utf-8")
    dist = folder / "spy_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: spy-plugin\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[pytest11]\nspy = spy_plugin\n", encoding="utf-8")
    return folder / "loaded.txt"


def test_a_run_loads_only_the_suite_s_plugins_unless_another_is_named(tmp_path: Path):
    """A pytest plugin installed beside the suite stays out of a run, its xdist workers included; ``-p`` brings it in."""
    loaded = _installed_plugin(tmp_path)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    result = run("--", PING, "-q", "-n", "2", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not loaded.exists(), loaded.read_text(encoding="utf-8")
    result = run("--", PING, "-q", "-n", "2", "-p", "spy_plugin", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(loaded.read_text(encoding="utf-8").split()) == ["controller", "gw0", "gw1"]


def test_the_suite_s_plugins_are_named_but_those_a_run_blocks():
    from conformance.suite_runner import plugin_arguments

    named = plugin_arguments([])
    assert ["-p", "xdist.plugin"] == named[named.index("xdist.plugin") - 1:named.index("xdist.plugin") + 1]
    assert {"conformance.plugin", "_hypothesis_pytestplugin", "pytest_timeout", "allure_pytest.plugin"} <= set(named)
    for blocking in (["-p", "no:xdist"], ["-pno:xdist"], ["-p", "no:xdist.plugin"]):
        assert "xdist.plugin" not in plugin_arguments(blocking), blocking
        assert "pytest_timeout" in plugin_arguments(blocking)


def test_a_selection_of_no_test_says_so_exits_5_and_keeps_the_last_summary(tmp_path: Path):
    """`run -- -k nosuchthing` runs nothing: one sentence, exit 5, and the previous run's summary stays."""
    assert run("--", PING, "-q", cwd=tmp_path).returncode == 0
    before = (tmp_path / "reports" / "summary.json").read_text(encoding="utf-8")
    result = run("--", "-k", "nosuchthing", "-q", cwd=tmp_path)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "no test of the suite matches this selection, so nothing ran; the previous summary is kept" in result.stdout
    assert (tmp_path / "reports" / "summary.json").read_text(encoding="utf-8") == before


BLOCKER = """
import sys


class _Hidden:  # this interpreter cannot import the SDKs, as in an environment without the sdk extra
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("mem0", "klavis"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None


sys.meta_path.insert(0, _Hidden())
"""


@pytest.mark.parametrize("option", ["--sdk", "--sdk-only"])
def test_the_sdk_guard_without_the_sdks_refuses_instead_of_passing(tmp_path: Path, option: str):
    """Where mem0ai and klavis are not installed (and no npm SDK is chosen), `run --sdk` / `--sdk-only` says so and
    exits 2: a guard that ran no scenario is never green."""
    (tmp_path / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    result = run(option, "--npm-sdk", "none", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == ("mem0-conformance: the SDK guard drives mem0ai and klavis, and neither is "
                                     "installed in this environment (nor an npm SDK with Node.js): pip install "
                                     "'mem0-conformance[sdk]' (a guard that ran no scenario would pass).")
    assert not (tmp_path / "reports").exists()


def test_a_body_over_the_target_s_size_limit_is_a_valid_rejection(tmp_path: Path):
    """A target that reads bodies of at most 2 KiB refuses most of schemathesis's batch bodies with 413: the schema
    tests of both batch operations pass (the overlays declare 413, the checks count it as a rejection)."""
    from tests.test_server_under_load import Statuses

    settings = ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"], max_body_bytes=2048)
    statuses = Statuses(create_app(settings))
    with ServerThread(statuses) as small:
        result = run("--mem0-url", small.url, "--", "-q", "test_schema.py::test_mem0_operation[PUT /v1/batch/]",
                     "test_schema.py::test_mem0_operation[DELETE /v1/batch/]", env=KEYS, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "2 passed" in result.stdout and statuses.counts[413] >= 5, statuses.counts


def test_schemathesis_probes_an_operation_s_authentication_once(tmp_path: Path):
    """``ignored_auth`` resends a 2xx case without the key and with a wrong one: once per operation (as schemathesis's
    own runner does), not on every 2xx."""
    from tests.test_server_under_load import Statuses

    statuses = Statuses(create_app(ServerSettings(mem0_key=KEYS["MEM0_API_KEY"], klavis_key=KEYS["KLAVIS_API_KEY"])))
    with ServerThread(statuses) as server:
        result = run("--mem0-url", server.url, "--", "-q", "test_schema.py::test_mem0_operation[GET /v1/ping/]",
                     env=KEYS, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:]
    assert statuses.counts[200] >= 5 and statuses.counts[401] == 2, statuses.counts


def test_a_run_that_builds_its_html_report_does_not_tell_to_build_it(tmp_path: Path):
    """`run --html` announces the report it built (and no longer says that `mem0-conformance report` builds it);
    the report loads nothing from another host: the template's analytics are taken out."""
    result = run("--html", "--", PING, "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "`mem0-conformance report` builds the HTML report" not in result.stdout
    assert "the HTML report follows" in result.stdout
    index = tmp_path / "reports" / "html" / "index.html"
    assert f"mem0-conformance: HTML report {index}" in result.stdout
    from conformance.reporting.html import external_resources

    html = index.read_text(encoding="utf-8")
    assert external_resources(html) == [] and "googletagmanager" not in html  # opening it contacts nobody


def test_an_interrupted_run_is_marked_incomplete_and_no_gate_passes_it(tmp_path: Path):
    """Ctrl-C during a run: exit 5, the summary says the run is incomplete, and `diff` refuses it (exit 5) instead of
    passing it against a baseline; a run that left checks of the baseline out does not pass the gate either."""
    import signal
    import time

    assert run("--reports", "baseline", "--", "test_smoke.py", "-q", cwd=tmp_path).returncode == 0
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_API", "KLAVIS_API", "MEM0_CONFORMANCE_"))}
    # A shell without job control starts a background job (`make test &`) with Ctrl-C ignored, which its children
    # inherit, and Python keeps it ignored: the run starts with Ctrl-C's default, as from a terminal.
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen([EXE, "run", "--", "-p", "no:randomly"], cwd=tmp_path, env=environ,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    finally:
        signal.signal(signal.SIGINT, ignored)
    seen = []
    for line in process.stdout:  # the whole suite, interrupted once its first tests have run: a progress line
        seen.append(line)       # ("test_smoke.py ..."), not the header's rootdir, whose path holds this test's name
        if re.match(r"(\S*/)?test_\w+\.py [.sFExX]", line):
            break
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    output = "".join(seen) + process.communicate(timeout=120)[0]
    assert process.returncode == 5, output[-3000:]
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text(encoding="utf-8"))
    assert re.fullmatch(r"interrupted: \d+ of \d+ tests not run", summary["incomplete"]), summary.get("incomplete")
    assert int(summary["incomplete"].split()[1]) > 0
    assert "INCOMPLETE RUN: interrupted: " in output
    gate = subprocess.run([EXE, "diff", "baseline", "reports"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert gate.returncode == 5 and gate.stderr.startswith("mem0-conformance: the current summary is of an incomplete "
                                                           "run (interrupted: "), gate.stderr
    partial = run("--reports", "partial", "--", PING, "-q", cwd=tmp_path)
    assert partial.returncode == 0
    removed = subprocess.run([EXE, "diff", "baseline", "partial"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert removed.returncode == 1 and "removed checks:" in removed.stdout, removed.stdout


def test_a_planted_fault_makes_the_run_fail_with_exit_1(tmp_path: Path):
    result = run("--fault", "ping-missing-project-id", "--", PING, "-q", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed" in result.stdout
    assert "exchanged requests (keys redacted)" in result.stdout  # the failure shows what was sent


def test_a_live_target_by_url_is_tested_with_the_key_from_the_environment(live, tmp_path: Path):
    result = run("--mem0-url", live.url, "--klavis-url", live.url, "--", PING, LIST, "-q", env=KEYS, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert all(key not in result.stdout + result.stderr for key in KEYS.values())


def test_an_api_without_url_is_skipped(live, tmp_path: Path):
    result = run("--mem0-url", live.url, "--", PING, LIST, "-q", "-rs", env=KEYS, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert "the target has no Klavis API" in result.stdout


def test_an_unreachable_target_stops_the_run_with_exit_3_before_any_test(tmp_path: Path):
    result = run("--mem0-url", "http://127.0.0.1:9", env=KEYS, cwd=tmp_path)
    assert result.returncode == 3
    assert result.stdout == ""  # no test session started
    assert result.stderr.count("\n") == 1 and "cannot be reached" in result.stderr


def test_a_rejected_key_stops_the_run_with_exit_4_and_never_shows_the_key(live, tmp_path: Path):
    result = run("--klavis-url", live.url, env={"KLAVIS_API_KEY": "kl-wrong-key"}, cwd=tmp_path)
    assert result.returncode == 4
    assert result.stdout == ""
    assert "rejected the API key with 401" in result.stderr and "KLAVIS_API_KEY" in result.stderr
    assert "kl-wrong-key" not in result.stderr


def test_a_missing_key_variable_is_a_usage_error(live, tmp_path: Path):
    result = run("--mem0-url", live.url, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "mem0-conformance: --mem0-url needs the environment variable MEM0_API_KEY, which is not set."
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "no-such-fault"], "unknown fault no-such-fault"),
        (["--fault", "auth-any-token", "--mem0-url", "http://127.0.0.1:9"], "--fault applies only to the embedded"),
        (["--target", "missing.toml"], "target file missing.toml does not exist"),
    ],
)
def test_bad_options_are_refused_in_one_sentence_with_exit_2(args, message, tmp_path: Path):
    result = run(*args, env=KEYS, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_a_known_deviation_is_a_strict_xfail(faulty, tmp_path: Path):
    """The target file lists the broken expectation: the run passes and says why."""
    path = target_file(tmp_path, faulty.url, deviation=PING)
    result = run("--target", str(path), "--", PING, "-q", "-rx", env=KEYS, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 xfailed" in result.stdout
    assert "known deviation of stand-in: ping omits project_id (ticket 7)" in result.stdout


def test_a_deviation_the_target_no_longer_has_fails_the_run(live, tmp_path: Path):
    """Strict: an expectation listed as broken that holds is reported, so the list stays true."""
    path = target_file(tmp_path, live.url, deviation=PING)
    result = run("--target", str(path), "--", PING, "-q", env=KEYS, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "XPASS(strict)" in result.stdout
    assert "ping omits project_id (ticket 7)" in result.stdout  # the reason it was listed for


def test_a_deviation_that_names_no_test_is_an_error_of_the_target_file(live, tmp_path: Path):
    """An entry naming a test the suite does not have stops the run (exit 2) and names the closest tests."""
    path = target_file(tmp_path, live.url, deviation=PING.replace("names", "nams"))
    result = run("--target", str(path), "--", PING, "-q", env=KEYS, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"the deviation for {PING.replace('names', 'nams')!r} in the target file 'stand-in' matches no test of " \
           f"the suite (closest: {PING}" in result.stdout + result.stderr
    assert "no tests ran" in result.stdout and not (tmp_path / "reports" / "summary.json").exists()


def test_plain_pytest_with_the_plugin_checks_the_target_first(tmp_path: Path):
    """`pytest --pyargs conformance.suite --mem0-url URL` stops before any test when the target is down."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_API", "KLAVIS_API", "MEM0_CONFORMANCE_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "--mem0-url", "http://127.0.0.1:9",
         "-p", "no:cacheprovider", "-q"],
        capture_output=True, text=True, timeout=300, env={**environ, **KEYS}, cwd=tmp_path,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the Mem0 target http://127.0.0.1:9 cannot be reached" in result.stdout + result.stderr
    assert "passed" not in result.stdout and "failed" not in result.stdout


@pytest.mark.parametrize(("args", "said"), [
    (["--sdk-only", "--npm-sdk", "mem0ai==3.3.1"], "'mem0ai==3.3.1' is not an npm SDK: write mem0ai@X.Y.Z or klavis@X.Y.Z"),
    (["--npm-sdk", "mem0ai@3.3.1"], "--npm-sdk chooses the npm SDKs of the SDK guard: add --sdk or --sdk-only"),
])
def test_a_wrong_npm_sdk_is_one_sentence_and_runs_nothing(tmp_path: Path, args: list[str], said: str):
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2 and said in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "reports").exists()
