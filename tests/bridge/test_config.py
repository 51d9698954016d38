"""The configuration model: what an operator sees for good and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bridge import config
from bridge.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "space.example.yaml"


def run_check(path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    return result.exit_code, result.output


def write(tmp_path, data) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def test_example_file_is_valid_and_shows_every_option():
    code, out = run_check(EXAMPLE)
    assert (code, out.strip()) == (0, "ok")
    data = example()
    # Every option of every section of the model is written out in the example.
    for section, model in [("bridge", config.BridgeSettings), ("outbox", config.OutboxSettings),
                           ("wikimedia", config.WikimediaSettings), ("discourse", config.DiscourseSettings),
                           ("mediawiki", config.MediaWikiSettings)]:
        assert set(model.model_fields) <= set(data[section]), section
    assert set(config.WordPressSite.model_fields) <= set(data["wordpress"]["sites"][0])
    assert set(config.PolicySettings.model_fields) <= set(data["wikimedia"]["policy"])
    assert set(config.RelayRule.model_fields) <= set(data["relay"]["rules"][0])
    assert set(config.RelayTarget.model_fields) <= set(data["relay"]["targets"][0])


def test_typo_in_a_key_is_named_with_its_path_and_file(tmp_path):
    data = example()
    data["wordpress"]["sites"][0]["categoriess"] = data["wordpress"]["sites"][0].pop("categories")
    path = write(tmp_path, data)
    code, out = run_check(path)
    assert code == 1
    assert f"{path}: wordpress.sites[0].categoriess: unknown key; did you mean 'categories'?" in out


def test_missing_secret_from_environment_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("SPACE_TEST_API_KEY", raising=False)
    data = example()
    data["discourse"]["api_key"] = "env:SPACE_TEST_API_KEY"
    path = write(tmp_path, data)
    code, out = run_check(path)
    assert code == 1
    assert "discourse.api_key: environment variable SPACE_TEST_API_KEY is not set" in out


def test_env_secret_is_resolved_and_never_shown(tmp_path, monkeypatch):
    monkeypatch.setenv("SPACE_TEST_API_KEY", "very-secret-api-key-value")
    data = example()
    data["discourse"]["api_key"] = "env:SPACE_TEST_API_KEY"
    settings = config.load(write(tmp_path, data))
    assert settings.discourse.api_key.get_secret_value() == "very-secret-api-key-value"
    assert "very-secret-api-key-value" not in repr(settings)
    assert "very-secret-api-key-value" not in str(settings.model_dump())


def test_missing_required_secret_and_every_problem_reported_at_once(tmp_path):
    data = example()
    del data["discourse"]["connect_secret"]
    data["bridge"]["listen"] = "nowhere"
    data["outbox"]["max_attempts"] = 0
    code, out = run_check(write(tmp_path, data))
    assert code == 1
    assert "discourse.connect_secret: required key is missing" in out
    assert "bridge.listen: 'nowhere' is not HOST:PORT" in out
    assert "outbox.max_attempts:" in out
    assert "3 problem(s) found" in out


def test_short_secret_key_and_unknown_relay_target(tmp_path):
    data = example()
    data["bridge"]["secret_key"] = "short"
    data["relay"]["rules"][0]["targets"] = ["nowhere"]
    code, out = run_check(write(tmp_path, data))
    assert "bridge.secret_key: must be at least 32 characters" in out
    assert "names unknown target(s): nowhere" in out


def test_duplicate_site_names_and_duplicate_yaml_keys(tmp_path):
    data = example()
    data["wordpress"]["sites"].append(dict(data["wordpress"]["sites"][0]))
    code, out = run_check(write(tmp_path, data))
    assert "site names must be unique; repeated: news" in out
    text = EXAMPLE.read_text().replace("  listen: 127.0.0.1:8090\n", "  listen: 127.0.0.1:8090\n  listen: 0.0.0.0:80\n")
    code, out = run_check(write(tmp_path, text))
    assert code == 1 and "key 'listen' appears twice" in out and "line " in out


def test_unreadable_and_malformed_files(tmp_path):
    code, out = run_check(tmp_path / "absent.yaml")
    assert code == 1 and "absent.yaml: cannot read the file" in out
    code, out = run_check(write(tmp_path, "bridge: [unclosed\n"))
    assert code == 1 and "not valid YAML" in out
    code, out = run_check(write(tmp_path, "- just a list\n"))
    assert code == 1 and "top level must be a mapping" in out


def test_unsupported_database_url(tmp_path):
    data = example()
    data["bridge"]["database_url"] = "mysql://root@localhost/space"
    code, out = run_check(write(tmp_path, data))
    assert "bridge.database_url: 'mysql' databases are not supported" in out


def test_site_lookup_by_name(tmp_path):
    settings = config.load(EXAMPLE)
    assert settings.site("news").transport == "rest"
    with pytest.raises(KeyError, match="no WordPress site named 'blog'"):
        settings.site("blog")
