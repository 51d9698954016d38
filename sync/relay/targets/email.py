"""Email from the relay: the scheduled mailing-list digest, and the `email` target kind.

The digest (`relay.digest` in the configuration) is one email per list and period (weekly by
default: `day`, `hour` UTC) listing the posts mirrored to the forum in that period
(`mirror_topics`) and the busiest recent topics by forum replies (Discourse's posts_count),
as multipart/alternative plain text + HTML (Jinja2 templates, messages from bridge/i18n).

The scheduler only enqueues: every few minutes it works out the latest slot (`day` `hour`)
and records one `relay.digest` job per list with the key `digest:{list}:{ISO week of the
slot}` (with interval_days other than 7, `digest:{list}:{slot date}`); the key makes it
idempotent, so a restart, a second scheduler or a catch-up after downtime never sends a
second digest for the same list and period. The job's payload fixes the period
[slot - interval_days, slot), so a retried job sends the same digest (same Message-ID).

The `email` target kind sends each relayed message as its own email through the same SMTP
server (EmailOptions: `to`, an address or list of addresses; `smtp` and `sender`, by default
the digest's). The message: plain text and HTML; title: the subject.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import functools
import hashlib
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import Field

from bridge import i18n
from sync.relay.smtp import SmtpSettings
from sync.relay.targets import TargetKind, TargetOptions

if TYPE_CHECKING:
    import jinja2

    from bridge.outbox import Job, Outbox

# Jinja2, the store and bridge.outbox (metrics) are imported where used: this module is imported
# when the configuration is validated (sync/relay/targets/__init__.py).

log = structlog.get_logger(__name__)

DIGEST_KIND = "relay.digest"
EMAIL_KIND = "email"
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
BUSIEST_LOOKBACK_DAYS = 28  # busiest topics: among those mirrored in the last four weeks
SCHEDULE_CHECK_SECONDS = 600
RETRY_SECONDS = 300.0


# -- the period -------------------------------------------------------------------------------
def latest_slot(digest, now: dt.datetime) -> dt.datetime:
    """The most recent (day, hour) slot at or before `now` (naive UTC)."""
    today = now.replace(minute=0, second=0, microsecond=0, hour=digest.hour)
    back = (today.weekday() - WEEKDAYS.index(digest.day)) % 7
    slot = today - dt.timedelta(days=back)
    if slot > now:
        slot -= dt.timedelta(days=7)
    return slot


def period_key(digest, list_address: str, slot: dt.datetime) -> str:
    if digest.interval_days == 7:
        year, week, _ = slot.isocalendar()
        return f"digest:{list_address.lower()}:{year}-W{week:02d}"
    return f"digest:{list_address.lower()}:{slot.date().isoformat()}"


def enqueue_due(settings, outbox: Outbox, now: dt.datetime | None = None) -> list[tuple[int, bool]]:
    """Record the digest job of the latest slot for every list (idempotent by key)."""
    from bridge.store import utcnow

    digest = settings.relay.digest
    if digest is None:
        return []
    slot = latest_slot(digest, now or utcnow())
    since = slot - dt.timedelta(days=digest.interval_days)
    found = []
    for address in digest.lists:
        key = period_key(digest, address, slot)
        job_id, created = outbox.enqueue(DIGEST_KIND, {"list": address, "since": since.isoformat(),
                                                       "until": slot.isoformat(), "key": key}, key=key)
        if created:
            log.info("relay.digest.enqueued", list=address, key=key, job_id=job_id)
        found.append((job_id, created))
    return found


# -- what goes in ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DigestItem:
    title: str
    url: str
    site: str
    replies: int | None = None


@dataclasses.dataclass(frozen=True)
class Digest:
    since: dt.datetime
    until: dt.datetime
    new_posts: list[DigestItem]
    busiest: list[DigestItem]

    @property
    def empty(self) -> bool:
        return not self.new_posts and not self.busiest


ReplyCounts = Callable[[int], "int | None"]


def discourse_reply_counts(forum) -> ReplyCounts:
    """Replies of a topic: Discourse's posts_count minus the first post (None if gone)."""
    def count(topic_id: int) -> int | None:
        data = forum.topic_data(topic_id)
        if data is None:
            return None
        return max(0, int(data.get("posts_count") or 1) - 1)
    return count


def collect(engine, since: dt.datetime, until: dt.datetime, reply_counts: ReplyCounts | None = None,
            top: int = 5) -> Digest:
    import sqlalchemy as sa

    from bridge.store import mirror_topics, reader

    with reader(engine) as conn:
        rows = conn.execute(
            sa.select(mirror_topics.c.site, mirror_topics.c.topic_id, mirror_topics.c.topic_url,
                      mirror_topics.c.title, mirror_topics.c.created_at)
            .where(mirror_topics.c.listed.is_(True),
                   mirror_topics.c.created_at >= since - dt.timedelta(days=BUSIEST_LOOKBACK_DAYS),
                   mirror_topics.c.created_at < until)
            .order_by(mirror_topics.c.created_at, mirror_topics.c.topic_id)
        ).mappings().all()
    new_posts = [DigestItem(r["title"], r["topic_url"], r["site"]) for r in rows if r["created_at"] >= since]
    busiest: list[DigestItem] = []
    if reply_counts is not None and top:
        counted = []
        for r in rows:
            n = reply_counts(int(r["topic_id"]))
            if n:
                counted.append(DigestItem(r["title"], r["topic_url"], r["site"], n))
        busiest = sorted(counted, key=lambda i: -(i.replies or 0))[:top]
    return Digest(since, until, new_posts, busiest)


