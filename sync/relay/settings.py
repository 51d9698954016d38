"""The `relay:` section of space.yaml, owned by the relay and digest features (sync/relay/feature.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from bridge.config import Model, Secret


class RelayTarget(Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: Literal["wiki", "irc", "apprise", "email"]
    private: bool = Field(False, description="moderators only: the only kind that may receive flag events")
    language: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class RelayRule(Model):
    events: list[str] = Field(min_length=1)
    targets: list[str] = Field(min_length=1)
    # A forum category by name ("Announcements", any case) or id (12); a blog category by name.
    categories: list[Annotated[int, Field(ge=1, strict=True)] | Annotated[str, Field(min_length=1, pattern=r"\S")]] = []
    tags: list[str] = []
    languages: list[str] = []
    sites: list[str] = []
    mute: bool = False


class SmtpSettings(Model):
    """The mail server the digest (and `email` targets) send through."""

    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = Field(True, description="STARTTLS before logging in (port 587); false: plain SMTP")
    username: str | None = None
    password: Secret | None = None
    timeout_seconds: float = Field(30, gt=0)


class DigestSettings(Model):
    """A scheduled email of new posts and busiest topics to mailing lists."""

    lists: list[str] = Field(min_length=1, description="list addresses the digest is sent to")
    sender: str = Field(min_length=3, description="From: address")
    smtp: SmtpSettings
    day: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    hour: int = Field(8, ge=0, le=23, description="UTC hour on `day` the digest goes out")
    interval_days: int = Field(7, ge=1, le=31, description="days covered by each digest (7: weekly)")
    language: str = "en"
    top_topics: int = Field(5, ge=0, le=50, description="busiest topics listed (by forum replies)")


class RelaySettings(Model):
    targets: list[RelayTarget] = []
    rules: list[RelayRule] = []
    digest: DigestSettings | None = None
    # How long each process trusts the forum's category map (names, read-restricted) it read.
    category_cache_seconds: float = Field(300, ge=0, le=86400)

    @model_validator(mode="after")
    def _rules_name_known_targets(self) -> "RelaySettings":
        known = {t.name for t in self.targets}
        for i, rule in enumerate(self.rules):
            unknown = [t for t in rule.targets if t not in known]
            if unknown:
                raise ValueError(f"rules[{i}] names unknown target(s): {', '.join(unknown)}")
        return self
