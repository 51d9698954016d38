"""The configuration model: what an operator sees for good and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bridge import config, secret_policy
from sync.relay.settings import RelayRule, RelayTarget
from bridge.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "space.example.yaml"
VAULT = Path(__file__).resolve().parents[2] / "ansible/inventories/example/group_vars/all/vault.yml"


def run_check(path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    return result.exit_code, result.output


def write(tmp_path, data) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


#: A secret of each example key, as an operator would make them (openssl rand -hex 32).
OWN = {
    ("bridge", "secret_key"): "5f0c1e9a7b3d4c2e8a6f1b0d9c7e5a3f2b4d6c8e0a1f3b5d7c9e2a4f6b8d0c1e",
    ("wikimedia", "client_secret"): "3b9f0e7c1a5d2f4e6c8a0b1d3f5e7c9a",  # Wikimedia's: 32 hex digits
    ("discourse", "api_key"): "e1d2c3b4a5f60718293a4b5c6d7e8f90e1d2c3b4a5f60718293a4b5c6d7e8f90",
    ("discourse", "connect_secret"): "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b",
    ("discourse", "webhook_secret"): "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
    ("wordpress", "sites", 0, "password"): "Xk3p Qz7m Lr2v Nw8t Hy5c Bd4f",  # WordPress's own format
    ("wordpress", "sites", 0, "webhook_secret"): "7c6b5a49382716f5e4d3c2b1a0f9e8d7c6b5a493",
    ("wordpress", "sites", 0, "connect_secret"): "2e4f6a8c0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a",
    ("mediawiki", "password"): "q0r1s2t3u4v5w6a7b8c9d0e1f2g3h4i5",  # MediaWiki's bot passwords: 32 of [0-9a-w]
    ("relay", "digest", "smtp", "password"): "smtp-provider-gave-this",
}


def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def put(data: dict, path: tuple, value) -> dict:
    *parents, last = path
    for key in parents:
        data = data[key]
    data[last] = value


def own_example() -> dict:
    """The example with every secret replaced by one of the operator's own."""
    data = example()
    for path, value in OWN.items():
        put(data, path, value)
    return data


def test_example_file_is_valid_and_shows_every_option():
    config.load(EXAMPLE, check_secrets=False)
    data = example()
    # Every option of every section of the model is written out in the example.
    for section, model in [("bridge", config.BridgeSettings), ("outbox", config.OutboxSettings),
                           ("wikimedia", config.WikimediaSettings), ("discourse", config.DiscourseSettings),
                           ("mediawiki", config.MediaWikiSettings)]:
        assert set(model.model_fields) <= set(data[section]), section
    assert set(config.WordPressSite.model_fields) <= set(data["wordpress"]["sites"][0])
    assert set(config.PolicySettings.model_fields) <= set(data["wikimedia"]["policy"])
    assert set(RelayRule.model_fields) <= set(data["relay"]["rules"][0])
    assert set(RelayTarget.model_fields) <= set(data["relay"]["targets"][0])
    assert set(config.MetricsSettings.model_fields) <= set(data["bridge"]["metrics"])


def test_the_examples_secrets_are_refused_each_by_its_key_path_and_file():
    code, out = run_check(EXAMPLE)
    assert code == 1
    for path in OWN:
        key = ".".join(str(p) for p in path).replace(".0.", "[0].")
        assert f"{EXAMPLE}: {key}: is a published example value" in out, key
    assert f"{len(OWN)} problem(s) found" in out


def test_with_secrets_of_its_own_the_example_passes(tmp_path):
    code, out = run_check(write(tmp_path, own_example()))
    assert (code, out.strip()) == (0, "ok")


def test_the_package_knows_every_secret_of_the_example_files():
    """The installed bridge has no repository to read: every secret of both example files must
    begin with a prefix it refuses."""
    lenient = config.load(EXAMPLE, check_secrets=False)
    in_config = {value for _, value, _ in secret_policy._secrets(lenient, "")}
    vault = yaml.safe_load(VAULT.read_text())
    in_vault = {value for key, value in vault.items() if key.startswith("vault_")}
    assert len(in_config) == len(OWN) and all(v.startswith("vault-placeholder-") for v in in_vault)
    assert all(v.startswith(secret_policy.EXAMPLE_PREFIXES) for v in in_config | in_vault)


