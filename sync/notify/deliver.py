"""Sending: one happening to one member (`notify.deliver`), a member's digest (`notify.digest`),
the welcome note (`notify.welcome`).

A delivery job asks again, when it runs, what the member wants now: a member who unsubscribed
or changed their mind since the plan gets nothing (the job's note says why). Then:

- daily or weekly: the happening waits for the member's digest (notify_pending);
- as it happens, talk page: at most `notify.talk_edits_per_day` sections a UTC day; past the
  cap the happening waits for the member's next digest instead (the daily one);
- as it happens, email: sent at once.

Exactly once: the outbox key is the member and the happening (`notify:<sub>:<id>`), the job
records the key in notify_sent in the transaction that ends its work and looks for it first;
a talk page already holding the happening's marker is never written again (so a crash between
the edit and the record costs nothing), and an email sent again keeps its Message-ID.

A digest is one message (one talk-page section, or one email) for everything waiting, made at
`notify.digest_hour_utc` every day (weekly: on `notify.weekly_digest_weekday`); its job key is
the member and the day, so a scheduler that looks twice makes one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
import structlog

from bridge.outbox import Job, Outbox, PermanentFailure, enqueue
from bridge.store import reader, utcnow
from sync.notify import happenings, ledger, preferences, render, unsubscribe
from sync.notify.channels import EmailChannel, TalkChannel, Undeliverable
from sync.notify.plan import NEW_POSTS, Happening, wants_new_post
from sync.notify.web import SETTINGS_PATH

log = structlog.get_logger(__name__)

DELIVER = "notify.deliver"
DIGEST = "notify.digest"
WELCOME = "notify.welcome"
DIGEST_CHECK_SECONDS = 300


def _marker(key: str) -> str:
    from sync.relay.targets.wiki import marker

    return marker(key)


def _day_start(now: dt.datetime) -> dt.datetime:
    return dt.datetime(now.year, now.month, now.day)


class Sender:
    """The notify jobs' handlers, with one talk channel (one wiki client) per worker process."""

    def __init__(self, settings, engine: sa.Engine, talk: TalkChannel | None = None, email: EmailChannel | None = None,
                 now=utcnow):
        self.settings, self.engine = settings, engine
        self.talk = talk or TalkChannel(settings)
        self.email = email or EmailChannel(settings)
        self.now = now

    def _links(self, sub: str, event: str | None, lang: str) -> tuple[render.Links, dict[str, str]]:
        link, headers = unsubscribe.for_settings(self.settings, sub, event, self.now())
        settings_url = str(self.settings.bridge.public_url).rstrip("/") + SETTINGS_PATH + f"?uselang={lang}"
        return render.Links(settings=settings_url, unsubscribe=link), headers

    def _note(self, job: Job, text: str) -> None:
        log.info("notify.not_sent", key=job.key, reason=text)
        Outbox(self.engine).note(job, [text])

    def _settle(self, key: str, sub: str, kind: str, channel: str) -> None:
        with self.engine.begin() as conn:
            ledger.record(conn, key, sub, kind, channel, self.now())

    def _fold(self, job: Job, sub: str, h: Happening, reason: str, why: str) -> None:
        with self.engine.begin() as conn:
            ledger.add_pending(conn, sub, h.id, reason, happenings.to_dict(h), self.now())
            ledger.record(conn, job.key, sub, "event", "digest", self.now())
        self._note(job, why)

    # -- one happening -------------------------------------------------------------------------------
    def deliver(self, job: Job) -> None:
        p: Mapping[str, Any] = job.payload
        try:
            sub, reason, h = str(p["sub"]), str(p["reason"]), happenings.from_dict(p["happening"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentFailure(f"bad notify.deliver payload: {exc}") from None
        with reader(self.engine) as conn:  # one connection for what the job reads first
            if ledger.was_sent(conn, job.key):
                return
            prefs = preferences.get(conn, sub)
            edits_today = ledger.talk_edits_since(conn, sub, _day_start(self.now())) if prefs.channel == "talk" else 0
        if prefs.channel == "none" or reason not in prefs.events or (
                reason == NEW_POSTS and not wants_new_post(prefs, h)):
            self._settle(job.key, sub, "event", "none")
            return self._note(job, "the member no longer chose it")
        if prefs.frequency != "instant":
            return self._fold(job, sub, h, reason, f"waits for the {prefs.frequency} digest")
        from sso import accounts

        account = accounts.get(self.engine, sub)
        if account is None or account.blocked:
            self._settle(job.key, sub, "event", "none")
            return self._note(job, "no such member" if account is None else "the member's account is blocked")
        lang = prefs.language or "en"
        try:
            if prefs.channel == "talk":
                cap = self.settings.notify.talk_edits_per_day
                if edits_today >= cap:
                    return self._fold(job, sub, h, reason, f"{cap} talk-page edits today already: waits for the digest")
                page = self.talk.page(account.username, prefs.wiki)
                links, _ = self._links(sub, reason, lang)
                message = render.talk(h, reason, lang, links)
                outcome = self.talk.send(page, message, _marker(h.id), render.summary(lang, message.heading),
                                         key=job.key, happening=h.id)
                self._settle(job.key, sub, "event", ledger.TALK_WRITTEN if outcome == "written" else outcome)
                if outcome != "written":
                    self._note(job, f"talk page not written: {outcome}")
            elif prefs.channel == "email":
                to = self._address(account)
                links, headers = self._links(sub, reason, lang)
                self.email.send(to, render.email(h, reason, lang, links), headers, job.key, lang)
                self._settle(job.key, sub, "event", "email")
        except Undeliverable as exc:
            self._settle(job.key, sub, "event", "none")
            return self._note(job, str(exc))
        log.info("notify.sent", key=job.key, channel=prefs.channel, reason=reason)

    def _address(self, account) -> str:
        if not account.email or not account.email_confirmed:
            raise Undeliverable("the member has no confirmed email address")
        return account.email

    # -- digests -------------------------------------------------------------------------------------
    def slot(self, now: dt.datetime) -> dt.datetime | None:
        """Today's digest time, once it has come; else None."""
        at = _day_start(now) + dt.timedelta(hours=self.settings.notify.digest_hour_utc)
        return at if now >= at else None

    def enqueue_digests(self) -> int:
        """Queue today's digest of every member with something waiting (once a day each)."""
        now = self.now()
        at = self.slot(now)
        if at is None:
            return 0
        created = 0
        weekday = self.settings.notify.weekly_digest_weekday
        for sub in ledger.members_waiting(self.engine, at):
            prefs = preferences.get(self.engine, sub)
            if prefs.frequency == "weekly" and at.weekday() != weekday:
                continue
            with self.engine.begin() as conn:
                _, new = enqueue(conn, DIGEST, {"sub": sub, "until": at.isoformat()},
                                 key=f"notify-digest:{sub}:{at.date().isoformat()}"[:255],
                                 concurrency_key=f"notify:{sub}"[:255])
            created += new
        return created

    def digest(self, job: Job) -> None:
        try:
            sub, until = str(job.payload["sub"]), dt.datetime.fromisoformat(job.payload["until"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentFailure(f"bad notify.digest payload: {exc}") from None
        if ledger.was_sent(self.engine, job.key):
            return
        rows = ledger.waiting(self.engine, sub, until)
        if not rows:
            return
        prefs = preferences.get(self.engine, sub)
        items = []
        for row in rows:
            try:
                h = happenings.from_dict(row.happening)
            except ValueError:
                continue
            if row.reason in prefs.events:
                items.append((h, row.reason))
        from sso import accounts

        account = accounts.get(self.engine, sub)
        dropped = None
        if prefs.channel == "none" or not items:
            dropped = "the member no longer chose them"
        elif account is None or account.blocked:
            dropped = "no such member" if account is None else "the member's account is blocked"
        lang = prefs.language or "en"
        channel = prefs.channel
        if dropped is None:
            links, headers = self._links(sub, None, lang)
            try:
                if channel == "talk":
                    page = self.talk.page(account.username, prefs.wiki)
                    message = render.talk_digest(items, lang, links)
                    outcome = self.talk.send(page, message, _marker(job.key), render.summary(lang, message.heading),
                                             key=job.key)
                    channel = "talk-digest" if outcome == "written" else outcome
                else:
                    self.email.send(self._address(account), render.email_digest(items, lang, links), headers,
                                    job.key, lang)
            except Undeliverable as exc:
                dropped = str(exc)
        with self.engine.begin() as conn:
            ledger.settle(conn, [r.id for r in rows], ("dropped:" if dropped else "") + job.key)
            ledger.record(conn, job.key, sub, "digest", "none" if dropped else channel, self.now())
        if dropped:
            return self._note(job, f"digest not sent: {dropped}")
        log.info("notify.digest_sent", key=job.key, items=len(items), channel=prefs.channel)

    # -- the welcome note ----------------------------------------------------------------------------
    def welcome(self, job: Job) -> None:
        sub = str(job.payload.get("sub") or "")
        key = welcome_key(sub)
        if not sub or ledger.was_sent(self.engine, key):
            return
        from sso import accounts

        account = accounts.get(self.engine, sub)
        if account is None or account.blocked:
            return self._note(job, "no such member, or blocked")
        prefs = preferences.get(self.engine, sub)
        lang = prefs.language or "en"
        links, headers = self._links(sub, None, lang)
        try:
            if self.talk.available:
                page = self.talk.page(account.username, None)
                message = render.welcome_talk(lang, links)
                outcome = self.talk.send(page, message, _marker(key), render.summary(lang, message.heading), key=key)
                channel = "talk-welcome" if outcome == "written" else outcome
            elif self.email.available:
                self.email.send(self._address(account), render.welcome_email(lang, links), headers, key, lang)
                channel = "email"
            else:
                raise Undeliverable("neither a wiki nor a mail server is configured")
        except Undeliverable as exc:
            self._settle(key, sub, "welcome", "none")
            return self._note(job, str(exc))
        self._settle(key, sub, "welcome", channel)


def welcome_key(sub: str) -> str:
    return f"notify-welcome:{sub}"[:255]


def on_login(settings, engine: sa.Engine, *, sub: str) -> None:
    """Queue the welcome note of a member who never had one, when the operator enabled it."""
    if not settings.notify.welcome_note or ledger.was_sent(engine, welcome_key(str(sub))):
        return
    with engine.begin() as conn:
        enqueue(conn, WELCOME, {"sub": str(sub)}, key=welcome_key(str(sub)), concurrency_key=f"notify:{sub}"[:255])


def handlers(settings, engine: sa.Engine) -> dict[str, Any]:
    from sync.notify.fanout import PLAN, Planner

    sender = Sender(settings, engine)
    return {PLAN: Planner(settings, engine), DELIVER: sender.deliver, DIGEST: sender.digest,
            WELCOME: sender.welcome}


def schedule(scheduler, settings, engine: sa.Engine) -> None:
    sender = Sender(settings, engine)
    scheduler.every(DIGEST_CHECK_SECONDS, sender.enqueue_digests, "notify-digests")
