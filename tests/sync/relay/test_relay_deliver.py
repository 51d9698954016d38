
import pytest
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


# -- privacy at delivery time ---------------------------------------------------------------
class FakeForum:
    """GET /t/{id}.json and GET /categories.json of a forum whose state a test changes."""

    def __init__(self):
        from bridge.clients.discourse import Category

        self.Category = Category
        self.topics = {1: {"id": 1, "archetype": "regular", "visible": True, "category_id": 5}}
        self.posts = {70: {"id": 70, "topic_id": 1, "post_type": 1, "hidden": False, "deleted_at": None}}
        self.restricted = {5: False}
        self.down = False
        self.reads = 0

    def topic_data(self, topic_id):
        if self.down:
            from bridge.clients.discourse import DiscourseUnavailable

            raise DiscourseUnavailable("forum down", status=502)
        self.reads += 1
        return self.topics.get(topic_id)

    def post_data(self, post_id):
        self.reads += 1
        return self.posts.get(post_id)

    def categories(self):
        return {cid: self.Category(cid, f"Cat {cid}", f"c{cid}", None, None, None, read_restricted=r)
                for cid, r in self.restricted.items()}

    def close(self):
        pass


def test_forum_check_reads_the_forum_again():
    from sync.relay.forum import RECHECK_SECONDS, CategoryMap, ForumCheck

    forum, now = FakeForum(), [0.0]
    check = ForumCheck(None, client_factory=lambda: forum, categories=CategoryMap(forum.categories, 300,
                                                                                     clock=lambda: now[0]),
                       clock=lambda: now[0])
    e = event(topic_id=1, category_id=5)
    assert check.reason(e) is None
    forum.restricted[5] = True  # the category became staff-only after the event was queued
    assert check.reason(e) is None and forum.reads == 1  # within RECHECK_SECONDS: one read for all targets
    now[0] += RECHECK_SECONDS
    assert check.reason(e) == "read-restricted category Cat 5"
    forum.restricted[5] = False
    forum.topics[1]["visible"] = False
    now[0] += RECHECK_SECONDS
    assert check.reason(e) == "unlisted topic"
    reply = event(id="discourse:post:70", type="reply.created", topic_id=1, category_id=5)
    forum.topics[1]["visible"] = True
    now[0] += RECHECK_SECONDS
    assert check.reason(reply) is None
    forum.posts[70]["hidden"] = True  # hidden by flags after it was queued
    now[0] += RECHECK_SECONDS
    assert check.reason(reply) == "hidden post"
    forum.posts.clear()
    now[0] += RECHECK_SECONDS
    assert check.reason(reply) == "the post no longer exists on the forum"
    forum.topics[1].update(visible=True, category_id=6)  # moved to a category the map does not know
    now[0] += RECHECK_SECONDS
    assert check.reason(e) == "unknown category 6"
    del forum.topics[1]
    now[0] += RECHECK_SECONDS
    assert check.reason(e) == "the topic no longer exists on the forum"
    forum.down = True
    now[0] += RECHECK_SECONDS
    from bridge.clients.discourse import DiscourseUnavailable

    with pytest.raises(DiscourseUnavailable):  # retried by the outbox, never published unchecked
        check.reason(e)


def test_withheld_at_delivery_time_is_done_with_a_note_not_dead(engine, db_url):
    rec = use_recorder()
    s = _settings(db_url)
    forum = FakeForum()
    from sync.relay.forum import CategoryMap, ForumCheck

    check = ForumCheck(None, client_factory=lambda: forum, categories=CategoryMap(forum.categories, 0))
    e = event(id="discourse:topic:1", topic_id=1, category_id=5)
    relay(engine, s, e)  # queued while the category was public: every target
    forum.restricted[5] = True
    outbox = Outbox(engine, s.outbox)
    drain(outbox, deliver_handler(s, engine=engine, forum_check=check))
    assert list(rec.delivered) == ["mods"]  # the private target still gets it
    jobs = {j.payload["target"]: j for j in outbox.list()}
    assert {t: j.state for t, j in jobs.items()} == {t: "done" for t in ("good", "bad", "mods", "es")}
    assert jobs["good"].payload["notes"] == ["withheld from public target good: read-restricted category Cat 5"]
    assert "notes" not in jobs["mods"].payload
    # while the forum cannot be asked, nothing goes out: the job waits for another attempt
    rec.reset()
    forum.restricted[5], forum.down = False, True
    relay(engine, s, event(id="discourse:topic:1b", topic_id=1, category_id=5))
    drain(outbox, deliver_handler(s, engine=engine, forum_check=ForumCheck(
        None, client_factory=lambda: forum, categories=CategoryMap(forum.categories, 0))))
    assert list(rec.delivered) == ["mods"]
    dead = [j for j in outbox.list(state="dead")]
    assert sorted(j.payload["target"] for j in dead) == ["bad", "es", "good"]
    assert all("forum down" in j.last_error for j in dead)