# -- rendering -----------------------------------------------------------------------------------
TEXT_TEMPLATE = """\
{{ t("spacebridge-digest-heading", period) }}

{% if digest.new_posts -%}
{{ t("spacebridge-digest-new-posts", digest.new_posts|length) }}
{% for item in digest.new_posts %}
* {{ item.title }}
  {{ item.url }}
{% endfor %}
{% endif -%}
{% if digest.busiest -%}
{{ t("spacebridge-digest-busiest") }}
{% for item in digest.busiest %}
* {{ item.title }} ({{ t("spacebridge-digest-replies", item.replies) }})
  {{ item.url }}
{% endfor %}
{% endif -%}
{% if digest.empty %}{{ t("spacebridge-digest-nothing") }}
{% endif %}
-- 
{{ t("spacebridge-digest-footer", list_address) }}
"""

HTML_TEMPLATE = """\
<!DOCTYPE html>
<html lang="{{ lang }}" dir="{{ dir }}">
<head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body>
<h1>{{ t("spacebridge-digest-heading", period) }}</h1>
{% if digest.new_posts %}
<h2>{{ t("spacebridge-digest-new-posts", digest.new_posts|length) }}</h2>
<ul>
{% for item in digest.new_posts %}  <li><a href="{{ item.url }}">{{ item.title }}</a></li>
{% endfor %}</ul>
{% endif %}
{% if digest.busiest %}
<h2>{{ t("spacebridge-digest-busiest") }}</h2>
<ul>
{% for item in digest.busiest %}  <li><a href="{{ item.url }}">{{ item.title }}</a> ({{ t("spacebridge-digest-replies", item.replies) }})</li>
{% endfor %}</ul>
{% endif %}
{% if digest.empty %}<p>{{ t("spacebridge-digest-nothing") }}</p>{% endif %}
<hr>
<p><small>{{ t("spacebridge-digest-footer", list_address) }}</small></p>
</body>
</html>
"""



