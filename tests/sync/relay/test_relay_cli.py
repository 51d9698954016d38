import json

from click.testing import CliRunner

from bridge.cli import main


def test_relay_test_shows_targets_and_messages(tmp_path):
    cfg = tmp_path / "space.yaml"
    cfg.write_text(
        "bridge:\n  public_url: http://127.0.0.1:8090\n  secret_key: test-secret-key-0123456789abcdef0123\n"
        f"  database_url: sqlite:///{tmp_path}/b.db\n  state_dir: {tmp_path}/state\n"
        "relay:\n  targets:\n"
        "    - {name: wiki-news, kind: wiki, options: {page: Space/News}}\n"
        "    - {name: irc-pub, kind: irc}\n"
        "    - {name: irc-mods, kind: irc, private: true, language: es}\n"
        "  rules:\n    - {events: ['*'], targets: [wiki-news, irc-pub, irc-mods]}\n")
    ev = tmp_path / "flag.yaml"
    ev.write_text("id: discourse:reviewable:3\ntype: flag.created\nauthor: bo\ntitle: Spam here\n")
    result = CliRunner().invoke(main, ["--config", str(cfg), "relay", "test", str(ev)])
    assert result.exit_code == 0, result.output
    assert "reaches 1 target(s): irc-mods" in result.output
    assert "Nueva denuncia por revisar: Spam here" in result.output
    ev2 = tmp_path / "topic.json"
    ev2.write_text(json.dumps({"id": "t1", "type": "topic.created", "author": "ana", "title": "Hi"}))
    result = CliRunner().invoke(main, ["--config", str(cfg), "relay", "test", str(ev2)])
    assert "reaches 3 target(s)" in result.output and "== wiki-news (wiki, en) ==" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ntype: nope\n")
    result = CliRunner().invoke(main, ["--config", str(cfg), "relay", "test", str(bad)])
    assert result.exit_code == 1 and "unknown event type" in result.output
