"""The outbox against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from bridge.config import OutboxSettings
from bridge.outbox import Outbox, PermanentFailure, RetryLater, Worker, backoff_delay
from bridge.store import outbox_jobs, utcnow

FAST = OutboxSettings(max_attempts=3, backoff_base_seconds=10, backoff_max_seconds=40,
                      lease_seconds=30, poll_interval_seconds=0.05, batch_size=5)


@pytest.fixture
def outbox(engine) -> Outbox:
    return Outbox(engine, FAST)


def expire_leases(engine):
    with engine.begin() as conn:
        conn.execute(sa.update(outbox_jobs).values(lease_until=utcnow() - dt.timedelta(seconds=1)))


def make_due(engine):
    with engine.begin() as conn:
        conn.execute(sa.update(outbox_jobs).values(run_after=utcnow() - dt.timedelta(seconds=1)))


def test_same_key_is_one_job_even_after_it_ran(outbox):
    first, created = outbox.enqueue("t.kind", {"n": 1}, key="site:1:2026")
    assert created
    again, created_again = outbox.enqueue("t.kind", {"n": 2}, key="site:1:2026")
    assert (again, created_again) == (first, False)
    [job] = outbox.claim("w1", 10)
    outbox.complete(job, "w1")
    assert outbox.enqueue("t.kind", {"n": 3}, key="site:1:2026") == (first, False)
    assert outbox.counts() == {"pending": 0, "running": 0, "done": 1, "dead": 0}
    assert outbox.get(first).payload == {"n": 1}


def test_platform_text_with_a_nul_is_stored_on_every_database(outbox):
    # PostgreSQL's text and JSON cannot hold U+0000; a forum title or a web hook field may carry one
    job_id, created = outbox.enqueue("t.kind", {"title": "a\x00b", "tags": ["x\x00"], "k\x00": {"n": "\x00"}},
                                     key="site:\x00:1")
    assert created
    job = outbox.get(job_id)
    assert job.payload == {"title": "a\ufffdb", "tags": ["x\ufffd"], "k\ufffd": {"n": "\ufffd"}}
    assert job.key == "site:\ufffd:1"
    assert outbox.enqueue("t.kind", {}, key="site:\x00:1") == (job_id, False)  # the same job, not a second


def test_enqueue_joins_the_callers_transaction(engine, outbox):
    from bridge.outbox import enqueue

    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            enqueue(conn, "t.kind", {}, key="rolled-back")
            raise RuntimeError("the caller's work failed")
    assert outbox.list() == []


def test_many_jobs_in_one_go_are_each_queued_once_and_keep_their_concurrency(engine, outbox):
    from bridge.outbox import enqueue_many

    outbox.enqueue("t.fan", {"n": -1}, key="fan:3")  # queued before: stays as it was
    jobs = [({"n": n}, f"fan:{n}", f"member:{n % 2}") for n in range(7)]
    with engine.begin() as conn:
        assert enqueue_many(conn, "t.fan", jobs, batch=3) == 6
    with engine.begin() as conn:
        assert enqueue_many(conn, "t.fan", jobs, batch=3) == 0  # a retried plan queues nothing new
    listed = {j.key: j for j in outbox.list(limit=20)}
    assert sorted(listed) == [f"fan:{n}" for n in range(7)] and listed["fan:3"].payload == {"n": -1}
    claimed = outbox.claim("w1", 10)
    # one job per member at a time (and the earlier job, which has no concurrency key)
    assert sorted(j.concurrency_key or "" for j in claimed) == ["", "member:0", "member:1"]
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            enqueue_many(conn, "t.fan", [({}, "fan:rolled-back", None)])
            raise RuntimeError("the caller's work failed")
    assert "fan:rolled-back" not in {j.key for j in outbox.list(limit=20)}


def test_claimed_job_is_not_claimed_twice_until_its_lease_expires(engine, outbox):
    job_id, _ = outbox.enqueue("t.kind", {}, key="k")
    [job] = outbox.claim("w1", 10)
    assert (job.id, job.state, job.attempts, job.worker) == (job_id, "running", 1, "w1")
    assert outbox.claim("w2", 10) == []
    expire_leases(engine)
    [again] = outbox.claim("w2", 10)
    assert (again.id, again.attempts, again.worker) == (job_id, 2, "w2")
    # The first worker finishing late must not overwrite the new owner's state.
    assert outbox.complete(job, "w1") is False
    assert outbox.get(job_id).state == "running"
    assert outbox.complete(again, "w2") is True
    assert outbox.get(job_id).state == "done"


def test_renewed_lease_keeps_a_slow_job(engine, outbox):
    outbox.enqueue("t.kind", {}, key="k")
    [job] = outbox.claim("w1", 10)
    expire_leases(engine)
    assert outbox.renew("w1", [job.id]) == 1
    assert outbox.claim("w2", 10) == []


def test_failure_backs_off_exponentially_and_keeps_the_error(outbox):
    job_id, _ = outbox.enqueue("t.kind", {}, key="k")
    [job] = outbox.claim("w", 10)
    before = utcnow()
    assert outbox.fail(job, "w", ValueError("Discourse said no"), rng=random.Random(1)) == "pending"
    stored = outbox.get(job_id)
    assert stored.state == "pending" and stored.attempts == 1
    assert "ValueError: Discourse said no" in stored.last_error
    assert before <= stored.run_after <= before + dt.timedelta(seconds=10.5)
    assert outbox.claim("w", 10) == []  # not due yet


def test_retry_later_is_honoured(outbox):
    job_id, _ = outbox.enqueue("t.kind", {}, key="k")
    [job] = outbox.claim("w", 10)
    before = utcnow()
    outbox.fail(job, "w", RetryLater(120, "429 from Discourse"))
    stored = outbox.get(job_id)
    assert before + dt.timedelta(seconds=119) <= stored.run_after <= before + dt.timedelta(seconds=121)
    assert "429 from Discourse" in stored.last_error


def test_permanent_failure_dead_letters_at_once(outbox):
    job_id, _ = outbox.enqueue("t.kind", {}, key="k")
    [job] = outbox.claim("w", 10)
    assert outbox.fail(job, "w", PermanentFailure("title is too short")) == "dead"
    stored = outbox.get(job_id)
    assert stored.state == "dead" and "title is too short" in stored.last_error


def test_dead_letter_after_max_attempts_then_operator_retry(engine, outbox):
    job_id, _ = outbox.enqueue("t.kind", {}, key="k")
    for attempt in range(1, FAST.max_attempts + 1):
        make_due(engine)
        [job] = outbox.claim("w", 10)
        assert job.attempts == attempt
        outbox.fail(job, "w", ConnectionError(f"refused #{attempt}"))
    stored = outbox.get(job_id)
    assert stored.state == "dead"
    assert "refused #3" in stored.last_error
    assert outbox.retry(all_dead=True) == [job_id]
    [job] = outbox.claim("w", 10)
    assert job.attempts == 1


def test_retry_by_id_ignores_done_and_unknown_jobs(outbox):
    done_id, _ = outbox.enqueue("t.kind", {}, key="done")
    [job] = outbox.claim("w", 10)
    outbox.complete(job, "w")
    assert outbox.retry([done_id, 9999]) == []


def test_job_that_kills_every_worker_is_dead_lettered(engine, outbox):
    job_id, _ = outbox.enqueue("t.kind", {}, key="k")
    for _ in range(FAST.max_attempts):
        expire_leases(engine)
        assert outbox.claim("w", 10)  # each time the worker "dies" holding it
    expire_leases(engine)
    assert outbox.claim("w", 10) == []
    stored = outbox.get(job_id)
    assert stored.state == "dead" and "worker lost" in stored.last_error


def test_jobs_run_in_order_of_due_time(outbox):
    later = utcnow() - dt.timedelta(seconds=5)
    earlier = utcnow() - dt.timedelta(seconds=50)
    a, _ = outbox.enqueue("t.kind", {}, key="a", run_after=later)
    b, _ = outbox.enqueue("t.kind", {}, key="b", run_after=earlier)
    assert [j.id for j in outbox.claim("w", 10)] == [b, a]


def test_worker_threads_run_every_job_exactly_once(outbox):
    ran = Counter()
    lock = threading.Lock()

    def handler(job):
        with lock:
            ran[job.payload["n"]] += 1

    for n in range(200):
        outbox.enqueue("t.count", {"n": n}, key=f"count-{n}")
    worker = Worker(outbox, {"t.count": handler}, threads=4)
    threads = worker.start()
    deadline = utcnow() + dt.timedelta(seconds=30)
    while outbox.counts()["done"] < 200 and utcnow() < deadline:
        threading.Event().wait(0.05)
    worker.stop(threads)
    assert outbox.counts()["done"] == 200
    assert ran == Counter({n: 1 for n in range(200)})


def test_worker_records_handler_errors_and_unknown_kinds(outbox):
    def broken(job):
        raise RuntimeError("wiki is read-only")

    a, _ = outbox.enqueue("t.broken", {}, key="a")
    b, _ = outbox.enqueue("t.nobody-handles-this", {}, key="b")
    Worker(outbox, {"t.broken": broken}).run_once()
    assert "wiki is read-only" in outbox.get(a).last_error
    assert "no handler for job kind 't.nobody-handles-this'" in outbox.get(b).last_error
    assert outbox.get(a).state == outbox.get(b).state == "pending"


def test_stopping_worker_gives_back_jobs_it_had_not_started(outbox):
    for n in range(3):
        outbox.enqueue("t.kind", {}, key=f"k{n}")
    worker = Worker(outbox, {})
    worker.handlers["t.kind"] = lambda job: worker.stopping.set()
    assert worker.run_once() == 1
    states = sorted((j.state, j.attempts) for j in outbox.list())
    assert states == [("done", 1), ("pending", 0), ("pending", 0)]


@pytest.mark.parametrize("attempt", [1, 2, 5, 30])
def test_backoff_is_bounded_and_jittered(attempt):
    rng = random.Random(attempt)
    delays = [backoff_delay(attempt, 2, 3600, rng) for _ in range(200)]
    ceiling = min(3600, 2 * 2 ** (attempt - 1))
    assert all(0 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 150  # spread out, not synchronized


# -- concurrency keys: jobs of one thing (a blog post) run one at a time --------------------
def test_jobs_sharing_a_concurrency_key_are_claimed_one_at_a_time(engine, outbox):
    first, _ = outbox.enqueue("t.post", {"edit": 1}, key="post-7-a", concurrency_key="post:blog:7")
    second, _ = outbox.enqueue("t.post", {"edit": 2}, key="post-7-b", concurrency_key="post:blog:7")
    other, _ = outbox.enqueue("t.post", {"edit": 1}, key="post-8-a", concurrency_key="post:blog:8")
    free, _ = outbox.enqueue("t.other", {}, key="free")
    claimed = outbox.claim("w1", limit=10)
    assert {j.id for j in claimed} == {first, other, free}  # one job of post 7, even in one claim
    assert outbox.claim("w2", limit=10) == []  # the second waits while the first runs
    job = next(j for j in claimed if j.id == first)
    assert job.concurrency_key == "post:blog:7"
    assert outbox.complete(job, "w1")
    assert [j.id for j in outbox.claim("w2", limit=10)] == [second]


def test_a_lost_workers_key_is_free_again_when_its_lease_expires(engine, outbox):
    outbox.enqueue("t.post", {}, key="a", concurrency_key="post:blog:1")
    outbox.enqueue("t.post", {}, key="b", concurrency_key="post:blog:1")
    [lost] = outbox.claim("w1", limit=10)
    expire_leases(engine)  # w1 died holding the key
    again = outbox.claim("w2", limit=10)
    assert [j.id for j in again] == [lost.id]  # the lost job first (it is older), still alone
    assert outbox.claim("w3", limit=10) == []


def test_workers_never_run_two_jobs_of_one_key_at_once(outbox):
    running: Counter = Counter()
    most: Counter = Counter()
    done: list[str] = []
    lock = threading.Lock()

    def handler(job):
        key = job.concurrency_key
        with lock:
            running[key] += 1
            most[key] = max(most[key], running[key])
        threading.Event().wait(0.02)
        with lock:
            running[key] -= 1
            done.append(job.key)

    for n in range(30):
        outbox.enqueue("t.post", {"n": n}, key=f"edit-{n}", concurrency_key=f"post:blog:{n % 3}")
    workers = [Worker(outbox, {"t.post": handler}, threads=3) for _ in range(2)]  # 6 threads, 3 posts
    threads = [w.start() for w in workers]
    deadline = utcnow() + dt.timedelta(seconds=60)
    while outbox.counts()["done"] < 30 and utcnow() < deadline:
        threading.Event().wait(0.05)
    for w, t in zip(workers, threads):
        w.stop(t)
    assert outbox.counts()["done"] == 30 and sorted(done) == sorted(f"edit-{n}" for n in range(30))
    assert set(most.values()) == {1}  # never two at once for any post


def test_a_concurrency_key_is_checked(outbox):
    with pytest.raises(ValueError, match="concurrency key"):
        outbox.enqueue("t.post", {}, key="k", concurrency_key="x" * 256)
