"""Relay target `apprise`: Matrix, Telegram, Discord, Slack, Mattermost, Zulip, email and
many more, each configured by one Apprise URL (https://github.com/caronc/apprise/wiki).

    - name: space-telegram
      kind: apprise
      options:
        url: env:SPACE_TELEGRAM_URL      # e.g. tgram://<bot token>/<chat id>

An Apprise URL usually carries a token or password, so it may be written `env:NAME` (read
from the environment when the target is built) and it is never logged: the bridge names a
target by its configured name and service only, and every record of Apprise's own logger
("Discord POST URL: https://discord.com/api/webhooks/<id>/<token>", ...) has the URL's
secret parts replaced by `[redacted]` before any handler sees it.

Apprise answers a notification with True or False only; why it failed is in what it logged
(`... error=500.`, `A Connection error occurred ...`). The bridge reads those records of the
delivering thread to decide: a 4xx other than 408/425/429 (bad token, unknown chat) can
never succeed and dead-letters the job at once (PermanentFailure); everything else
(5xx, 429, time-outs, connection errors, an unexplained False) is retried with backoff.

options (AppriseOptions): url (literal or env:NAME), retry_seconds (30).

The message: Markdown (Discord, Slack, Mattermost, text-only services) and HTML (Telegram,
Matrix with format=html), member text without mentions of a room; no title, because Apprise
puts a title into each service's own markup unescaped.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import structlog
from pydantic import Field

from sync.relay.targets import TargetKind, TargetOptions

# Apprise and bridge.outbox (metrics) are imported where used: this module is imported when the
# configuration is validated (sync/relay/targets/__init__.py).

log = structlog.get_logger(__name__)

ENV_PREFIX = "env:"
REDACTED = "[redacted]"
_MIN_SECRET = 6  # shorter URL parts (ports, "#a") are not worth masking and would mangle logs
_STATUS = re.compile(r"error=(\d{3})\b")
_TRANSIENT_4XX = {408, 425, 429}
RETRY_SECONDS = 30.0


class AppriseOptions(TargetOptions):
    url: str | None = Field(None, description="the Apprise URL, or env:NAME (read when the target is built)")
    retry_seconds: float = Field(RETRY_SECONDS, ge=0, description="wait before retrying a failed notification")


BODY = (
    "{{ t(key, author|md, '**' ~ (title|md) ~ '**') }}"
    "{% if event.excerpt %}\n\n{{ event.excerpt|md }}{% endif %}"
    "{% if url %}\n\n[{{ t('spacebridge-relay-read-more') }}]({{ url }}){% endif %}"
)
HTML = (
    "<p>{{ t(key, author|chat, title|chat|bold) }}</p>"
    "{% if event.excerpt %}<p>{{ event.excerpt|chat }}</p>{% endif %}"
    '{% if url %}<p><a href="{{ url }}">{{ t("spacebridge-relay-read-more") }}</a></p>{% endif %}'
)


def render(event, lang: str, options: AppriseOptions):
    from sync.relay import message as shared

    html = shared.template(HTML, html=True).render(shared.context(event, lang, escape_html=True))
    return shared.Message(text=shared.template(BODY).render(shared.context(event, lang)), html=html)


# -- Apprise's logger: scrub secrets from every record, and let a delivery read its own ----
class _AppriseLog(logging.Filter):
    """Filter on the `apprise` logger (all Apprise plugins log through that one logger)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._local = threading.local()

    def add_secrets(self, secrets: set[str]) -> None:
        with self._lock:
            self._secrets |= {s for s in secrets if len(s) >= _MIN_SECRET}

    def scrub(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep it, but with nothing interpolated
            message = str(record.msg)
        record.msg, record.args = self.scrub(message), ()
        captured = getattr(self._local, "records", None)
        if captured is not None:
            captured.append((record.levelno, record.msg))
        return True

    def start(self) -> None:
        self._local.records = []

    def stop(self) -> list[tuple[int, str]]:
        records, self._local.records = getattr(self._local, "records", None) or [], None
        return records


_LOG = _AppriseLog()
_apprise_logger = logging.getLogger("apprise")
_apprise_logger.addFilter(_LOG)
# Apprise's DEBUG records carry full request URLs and payloads; warnings say why a send failed.
if _apprise_logger.level == logging.NOTSET or _apprise_logger.level < logging.WARNING:
    _apprise_logger.setLevel(logging.WARNING)


def url_secrets(url: str) -> set[str]:
    """The parts of an Apprise URL that may be credentials: user, password, host (Telegram's
    bot token is in the host position), path segments and query values, raw and unquoted."""
    found: set[str] = {url}
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    netloc = parts.netloc.rsplit("@", 1)
    if len(netloc) == 2:
        user, _, password = netloc[0].partition(":")
        found |= {user, password}
    host = netloc[-1]
    found.add(host.rsplit(":", 1)[0] if host.count(":") == 1 else host)
    found |= set(parts.path.split("/"))
    found |= {v for _, v in parse_qsl(parts.query, keep_blank_values=False)}
    found |= {unquote(s) for s in list(found)}
    return {s for s in found if s}


def resolve_url(value: Any, target_name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"relay target {target_name!r}: options.url must be an Apprise URL or env:NAME")
    if value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX):]
        resolved = os.environ.get(name, "").strip()
        if not resolved:
            raise ValueError(f"relay target {target_name!r}: environment variable {name} (options.url) "
                             "is unset or empty")
        return resolved
    return value.strip()


