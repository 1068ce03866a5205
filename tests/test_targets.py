"""Targets: TOML, then environment, then options; secrets from the environment; one-sentence errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.targets import TargetError, embedded, load, resolve

ROOT = Path(__file__).resolve().parent.parent
ENV = {"MEM0_API_KEY": "m0-secret", "KLAVIS_API_KEY": "kl-secret"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("sample", sorted((ROOT / "targets").glob("*.toml")), ids=lambda p: p.name)
def test_the_sample_target_files_load(sample):
    """Each shipped sample target file builds a target when its key variables are set."""
    target = load(sample, environ=ENV)
    assert target.mem0 or target.klavis


def test_keys_come_from_the_environment_and_never_show_in_repr(tmp_path):
    """"${NAME}" is read from the environment; the key is not part of the target's repr."""
    target = load(write(tmp_path, '[mem0]\nurl = "https://m.example/"\nkey = "${MEM0_API_KEY}"\n'), environ=ENV)
    assert target.mem0.key == "m0-secret"
    assert target.mem0.url == "https://m.example"
    assert "m0-secret" not in repr(target)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[mem0]\nurl = "https://m.example"\nkey = "literal"\n', 'must name an environment variable as "${NAME}"'),
        ('[mem0]\nurl = "https://m.example"\nkey = "${NOT_SET_ANYWHERE}"\n', "needs the environment variable NOT_SET_ANYWHERE"),
        ('[mem0]\nkey = "${MEM0_API_KEY}"\n', "t.toml: mem0.url is missing"),
        ('[mem0]\nurl = "ftp://m.example"\n', "must be an http(s) URL"),
        ('[mem0]\nurl = "https://m.example"\nrate_limit = "fast"\n', "rate_limit must look like '60/m'"),
        ('[mem0]\nurl = "https://m.example"\ntimeout = "30"\n', "timeout must be a number"),
        ('[mem0]\nurl = "https://m.example"\ncolour = "blue"\n', "unknown setting 'colour'"),
        ('name = "x"\n', "configures neither [mem0] nor [klavis]"),
        ('[mem0]\nurl = "https://m.example"\n[[deviations]]\ntest = "a"\nreason = " "\n', "every deviation needs a reason"),
        ("[mem0\n", "is not valid TOML"),
    ],
    ids=["literal-key", "unset-variable", "no-url", "bad-scheme", "bad-rate", "bad-timeout", "unknown-key",
         "no-api", "empty-reason", "bad-toml"],
)
def test_bad_settings_stop_with_one_sentence(tmp_path, text, message):
    """Each bad setting is refused with a message naming it."""
    with pytest.raises(TargetError, match=r".*") as info:
        load(write(tmp_path, text), environ=ENV)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_missing_target_file_is_one_sentence(tmp_path):
    """A target file that does not exist is named in the error."""
    with pytest.raises(TargetError, match="does not exist"):
        load(tmp_path / "nope.toml")


def test_nothing_named_means_the_embedded_server():
    """Without a file, URL variables or options there is no target: the run serves its own."""
    assert resolve(environ={}) is None


def test_environment_overrides_the_file_and_options_override_the_environment(tmp_path):
    """TOML < MEM0_CONFORMANCE_MEM0_URL < --mem0-url."""
    path = write(tmp_path, '[mem0]\nurl = "https://file.example"\n')
    environ = {**ENV, "MEM0_CONFORMANCE_MEM0_URL": "https://env.example"}
    assert resolve(target_file=path, environ=environ).mem0.url == "https://env.example"
    assert resolve(target_file=path, mem0_url="https://opt.example", environ=environ).mem0.url == "https://opt.example"


def test_a_url_option_alone_takes_the_key_variable():
    """--klavis-url without a file uses KLAVIS_API_KEY and leaves Mem0 untested."""
    target = resolve(klavis_url="https://k.example", environ=ENV)
    assert (target.klavis.url, target.klavis.key, target.mem0) == ("https://k.example", "kl-secret", None)


def test_a_url_option_without_its_key_variable_is_refused():
    """A URL with no key to send is refused before anything runs."""
    with pytest.raises(TargetError, match="--mem0-url needs the environment variable MEM0_API_KEY"):
        resolve(mem0_url="https://m.example", environ={})


def test_the_embedded_target_shares_data_and_allows_destructive_operations():
    """The run's own reference server: both APIs, one store, nothing of anyone else's to protect."""
    target = embedded("http://127.0.0.1:1234")
    assert target.embedded and target.shared_data and target.allow_destructive
    assert target.mem0.url == target.klavis.url == "http://127.0.0.1:1234"