@pytest.mark.parametrize("path, value, problem", [
    # a placeholder of the vault, a variant of an example, an example given through the environment
    (("bridge", "secret_key"), "vault-placeholder-bridge-secret-key-change-me-0123456789", "is a published example value"),
    (("discourse", "api_key"), "example-only-discourse-api-key-of-mine-0123456789", "is a published example value"),
    (("discourse", "connect_secret"), "env:SPACE_TEST_SECRET", "is a published example value"),
    # shorter than 32 characters, where Discourse alone would take it
    (("discourse", "webhook_secret"), "webhook-secret-1234567", "must be at least 32 characters"),
    (("wordpress", "sites", 0, "webhook_secret"), "a" * 64, "uses fewer than 5 different characters"),
    (("wikimedia", "client_secret"), "abab" * 10, "uses fewer than 5 different characters"),
    # an Application Password is WordPress's 24 letters and digits; the spaces do not count
    (("wordpress", "sites", 0, "password"), "Xk3p Qz7m Lr2v Nw8t Hy5c", "must be at least 24 letters and digits"),
    (("relay", "digest", "smtp", "password"), "xxxxxxxxxxxx", "uses fewer than 5 different characters"),
])
def test_a_weak_or_published_secret_is_refused(tmp_path, monkeypatch, path, value, problem):
    monkeypatch.setenv("SPACE_TEST_SECRET", "example-only-connect-secret")
    data = own_example()
    put(data, path, value)
    target = write(tmp_path, data)
    code, out = run_check(target)
    key = ".".join(str(p) for p in path).replace(".0.", "[0].")
    assert code == 1 and f"{target}: {key}: {problem}" in out, out
    assert value not in out  # the secret itself is never shown
    with pytest.raises(config.ConfigError):
        config.load(target)


def test_secrets_the_platforms_choose_keep_their_own_length(tmp_path):
    data = own_example()
    put(data, ("relay", "digest", "smtp", "password"), "mail-pw-8")  # the mail provider's
    assert config.load(write(tmp_path, data)).wordpress.sites[0].transport == "rest"
    put(data, ("wordpress", "sites", 0, "password"), "Xk3pQz7mLr2vNw8tHy5cBd4f")
    assert config.load(write(tmp_path, data)).wordpress.sites[0].password
    # An account password (xmlrpc): WordPress's generator makes 24 characters, spaces count.
    put(data, ("wordpress", "sites", 0, "transport"), "xmlrpc")
    put(data, ("wordpress", "sites", 0, "password"), "Xk3p Qz7m-Lr2v!Nw8t#Hy5c")
    assert config.load(write(tmp_path, data)).wordpress.sites[0].transport == "xmlrpc"
    put(data, ("wordpress", "sites", 0, "password"), "Xk3p Qz7m-Lr2v!Nw8t#Hy5")
    code, out = run_check(write(tmp_path, data))
    assert code == 1 and "wordpress.sites[0].password: must be at least 24 characters" in out


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
    settings = config.load(write(tmp_path, data), check_secrets=False)
    assert settings.discourse.api_key.get_secret_value() == "very-secret-api-key-value"
    assert "very-secret-api-key-value" not in repr(settings)
    assert "very-secret-api-key-value" not in str(settings.model_dump())


def test_missing_required_secret_and_every_problem_reported_at_once(tmp_path):
    data = own_example()
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


def test_api_username_beyond_ascii_is_refused(tmp_path):
    # the client acts as other non-ASCII users by id, looked up as the API user: that one must
    # go by name in Api-Username (it looped until the stack overflowed)
    data = own_example()
    data["discourse"]["api_username"] = "محمد"
    code, out = run_check(write(tmp_path, data))
    assert code != 0 and "discourse.api_username: must be the ASCII username of a forum admin" in out


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
    settings = config.load(EXAMPLE, check_secrets=False)
    assert settings.site("news").transport == "rest"
    with pytest.raises(KeyError, match="no WordPress site named 'blog'"):
        settings.site("blog")