def classify(records: list[tuple[int, str]]) -> tuple[bool, str]:
    """(permanent?, reason) from what Apprise logged while failing."""
    warnings = [msg for level, msg in records if level >= logging.WARNING]
    statuses = [int(m.group(1)) for msg in warnings for m in _STATUS.finditer(msg)]
    reason = " / ".join(warnings[-3:]) or "Apprise reported a failure without saying why"
    if statuses:
        status = statuses[-1]
        if 400 <= status < 500 and status not in _TRANSIENT_4XX:
            return True, reason
    return False, reason


class AppriseTarget:
    """One Apprise URL; `deliver` sends one rendered message to it."""

    kind = "apprise"

    def __init__(self, name: str, url: str, retry_seconds: float = RETRY_SECONDS):
        self.name = name
        self.retry_seconds = retry_seconds
        _LOG.add_secrets(url_secrets(url))
        import apprise

        _LOG.start()
        try:
            plugin = apprise.Apprise.instantiate(url)
        finally:
            records = _LOG.stop()
        if plugin is None:
            # Apprise's own words, already scrubbed; never the URL itself.
            detail = "; ".join(msg for _, msg in records[-2:])
            raise ValueError(f"relay target {name!r}: options.url is not a usable Apprise URL"
                             + (f" ({detail})" if detail else ""))
        self.plugin = plugin
        self.service = str(getattr(plugin, "service_name", None) or type(plugin).__name__)

    def deliver(self, message, event) -> None:
        import apprise

        from bridge.outbox import PermanentFailure, RetryLater

        html = getattr(message, "html", None)
        title = getattr(message, "title", None) or ""
        if html and getattr(self.plugin, "notify_format", None) == apprise.NotifyFormat.HTML:
            body, body_format = html, apprise.NotifyFormat.HTML
        else:
            body, body_format = message.text, apprise.NotifyFormat.TEXT
        _LOG.start()
        try:
            ok = self.plugin.notify(body=body, title=title, body_format=body_format)
        except Exception as exc:  # a plugin bug or an unexpected network error: retry
            records = _LOG.stop()
            raise RetryLater(self.retry_seconds, _LOG.scrub(f"{self.service}: {type(exc).__name__}: {exc}")) from None
        else:
            records = _LOG.stop()
        if ok:
            log.info("relay.apprise.sent", target=self.name, service=self.service,
                     relay_event=getattr(event, "id", None))
            return
        permanent, reason = classify(records)
        reason = _LOG.scrub(f"{self.service} ({self.name}): {reason}")
        log.warning("relay.apprise.failed", target=self.name, service=self.service, permanent=permanent,
                    reason=reason)
        if permanent:
            raise PermanentFailure(reason)
        raise RetryLater(self.retry_seconds, reason)


def build(settings, target) -> AppriseTarget:
    """The target from its `options.url` (literal or env:NAME)."""
    options = AppriseOptions.of(target.options)
    url = resolve_url(options.url, target.name)
    return AppriseTarget(target.name, url, options.retry_seconds)


KIND = TargetKind(name="apprise", options=AppriseOptions, render=render, build=build)
