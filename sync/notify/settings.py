"""The `notify:` section of space.yaml, owned by the notify feature (sync/notify/feature.py).

It validates from nothing: members' settings are on, nothing is sent to a member who chose
nothing, and the welcome note (one message saying where the settings are) is off until an
operator turns it on. Email is offered to members only when a mail server is known: this
section's `email`, else the relay digest's (`relay.digest.smtp` and `sender`).
"""

from __future__ import annotations

from pydantic import Field

from bridge.config import Model
from sync.relay.smtp import SmtpSettings


class NotifyEmail(Model):
    """Where members' emails leave from; without this section, the relay digest's server and sender."""

    sender: str = Field(min_length=3, description="From: address of members' notifications")
    smtp: SmtpSettings


class NotifySettings(Model):
    enabled: bool = Field(True, description="serve /me/notifications and the unsubscribe links; plan deliveries")
    welcome_note: bool = Field(False, description="send each member one note saying where their settings are")
    talk_edits_per_day: int = Field(3, ge=1, le=1000, description="talk-page edits per member a day; the rest "
                                    "waits for that member's next digest")
    unsubscribe_link_days: int = Field(365, ge=1, le=3650, description="how long an unsubscribe link works")
    digest_hour_utc: int = Field(8, ge=0, le=23, description="hour (UTC) daily and weekly digests are sent")
    weekly_digest_weekday: int = Field(0, ge=0, le=6, description="day of the weekly digest: 0 Monday ... 6 Sunday")
    talk_edits_per_minute: float = Field(10, gt=0, description="pacing of the bridge's talk-page edits for members")
    email: NotifyEmail | None = Field(None, description="mail server and sender (default: relay.digest's)")


def mail(settings) -> tuple[SmtpSettings, str] | None:
    """The mail server and sender of members' emails, or None when none is configured."""
    own = settings.notify.email
    if own is not None:
        return own.smtp, own.sender
    digest = settings.relay.digest if getattr(settings, "relay", None) is not None else None
    return (digest.smtp, digest.sender) if digest is not None else None
