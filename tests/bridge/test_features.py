"""A third party's feature, installed with pip, is found and run by the shell through its entry point.

tests/bridge/example_feature/ is a distribution of its own; nothing of it is named in bridge/,
sso/, sync/ or the configuration model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import config, features, jobs
from bridge.app import create_app
from bridge.outbox import Worker

EXAMPLE = Path(__file__).parent / "example_feature"
BIN = Path(sys.executable).parent / "space-bridge"


@pytest.fixture(scope="module")
def greeting_dist(pip_install) -> Path:
    """The example feature installed by pip into a folder of its own (as site-packages would hold it)."""
    target = pip_install(EXAMPLE)
    assert (target / "space_bridge_greeting").is_dir()
    return target


@pytest.fixture
def installed(greeting_dist, importable) -> Path:
    return importable(greeting_dist, "space_bridge_greeting")


def with_greeting(settings_file: Path, log_file: Path, **extra) -> Path:
    text = f"greeting:\n  text: Hello\n  log_file: {log_file}\n  every_seconds: 30\n"
    text += "".join(f"  {k}: {v}\n" for k, v in extra.items())
    settings_file.write_text(settings_file.read_text() + text)
    return settings_file


def run_cli(settings_file: Path, *args: str, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([str(BIN), "--config", str(settings_file), *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_the_feature_is_found_only_once_installed(installed, settings_file, tmp_path):
    assert "greeting" in [f.name for f in features.installed()]
    settings = config.load(with_greeting(settings_file, tmp_path / "greetings.txt"))
    assert settings.greeting.text == "Hello" and settings.greeting.every_seconds == 30
    assert "greeting" in [f.name for f in features.enabled(settings)]


def test_without_the_distribution_its_section_is_an_unknown_key(settings_file, tmp_path):
    with pytest.raises(config.ConfigError) as err:
        config.load(with_greeting(settings_file, tmp_path / "greetings.txt"))
    assert "greeting: unknown key" in str(err.value)


def test_route_job_and_periodic_job_run_end_to_end(installed, settings_file, engine, tmp_path):
    log_file = tmp_path / "greetings.txt"
    settings = config.load(with_greeting(settings_file, log_file))
    client = create_app(settings, engine).test_client()

    resp = client.post("/greeting", json={"name": "Ada"})
    assert resp.status_code == 202 and resp.json["created"] is True
    assert client.post("/greeting", json={"name": "Ada"}).json["created"] is False  # idempotent key

    kinds = jobs.handlers(settings, engine)
    assert "greeting.write" in kinds
    outbox = create_app(settings, engine).extensions["space_bridge"]["outbox"]
    Worker(outbox, kinds, threads=1).run_once()
    assert log_file.read_text() == "Hello, Ada\n"
    assert outbox.get(resp.json["job"]).state == "done"

    scheduled = []

    class Recorder:
        def every(self, seconds, func, name):
            scheduled.append((name, seconds))

    jobs.schedule(Recorder(), settings, engine)
    assert ("greeting-tick", 30) in scheduled


def test_its_health_check_is_part_of_healthz(installed, settings_file, engine, tmp_path):
    settings = config.load(with_greeting(settings_file, tmp_path / "greetings.txt"))
    resp = create_app(settings, engine).test_client().get("/healthz")
    assert resp.status_code == 200 and resp.json["checks"] == {"greeting.log_file": "writable"}

    broken = config.load(_rewrite(settings_file, tmp_path / "missing" / "g.txt"))
    resp = create_app(broken, engine).test_client().get("/healthz")
    assert resp.status_code == 503 and resp.json["status"] == "error"
    assert "not a writable folder" in resp.json["checks"]["greeting.log_file"]


def _rewrite(settings_file: Path, log_file: Path) -> Path:
    text = settings_file.read_text()
    start = text.index("greeting:\n")
    settings_file.write_text(text[:start] + f"greeting:\n  text: Hello\n  log_file: {log_file}\n")
    return settings_file


def test_a_disabled_feature_adds_no_route_and_no_job_kind(installed, settings_file, engine):
    settings = config.load(settings_file)  # no greeting section
    assert settings.greeting is None
    assert create_app(settings, engine).test_client().post("/greeting", json={"name": "x"}).status_code == 404
    assert "greeting.write" not in jobs.handlers(settings, engine)


def test_its_command_and_its_configuration_errors_through_the_real_cli(installed, settings_file, tmp_path):
    with_greeting(settings_file, tmp_path / "greetings.txt")
    shown = run_cli(settings_file, "greeting", "show", site=installed)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "Hello"
    assert "greeting" in run_cli(settings_file, "--help", site=installed).stdout

    settings_file.write_text(settings_file.read_text().replace("  text: Hello\n", "  textt: Hello\n"))
    checked = run_cli(settings_file, "config", "check", site=installed)
    assert checked.returncode == 1
    assert "greeting.textt: unknown key; did you mean 'text'?" in checked.stderr
    assert "greeting.text: required key is missing" in checked.stderr


def test_a_feature_that_does_not_load_is_named_by_config_check(tmp_path, settings_file):
    site = tmp_path / "site"
    dist = site / "broken_feature-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-feature\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[space_bridge.features]\nbroken = no_such_module:FEATURE\n")
    checked = run_cli(settings_file, "config", "check", site=site)
    assert checked.returncode == 1
    assert "feature entry point 'broken' (no_such_module:FEATURE) does not load" in checked.stderr


def test_it_hears_the_forum_web_hook_another_flow_receives(installed, settings_file, engine, tmp_path):
    """The mirror's receiver publishes each signed delivery; the plug-in hears it without importing sync."""
    import json

    import yaml

    from sync import webhooks

    log_file = tmp_path / "greetings.txt"
    with_greeting(settings_file, log_file)
    data = yaml.safe_load(settings_file.read_text())
    secret = "discourse-webhook-secret-1a2b3c4d5e6f7a8b"
    data["discourse"] = {"url": "http://127.0.0.1:9", "api_key": "discourse-api-key-3c5e7a9b1d2f4e6a8c0b",
                         "connect_secret": "discourse-connect-secret-9e8d7c6b5a4f3e2d", "webhook_secret": secret}
    settings_file.write_text(yaml.safe_dump(data))
    client = create_app(config.load(settings_file), engine).test_client()
    body = json.dumps({"topic": {"id": 7, "title": "Hello"}}).encode()
    headers = {"X-Discourse-Event": "topic_created", "X-Discourse-Event-Type": "topic",
               "Content-Type": "application/json"}

    forged = client.post("/webhooks/discourse", data=body, headers={**headers, webhooks.SIGNATURE_HEADER: "sha256=" + "0" * 64})
    assert forged.status_code == 401
    assert not log_file.exists()  # an unsigned delivery is published to nobody

    signed = client.post("/webhooks/discourse", data=body,
                         headers={**headers, webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret)})
    assert signed.status_code == 200
    assert log_file.read_text() == "forum said topic_created\n"
