"""`space-bridge doctor`'s runner with fake checks: order, time limits, exit status, --json, secrets;
and the outbox commands on a database that has no schema yet."""

from __future__ import annotations

import json
import threading

import pytest
from click.testing import CliRunner

from bridge import config, doctor, features, store
from bridge.cli import main


def cli(settings_file, *args):
    return CliRunner().invoke(main, ["--config", str(settings_file), *args])


def probe(name, *checks, raises=None, block=None):
    def run():
        if block is not None:
            block.wait()
        if raises is not None:
            raise raises
        return list(checks)

    return doctor.Probe(name, run)


def test_checks_come_in_the_order_of_the_probes_and_a_probe_may_answer_several():
    probes = [probe("a", doctor.ok("a.one"), doctor.warn("a.two", "meh")),
              probe("b", doctor.fail("b", "broken", "fix it")),
              probe("c", doctor.ok("c"))]
    assert [c.name for c in doctor.run(probes)] == ["a.one", "a.two", "b", "c"]


def test_a_hung_probe_is_a_failure_and_the_next_probes_still_run():
    never = threading.Event()
    try:
        results = list(doctor.run([probe("hangs", block=never), probe("after", doctor.ok("after"))], timeout=0.2))
    finally:
        never.set()
    assert [(c.name, c.status) for c in results] == [("hangs", "fail"), ("after", "ok")]
    assert "no answer within 0.2 s" in results[0].detail and results[0].hint


def test_a_probe_that_raises_is_one_failed_line_with_the_error():
    [check] = doctor.run([probe("boom", raises=ConnectionError("refused by 10.0.0.1\nsecond line"))])
    assert check.status == "fail" and check.detail == "ConnectionError: refused by 10.0.0.1"


def test_exit_status_fails_only_on_a_failure():
    assert doctor.exit_status([doctor.ok("a"), doctor.warn("b", "x")]) == 0
    assert doctor.exit_status([doctor.ok("a"), doctor.fail("b", "x")]) == 1
    with pytest.raises(ValueError):
        doctor.Check("a", "bad")


def test_lines_show_the_hint_of_problems_only():
    assert doctor.ok("db", "fine").line().startswith("ok    db")
    line = doctor.fail("discourse.api_key", "refused", "create an admin key").line()
    assert line.startswith("FAIL  discourse.api_key") and line.endswith("hint: create an admin key")


@pytest.fixture
def fake_probes(monkeypatch):
    chosen: list = []
    monkeypatch.setattr(doctor, "collect", lambda settings, engine=None: list(chosen))
    return chosen


def test_the_command_prints_a_line_per_check_and_exits_1_on_a_failure(settings_file, fake_probes):
    fake_probes += [probe("one", doctor.ok("one", "fine")), probe("two", doctor.fail("two", "broken", "do this"))]
    result = cli(settings_file, "doctor")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("ok    one") and lines[1].startswith("FAIL  two") and "hint: do this" in lines[1]
    assert lines[-1] == "1 ok, 0 warning(s), 1 failure(s)"


def test_warnings_do_not_fail_the_command(settings_file, fake_probes):
    fake_probes += [probe("one", doctor.warn("one", "clock 90 s ahead"))]
    assert cli(settings_file, "doctor").exit_code == 0


def test_json_is_a_list_of_objects(settings_file, fake_probes):
    fake_probes += [probe("one", doctor.ok("one", "fine")), probe("two", doctor.fail("two", "broken", "do this"))]
    result = cli(settings_file, "doctor", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output) == [
        {"name": "one", "status": "ok", "detail": "fine", "hint": ""},
        {"name": "two", "status": "fail", "detail": "broken", "hint": "do this"}]


def test_the_timeout_option_bounds_every_check(settings_file, fake_probes):
    never = threading.Event()
    fake_probes += [probe("hangs", block=never)]
    try:
        result = cli(settings_file, "doctor", "--timeout", "0.2")
    finally:
        never.set()
    assert result.exit_code == 1 and "no answer within 0.2 s" in result.output


def test_secrets_of_the_configuration_never_reach_the_output(settings_file, fake_probes):
    secret = config.load(settings_file).bridge.secret_key.get_secret_value()
    fake_probes += [probe("leaky", raises=RuntimeError(f"login with {secret} refused"))]
    result = cli(settings_file, "doctor", "--json")
    assert secret not in result.output and "[secret]" in result.output


def test_the_shell_checks_the_database_and_its_schema(settings_file):
    before = cli(settings_file, "doctor", "--json")
    assert before.exit_code == 1
    checks = {c["name"]: c for c in json.loads(before.output)}
    assert checks["database"]["status"] == "ok"
    assert checks["database.schema"]["status"] == "fail"
    assert checks["database.schema"]["hint"] == "run `space-bridge db upgrade`"
    assert cli(settings_file, "db", "upgrade").exit_code == 0
    after = {c["name"]: c for c in json.loads(cli(settings_file, "doctor", "--json").output)}
    assert after["database.schema"]["status"] == "ok"


def test_an_unreachable_database_is_a_failure_with_a_hint(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("bridge:\n  public_url: http://127.0.0.1:8090\n  secret_key: test-secret-key-0123456789abcdef0123\n"
                    "  database_url: postgresql://nobody:wrong@127.0.0.1:9/none\n"
                    f"  state_dir: {tmp_path}/state\n")
    checks = {c.name: c for c in doctor.run(doctor.shell_probes(config.load(path)), timeout=20)}
    assert checks["database"].status == "fail" and "bridge.database_url" in checks["database"].hint
    assert checks["database.schema"].status == "fail"


def test_features_contribute_probes_and_a_broken_one_is_a_failed_line(settings_file, monkeypatch):
    def broken(settings):
        raise RuntimeError("bug")

    fakes = [features.Feature("good", checks=lambda s: [probe("good", doctor.ok("good"))]),
             features.Feature("bad", checks=broken), features.Feature("none")]
    monkeypatch.setattr(features, "enabled", lambda settings: fakes)
    settings = config.load(settings_file)
    names = [c.name for c in doctor.run(doctor.collect(settings))]
    assert names == ["database", "database.schema", "good", "bad"]


@pytest.mark.parametrize("args", [["outbox", "list"], ["outbox", "probe"], ["outbox", "retry", "--all-dead"]])
def test_outbox_commands_on_an_unmigrated_database_say_what_to_run(settings_file, args):
    result = cli(settings_file, *args)
    assert result.exit_code == 1
    assert "the database has no schema yet: run `space-bridge db upgrade`" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    engine = store.make_engine(config.load(settings_file).bridge.database_url)
    assert store.current_revision(engine) is None  # nothing was created behind the operator's back