@functools.cache
def _digest_templates() -> tuple["jinja2.Template", "jinja2.Template"]:
    import jinja2

    text_env = jinja2.Environment(autoescape=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    html_env = jinja2.Environment(autoescape=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    return text_env.from_string(TEXT_TEMPLATE), html_env.from_string(HTML_TEMPLATE)


def render_digest(digest: Digest, language: str, list_address: str) -> tuple[str, str, str]:
    """(subject, plain text, HTML)."""
    t = i18n.translator(language)
    last_day = digest.until - dt.timedelta(seconds=1)
    period = f"{digest.since.date().isoformat()} – {last_day.date().isoformat()}"
    subject = t("spacebridge-digest-subject", period)
    values = dict(t=t, digest=digest, period=period, list_address=list_address, subject=subject,
                  lang=language, dir=i18n.direction(language))
    text_template, html_template = _digest_templates()
    return subject, text_template.render(**values), html_template.render(**values)


def build_email(*, sender: str, to: str, subject: str, text: str, html: str | None, message_id_seed: str,
                date: dt.datetime | None = None, list_id: str | None = None) -> EmailMessage:
    from bridge.store import utcnow

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime((date or utcnow()).replace(tzinfo=dt.UTC))
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "space-bridge.invalid"
    # The same job always gets the same Message-ID: a resent digest is recognisably the same mail.
    msg["Message-ID"] = f"<{hashlib.sha256(message_id_seed.encode()).hexdigest()[:32]}@{domain}>"
    if list_id:
        msg["List-Id"] = f"<{list_id.replace('@', '.')}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


# -- sending -----------------------------------------------------------------------------------------
def send(smtp_settings, msg: EmailMessage) -> None:
    """Send through the configured server; 4xx and network trouble retry, 5xx is permanent."""
    from bridge.outbox import PermanentFailure, RetryLater

    s = smtp_settings
    try:
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as server:
            if s.starttls:
                server.starttls(context=ssl.create_default_context())  # verifies the certificate
            if s.username:
                server.login(s.username, s.password.get_secret_value() if s.password else "")
            refused = server.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise PermanentFailure(f"SMTP login refused ({exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = {code for code, _ in exc.recipients.values()}
        if all(code >= 500 for code in codes):
            raise PermanentFailure(f"SMTP refused every recipient: {sorted(codes)}") from None
        raise RetryLater(RETRY_SECONDS, f"SMTP recipients deferred: {sorted(codes)}") from None
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise PermanentFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
        raise RetryLater(RETRY_SECONDS, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
    except ssl.SSLCertVerificationError as exc:  # retried: the operator may fix the certificate
        raise RetryLater(RETRY_SECONDS, f"SMTP {s.host}:{s.port}: certificate not trusted: {exc.verify_message}") from None
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise RetryLater(RETRY_SECONDS, f"SMTP {s.host}:{s.port}: {type(exc).__name__}: {exc}") from None
    if refused:
        log.warning("relay.email.partly_refused", refused=sorted(refused))


def digest_handler(settings, engine, reply_counts_factory: Callable[[], ReplyCounts | None] | None = None):
    """The `relay.digest` job: collect, render and send one list's digest for the job's period."""
    from bridge.outbox import PermanentFailure

    def handle(job: Job) -> None:
        digest_settings = settings.relay.digest
        if digest_settings is None:
            raise PermanentFailure("relay.digest is no longer configured")
        payload = job.payload
        since, until = dt.datetime.fromisoformat(payload["since"]), dt.datetime.fromisoformat(payload["until"])
        if reply_counts_factory is not None:
            digest = collect(engine, since, until, reply_counts_factory(), digest_settings.top_topics)
        elif settings.discourse is not None and digest_settings.top_topics:
            from bridge import platforms

            with platforms.discourse(settings) as forum:
                digest = collect(engine, since, until, discourse_reply_counts(forum), digest_settings.top_topics)
        else:
            digest = collect(engine, since, until, None, digest_settings.top_topics)
        subject, text, html = render_digest(digest, digest_settings.language, payload["list"])
        msg = build_email(sender=digest_settings.sender, to=payload["list"], subject=subject, text=text,
                          html=html, message_id_seed=job.key, date=until, list_id=payload["list"])
        send(digest_settings.smtp, msg)
        log.info("relay.digest.sent", list=payload["list"], key=job.key, new_posts=len(digest.new_posts),
                 busiest=len(digest.busiest))
    return handle


def handlers(settings, engine) -> dict[str, Any]:
    if settings.relay.digest is None:
        return {}
    return {DIGEST_KIND: digest_handler(settings, engine)}


def schedule(scheduler, settings, engine) -> None:
    from bridge.outbox import Outbox

    if settings.relay.digest is None:
        return
    outbox = Outbox(engine, settings.outbox)
    scheduler.every(SCHEDULE_CHECK_SECONDS, lambda: enqueue_due(settings, outbox), "relay-digest")


# -- the `email` target kind: each relayed message as its own email ------------------------------
class EmailOptions(TargetOptions):
    to: str | list[str] | None = Field(None, description="address or list of addresses (required)")
    smtp: SmtpSettings | None = Field(None, description="default: relay.digest.smtp")
    sender: str | None = Field(None, description="From: address; default: relay.digest.sender")


TEXT = (
    "{{ summary_plain }}\n"
    "{% if event.excerpt %}\n{{ event.excerpt|oneline }}\n{% endif %}"
    "{% if url %}\n{{ t('spacebridge-relay-read-more') }}: {{ url }}\n{% endif %}"
)
HTML = (
    '<html lang="{{ lang }}" dir="{{ dir }}"><body>'
    "<p>{{ t(key, author, title) }}</p>"
    "{% if event.excerpt %}<blockquote>{{ event.excerpt|oneline }}</blockquote>{% endif %}"
    '{% if url %}<p><a href="{{ url }}">{{ t("spacebridge-relay-read-more") }}</a></p>{% endif %}'
    "</body></html>"
)


def render(event, lang: str, options: EmailOptions):
    from sync.relay import message as shared

    ctx = shared.context(event, lang)
    html = shared.template(HTML, html=True).render(shared.context(event, lang, escape_html=True))
    return shared.Message(text=shared.template(TEXT).render(ctx), html=html, title=ctx["summary_plain"])


class EmailTarget:
    kind = EMAIL_KIND

    def __init__(self, name: str, smtp_settings, sender: str, to: list[str]):
        self.name, self.smtp, self.sender, self.to = name, smtp_settings, sender, to

    def deliver(self, message, event) -> None:
        msg = build_email(sender=self.sender, to=", ".join(self.to),
                          subject=getattr(message, "title", None) or message.text.splitlines()[0][:150],
                          text=message.text, html=getattr(message, "html", None),
                          message_id_seed=f"{self.name}:{getattr(event, 'id', message.text)}")
        send(self.smtp, msg)


def build(settings, target) -> EmailTarget:
    """options.to (address or list); SMTP server and sender from relay.digest unless the target
    sets its own options.smtp / options.sender."""
    options = EmailOptions.of(target.options)
    to = options.to
    to = [to] if isinstance(to, str) else list(to or [])
    if not to:
        raise ValueError(f"relay target {target.name!r}: options.to (email address or list) is required")
    digest = settings.relay.digest if settings is not None else None
    smtp = options.smtp if options.smtp is not None else (digest.smtp if digest else None)
    sender = options.sender or (digest.sender if digest else None)
    if smtp is None or not sender:
        raise ValueError(f"relay target {target.name!r}: needs options.smtp and options.sender "
                         "(or a relay.digest section to take them from)")
    return EmailTarget(target.name, smtp, sender, to)


KIND = TargetKind(name=EMAIL_KIND, options=EmailOptions, render=render, build=build)
