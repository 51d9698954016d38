"""Relay target kinds: found through their entry points, options checked by each kind's model with
key paths (issue 12: a typo in a target's option used to pass `config check` and show up later as
dead jobs), the same defaults as before, and cheap to import when the configuration is loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from relay_helpers import event, settings

from bridge import config, secret_policy
from sync.relay import targets
from sync.relay.render import render

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "space.example.yaml"
BIN = Path(sys.executable).parent / "space-bridge"
BUILT_IN = ["apprise", "email", "irc", "wiki"]


def config_check(tmp_path: Path, relay_yaml: str) -> subprocess.CompletedProcess:
    path = tmp_path / "space.yaml"
    path.write_text(
        "bridge:\n"
        "  public_url: http://127.0.0.1:8090\n"
        "  secret_key: test-secret-key-0123456789abcdef0123\n"
        f"  database_url: sqlite:///{tmp_path}/bridge.db\n"
        f"relay:\n{relay_yaml}")
    return subprocess.run([str(BIN), "config", "check", str(path)], capture_output=True, text=True,
                          env=dict(os.environ), timeout=60)


def test_the_built_in_kinds_come_from_the_entry_points():
    assert set(BUILT_IN) <= set(targets.names())
    for name in BUILT_IN:
        kind = targets.kind(name)
        assert kind.name == name and issubclass(kind.options, targets.TargetOptions)
        assert kind.options.__module__ == f"sync.relay.targets.{name}" == kind.build.__module__


def test_a_misspelt_wiki_option_fails_config_check_with_its_key_path(tmp_path):
    result = config_check(tmp_path, "  targets:\n    - {name: wiki-news, kind: wiki, options: {pagee: Space/News}}\n")
    assert result.returncode == 1
    assert "relay.targets[0].options.pagee: unknown key; did you mean 'page'?" in result.stderr
    assert "1 problem(s) found" in result.stderr


def test_wrong_option_values_and_kinds_fail_config_check(tmp_path):
    result = config_check(tmp_path, (
        "  targets:\n"
        "    - {name: w, kind: wiki, options: {page: P, position: middle, edits_per_minute: 0}}\n"
        "    - {name: i, kind: irc, options: {server: s, nick: n, chanel: '#x', port: seventy, burst: 0}}\n"
        "    - {name: m, kind: email, options: {to: a@example.org, smtp: {hostt: smtp.example.org}}}\n"
        "    - {name: a, kind: apprise, options: {url: 'json://x', retry_secs: 3}}\n"
        "    - {name: x, kind: telex, options: {tape: 1}}\n"))
    assert result.returncode == 1
    for problem in ("relay.targets[0].options.position: Input should be 'top' or 'bottom'",
                    "relay.targets[0].options.edits_per_minute: Input should be greater than 0",
                    "relay.targets[1].options.chanel: unknown key; did you mean 'channel'?",
                    "relay.targets[1].options.port: Input should be a valid integer",
                    "relay.targets[1].options.burst: Input should be greater than or equal to 1",
                    "relay.targets[2].options.smtp.hostt: unknown key; did you mean 'host'?",
                    "relay.targets[2].options.smtp.host: required key is missing",
                    "relay.targets[3].options.retry_secs: unknown key; did you mean 'retry_seconds'?",
                    "relay.targets[4].kind: unknown relay target kind 'telex'; known kinds: apprise, email, irc, wiki"):
        assert problem in result.stderr, result.stderr
    assert "tape" not in result.stderr  # a wrong kind is the one problem of its target


def test_the_example_configuration_still_validates_with_typed_options():
    loaded = config.load(EXAMPLE, check_secrets=False)
    wiki, irc = loaded.relay.targets
    assert type(wiki.options).__name__ == "WikiOptions" and type(irc.options).__name__ == "IrcOptions"
    assert (wiki.options.page, wiki.options.position, wiki.options.subscribers_page) == (
        "Space/News", "top", "Space/News/Subscribers")
    assert (wiki.options.edits_per_minute, wiki.options.summary, wiki.options.retry_seconds) == (
        10, "Wikimedia Space: $1", 300)
    assert (irc.options.server, irc.options.port, irc.options.tls, irc.options.channel) == (
        "irc.libera.chat", 6697, True, "#wikimedia-space-mods")
    assert irc.options.sasl_password == "env:SPACE_IRC_SASL_PASSWORD"  # read when the target is built
    assert irc.options["nick"] == "space-bridge"  # read like the dict options were


def test_defaults_are_the_ones_the_targets_used_before():
    s = settings([{"name": "w", "kind": "wiki", "options": {"page": "P"}},
                  {"name": "i", "kind": "irc", "options": {"server": "s", "nick": "n", "channel": "c"}},
                  {"name": "a", "kind": "apprise"},
                  {"name": "m", "kind": "email"}], [])
    wiki, irc, apprise, email = (t.options for t in s.relay.targets)
    assert (wiki.position, wiki.subscribers_page, wiki.edits_per_minute, wiki.summary, wiki.retry_seconds) == (
        "top", None, 10, None, 300)
    assert (irc.port, irc.tls, irc.channels, irc.password, irc.sasl_password) == (None, False, [], None, None)
    assert (irc.lines_per_second, irc.burst, irc.reconnect_max_seconds, irc.send_timeout_seconds) == (1, 4, 60, 30)
    assert (irc.prefix, irc.colours, irc.max_bytes) == ("", False, 400)
    assert (apprise.url, apprise.retry_seconds) == (None, 30)
    assert (email.to, email.smtp, email.sender) == (None, None, None)


def test_a_literal_irc_password_is_hidden_and_still_checked_as_a_secret():
    s = settings([{"name": "i", "kind": "irc", "options": {"sasl_password": "example-only-irc"}}], [])
    options = s.relay.targets[0].options
    assert "example-only-irc" not in repr(options) and options.sasl_password.get_secret_value() == "example-only-irc"
    assert any(p.startswith("relay.targets[0].options.sasl_password: is a published example value")
               for p in secret_policy.problems(s))


@pytest.mark.parametrize("kind,options", [("wiki", {}), ("irc", {"prefix": "[S] ", "colours": True}),
                                          ("apprise", {}), ("email", {})])
def test_render_takes_the_options_model_or_a_mapping(kind, options):
    model = targets.options(kind, options)
    e = event()
    assert render(e, kind, "en", options) == render(e, kind, "en", model)


def test_render_of_an_unknown_kind_is_a_value_error():
    with pytest.raises(ValueError, match="unknown target kind 'telex'"):
        render(event(), "telex", "en")


def test_loading_the_configuration_imports_no_heavy_library():
    """The configuration is loaded before logging and metrics are set up: the kinds' modules it
    imports for their options models must not import the irc library, Apprise, mwclient or
    prometheus_client (through bridge.outbox)."""
    code = ("import sys; from bridge import config; config.load(sys.argv[1], check_secrets=False); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('prometheus_client', 'irc', 'apprise', 'mwclient') or m in ('bridge.outbox', 'bridge.metrics')))")
    out = subprocess.run([sys.executable, "-c", code, str(EXAMPLE)], capture_output=True, text=True, check=True,
                         cwd=ROOT, timeout=60).stdout
    assert out.strip() == "[]"
    loaded = subprocess.run([sys.executable, "-c", "import sys; from sync.relay.targets import apprise, email, irc, "
                             "wiki; print(sorted(m for m in sys.modules if m.startswith('prometheus')))"],
                            capture_output=True, text=True, check=True, cwd=ROOT, timeout=60).stdout
    assert loaded.strip() == "[]"
