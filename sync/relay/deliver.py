"""Delivery of relay events: one outbox job per event x target (kind relay.deliver).

`relay(engine, settings, event)` records the jobs in one transaction (idempotent by key
relay:{event.id}:{target}); the handler renders the message for the target's kind and
language when it runs, and hands it to the target (sync/relay/targets). Each target retries
and dead-letters on its own.

Privacy is checked again when a job runs, because the world may have changed since it was
queued: a private event queued for a target that is public now (configuration changed), or a
forum topic that is no longer public (its category became read-restricted, it was unlisted,
moved or deleted; sync/relay/forum.py reads the forum again) is **withheld**: nothing is
sent, the job ends `done` with a note saying why (`outbox list` shows it) and a
`relay.withheld` warning is logged. Not dead-lettered: there is nothing to repair or retry,
and `outbox retry --all-dead` must never be a way to publish it. When the forum cannot be
asked, the job waits and retries (RetryLater) instead of publishing unchecked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy.engine import Engine

from bridge.config import Settings
from sync.relay.settings import RelayTarget
from bridge.outbox import Handler, Job, Outbox, PermanentFailure, enqueue
from sync.relay import rules
from sync.relay.events import Event
from sync.relay.render import Message, render
from sync.relay.targets import Target, build

log = structlog.get_logger(__name__)

DELIVER = "relay.deliver"


def job_key(event: Event, target: str) -> str:
    return f"relay:{event.id}:{target}"[:255]


def enqueue_event(conn, settings: Settings, event: Event) -> list[tuple[str, int, bool]]:
    """Record the jobs of `event` inside the caller's transaction: [(target, job id, created)]."""
    out = []
    for target in rules.route(settings.relay, event):
        job_id, created = enqueue(conn, DELIVER, {"event": event.to_dict(), "target": target.name},
                                  job_key(event, target.name))
        out.append((target.name, job_id, created))
    return out


def relay(engine: Engine, settings: Settings, event: Event) -> list[tuple[str, int, bool]]:
    """Queue `event` for every target it reaches, in one transaction."""
    if not settings.relay.rules:
        return []
    with engine.begin() as conn:
        jobs = enqueue_event(conn, settings, event)
    if jobs:
        log.info("relay.queued", event_id=event.id, type=event.type, targets=[t for t, _, _ in jobs])
    return jobs


def message_for(target: RelayTarget, event: Event) -> Message:
    return render(event, target.kind, target.language or event.language, target.options)


class TargetPool:
    """One Target object per configured target per process, built on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._targets: dict[str, Target] = {}
        self._lock = threading.Lock()

    def config(self, name: str) -> RelayTarget:
        for t in self.settings.relay.targets:
            if t.name == name:
                return t
        raise PermanentFailure(f"relay target '{name}' is no longer configured")

    def get(self, name: str) -> Target:
        with self._lock:
            target = self._targets.get(name)
            if target is None:
                cfg = self.config(name)
                try:
                    target = build(self.settings, cfg)
                except LookupError as exc:
                    raise PermanentFailure(str(exc)) from None
                self._targets[name] = target
            return target

    def close(self) -> None:
        with self._lock:
            for target in self._targets.values():
                close = getattr(target, "close", None)
                if close:
                    close()
            self._targets.clear()


def withheld_reason(cfg: RelayTarget, event: Event, forum_check: Callable[[], Any]) -> str | None:
    """Why `event` must not go to `cfg` now, or None. Forum events that name a topic are
    checked against the forum again before they go to a public target."""
    if not rules.may_receive(cfg, event):  # configuration changed since the job was queued
        return f"private event ({event.private_reason or event.type})"
    if cfg.private or event.topic_id is None:
        return None
    check = forum_check()
    if check is None:
        return "no forum configured to check the topic against"
    return check.reason(event)


def deliver_handler(settings: Settings, pool: TargetPool | None = None, engine: Engine | None = None,
                    forum_check: Any = None) -> Handler:
    """`engine`: where withheld jobs get their note (without it, the log line only)."""
    pool = pool or TargetPool(settings)
    lock = threading.Lock()
    checks: list = [forum_check]

    def get_check():
        with lock:
            if checks[0] is None and settings.discourse is not None:
                from sync.relay.forum import ForumCheck

                checks[0] = ForumCheck(settings)
            return checks[0]

    def handle(job: Job) -> None:
        payload: dict[str, Any] = job.payload
        try:
            event = Event.from_dict(payload["event"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentFailure(f"bad relay job payload: {exc}") from None
        cfg = pool.config(payload["target"])
        reason = withheld_reason(cfg, event, get_check)
        if reason:
            log.warning("relay.withheld", event_id=event.id, target=cfg.name, reason=reason)
            if engine is not None:
                Outbox(engine).note(job, [f"withheld from {'private' if cfg.private else 'public'} target "
                                          f"{cfg.name}: {reason}"])
            return
        target = pool.get(cfg.name)
        target.deliver(message_for(cfg, event), event)
        log.info("relay.delivered", event_id=event.id, target=cfg.name, kind=cfg.kind)

    handle.pool = pool  # type: ignore[attr-defined]
    return handle


def relay_handlers(settings: Settings, engine: Engine | None = None) -> dict[str, Handler]:
    return {DELIVER: deliver_handler(settings, engine=engine)}
