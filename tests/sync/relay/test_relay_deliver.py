
from relay_helpers import drain, event, settings, use_recorder

from bridge.outbox import Outbox
from sync.relay.deliver import DELIVER, deliver_handler, relay
from sync.relay.targets import TARGET_KINDS, Target, factory_for


def _settings(db_url):
    return settings(
        [{"name": "good", "kind": "apprise"}, {"name": "bad", "kind": "apprise"},
         {"name": "mods", "kind": "apprise", "private": True}, {"name": "es", "kind": "apprise", "language": "es"}],
        [{"events": ["*"], "targets": ["good", "bad", "mods", "es"]}],
        database_url=db_url)


def test_one_job_per_target_idempotent_and_failures_isolated(engine, db_url):
    rec = use_recorder()
    s = _settings(db_url)
    e = event()
    jobs = relay(engine, s, e)
    assert [t for t, _, created in jobs] == ["good", "bad", "mods", "es"] and all(c for _, _, c in jobs)
    assert [c for _, _, c in relay(engine, s, e)] == [False, False, False, False]  # same event: no new jobs
    rec.failing["bad"] = "retry"
    outbox = Outbox(engine, s.outbox)
    drain(outbox, deliver_handler(s))
    assert rec.delivered["good"] == [(e.id, rec.delivered["good"][0][1])]
    assert rec.delivered["es"][0][1].startswith("**Alice** inició") or "inició" in rec.delivered["es"][0][1]
    assert "bad" not in rec.delivered
    by_key = {j.key: j for j in outbox.list()}
    assert by_key[f"relay:{e.id}:bad"].state == "dead" and "target down" in by_key[f"relay:{e.id}:bad"].last_error
    assert by_key[f"relay:{e.id}:good"].state == "done"


def test_flag_goes_to_private_target_only(engine, db_url):
    rec = use_recorder()
    s = _settings(db_url)
    relay(engine, s, event(id="discourse:reviewable:1", type="flag.created"))
    drain(Outbox(engine, s.outbox), deliver_handler(s))
    assert list(rec.delivered) == ["mods"]
    # A job queued for a public target (configuration changed since) is refused at delivery too.
    from sync.relay.deliver import enqueue_event  # noqa: F401
    from bridge.outbox import enqueue
    with engine.begin() as conn:
        enqueue(conn, DELIVER, {"event": event(id="f2", type="flag.created").to_dict(), "target": "good"}, "k-f2")
    drain(Outbox(engine, s.outbox), deliver_handler(s))
    assert list(rec.delivered) == ["mods"]


def test_no_rules_no_jobs(engine, db_url):
    s = settings([{"name": "good", "kind": "apprise"}], [], database_url=db_url)
    assert relay(engine, s, event()) == []


def test_registry_interface():
    rec = use_recorder("test-kind")
    assert factory_for("test-kind") is rec and TARGET_KINDS["test-kind"] is rec
    assert isinstance(rec(None, type("T", (), {"name": "x"})()), Target)
    TARGET_KINDS.pop("test-kind")
