"""The `relay:` section of space.yaml, owned by the relay and digest features (sync/relay/feature.py)."""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from bridge.config import Model, known_keys
from sync.relay import targets as target_kinds
from sync.relay.smtp import SmtpSettings

__all__ = ["DigestSettings", "RelayRule", "RelaySettings", "RelayTarget", "SmtpSettings"]


def _with_hints(exc: ValidationError, model: type[BaseModel]) -> ValidationError:
    """`exc` with every unknown key's message naming the closest known key, if one is close."""
    details = []
    for err in exc.errors():
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(err["loc"][-1]), known_keys(err["loc"], model), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            kind = PydanticCustomError("unknown_key", "unknown key" + hint)
        else:
            kind = PydanticCustomError(err["type"], err["msg"])
        details.append(InitErrorDetails(type=kind, loc=err["loc"], input=err["input"]))
    return ValidationError.from_exception_data(exc.title, details)


class RelayTarget(Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: str = Field(description="an installed kind (sync/relay/targets): wiki, irc, apprise, email, ...")
    private: bool = Field(False, description="moderators only: the only kind that may receive flag events")
    language: str | None = None
    # The kind's options model (validated below): typed attributes, unknown keys refused.
    options: Any = Field(default_factory=dict, validate_default=True)

    @field_validator("kind")
    @classmethod
    def _installed_kind(cls, value: str) -> str:
        target_kinds.kind(value)  # TargetKindError (a ValueError) lists the known kinds
        return value

    @field_validator("options")
    @classmethod
    def _kind_options(cls, value: Any, info: ValidationInfo) -> Any:
        if "kind" not in info.data:  # the kind is wrong: that is the error to report
            return value
        try:
            return target_kinds.options(info.data["kind"], value)
        except ValidationError as exc:
            # pydantic puts the errors' locations under relay.targets[N].options; an unknown key
            # gets the nearest known one as a hint, as bridge/config.py gives everywhere else.
            raise _with_hints(exc, target_kinds.kind(info.data["kind"]).options) from None


class RelayRule(Model):
    events: list[str] = Field(min_length=1)
    targets: list[str] = Field(min_length=1)
    # A forum category by name ("Announcements", any case) or id (12); a blog category by name.
    categories: list[Annotated[int, Field(ge=1, strict=True)] | Annotated[str, Field(min_length=1, pattern=r"\S")]] = []
    tags: list[str] = []
    languages: list[str] = []
    sites: list[str] = []
    mute: bool = False


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
