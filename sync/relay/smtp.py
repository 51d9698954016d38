"""The mail server the relay sends through: the digest's (`relay.digest.smtp`), and an `email`
target's own (`options.smtp`, sync/relay/targets/email.py)."""

from __future__ import annotations

from pydantic import Field

from bridge.config import Model, Secret


class SmtpSettings(Model):
    """The mail server the digest (and `email` targets) send through."""

    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = Field(True, description="STARTTLS before logging in (port 587); false: plain SMTP")
    username: str | None = None
    password: Secret | None = None
    timeout_seconds: float = Field(30, gt=0)
