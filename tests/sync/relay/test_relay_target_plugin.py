"""A third party's relay target kind, installed with pip, is configured, checked and delivered to
through its entry point alone.

tests/sync/relay/example_target/ is a distribution of its own (kind `file`: one line per message
in a local file); nothing of it is named in bridge/, sync/relay/ or the configuration model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from relay_helpers import event

from bridge import config, jobs
from bridge.outbox import Outbox, Worker
from sync.relay import targets
from sync.relay.deliver import DELIVER, relay

EXAMPLE = Path(__file__).parent / "example_target"
BIN = Path(sys.executable).parent / "space-bridge"


@pytest.fixture(scope="module")
def file_target_dist(pip_install) -> Path:
    """The example kind installed by pip into a folder of its own (as site-packages would hold it)."""
    site = pip_install(EXAMPLE)
    assert (site / "space_bridge_file_target").is_dir()
    return site


@pytest.fixture
def installed(file_target_dist, importable) -> Path:
    return importable(file_target_dist, "space_bridge_file_target")


def with_file_target(settings_file: Path, options: str) -> Path:
    settings_file.write_text(settings_file.read_text() + (
        "relay:\n"
        "  targets:\n"
        f"    - {{name: journal, kind: file, options: {options}}}\n"
        "  rules:\n"
        "    - {events: [topic.created], targets: [journal]}\n"))
    return settings_file


def config_check(settings_file: Path, site: Path | None) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"PYTHONPATH": str(site)} if site else {})}
    return subprocess.run([str(BIN), "config", "check", str(settings_file)], capture_output=True, text=True,
                          env=env, timeout=60)


def test_the_kind_is_known_only_once_installed(file_target_dist, settings_file, tmp_path):
    assert "file" not in targets.names()
    path = with_file_target(settings_file, f"{{path: {tmp_path}/journal.txt}}")
    result = config_check(path, site=None)
    assert result.returncode == 1
    assert ("relay.targets[0].kind: unknown relay target kind 'file'; known kinds: apprise, email, irc, wiki"
            in result.stderr)
    result = config_check(path, site=file_target_dist)
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


def test_its_options_are_typed_and_checked(installed, settings_file, tmp_path):
    assert "file" in targets.names()
    settings = config.load(with_file_target(settings_file, f"{{path: {tmp_path}/j.txt, prefix: '> '}}"))
    options = settings.relay.targets[0].options
    assert type(options).__name__ == "FileOptions" and (options.path, options.prefix) == (f"{tmp_path}/j.txt", "> ")


def test_a_misspelt_option_fails_config_check_with_its_key_path(file_target_dist, settings_file, tmp_path):
    result = config_check(with_file_target(settings_file, f"{{pathh: {tmp_path}/journal.txt}}"),
                          site=file_target_dist)
    assert result.returncode == 1
    assert "relay.targets[0].options.pathh: unknown key; did you mean 'path'?" in result.stderr
    assert "relay.targets[0].options.path: required key is missing" in result.stderr


def test_an_event_is_delivered_once_by_the_relay_pipeline_even_when_its_job_runs_twice(
        installed, settings_file, engine, tmp_path):
    journal = tmp_path / "journal.txt"
    settings = config.load(with_file_target(settings_file, f"{{path: {journal}, prefix: '[Space] '}}"))
    e = event(id="discourse:topic:7", title="Hello plug-in")
    [(target, job_id, created)] = relay(engine, settings, e)
    assert (target, created) == ("journal", True)

    outbox = Outbox(engine, settings.outbox)
    handlers = jobs.handlers(settings, engine)  # the shell's job kinds, from the enabled features
    # A worker takes the job, delivers, and is lost before it records the job done ...
    [job] = outbox.claim("lost-worker", 1)
    assert job.kind == DELIVER
    handlers[DELIVER](job)
    assert outbox.get(job_id).state == "running"
    # ... so once the lease runs out another worker runs the same job again.
    time.sleep(settings.outbox.lease_seconds + 0.2)
    assert Worker(outbox, handlers, threads=1, name="t").run_once() == 1
    finished = outbox.get(job_id)
    assert (finished.state, finished.attempts) == ("done", 2), finished.last_error
    assert journal.read_text(encoding="utf-8") == "discourse:topic:7\t[Space] topic.created: Hello plug-in (en)\n"
