"""The `sso:` section of space.yaml: the bridge as DiscourseConnect provider and the re-check.

Owned by the login feature (sso/feature.py), validated with the rest of the file by bridge/config.py.
"""

from __future__ import annotations

import re

import regex
from pydantic import Field, field_validator, model_validator

from bridge.config import Model, check_http_url


class SsoRoleRule(Model):
    """Who gets a role on the forum: members of any of these wiki groups, or these usernames."""

    groups: list[str] = []
    users: list[str] = Field(default_factory=list, description="Wikimedia usernames (or #<central id>)")

    @property
    def empty(self) -> bool:
        return not self.groups and not self.users


class SsoSettings(Model):
    """The bridge as DiscourseConnect provider (sso/provider.py) and the periodic account re-check."""

    # Discourse's own nonce_expiry_time is 10 minutes (lib/discourse_connect_base.rb); a login
    # that takes longer is refused by the bridge as well, before anything is answered.
    nonce_max_age_seconds: int = Field(600, ge=30, le=3600)
    # Answered nonces are refused again for this long (Discourse: used_nonce_expiry_time, 24 h).
    used_nonce_keep_hours: int = Field(24, ge=1, le=24 * 30)
    # Discourse's min_username_length / max_username_length site settings (defaults 3 and 20).
    username_min_length: int = Field(3, ge=1, le=60)
    username_max_length: int = Field(20, ge=3, le=60)
    # Discourse's unicode_usernames, which `discourse setup` sets to match: forum names in the
    # member's script (true) or transliterated to ASCII (false).
    unicode_usernames: bool = True
    # Discourse's allowed_unicode_username_characters (a regular expression; empty: every script),
    # which setup sets to match; other characters are transliterated.
    allowed_unicode_username_characters: str = Field("", max_length=1000)
    # Wiki group -> Discourse group (an existing, non-automatic group).
    discourse_groups: dict[str, str] = {}
    # true: send the full `groups` list (needs Discourse's discourse_connect_overrides_groups);
    # false: add_groups/remove_groups for the mapped groups only.
    discourse_overrides_groups: bool = False
    discourse_admins: SsoRoleRule = SsoRoleRule()
    discourse_moderators: SsoRoleRule = SsoRoleRule()
    # Avatar URL template ({username}: the wiki username, {sub}: the central id); None: no avatar.
    avatar_url: str | None = None
    suppress_welcome_message: bool = False
    # Hours between re-checks of every known account against the wiki (locks and blocks); 0: never.
    recheck_interval_hours: float = Field(24, ge=0)
    # Days a locked or blocked member's forum account is suspended for.
    suspend_days: int = Field(36500, ge=1)

    @field_validator("allowed_unicode_username_characters")
    @classmethod
    def _allowlist(cls, value: str) -> str:
        if re.match(r"^/.*/[imxo]*$", value):  # refused by Discourse's unicode_username_allowlist_validator.rb
            raise ValueError("write the regular expression without surrounding slashes")
        try:
            regex.compile(value)
        except regex.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _lengths(self) -> "SsoSettings":
        if self.username_max_length < self.username_min_length:
            raise ValueError("username_max_length must not be below username_min_length")
        return self

    @field_validator("avatar_url")
    @classmethod
    def _avatar_template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            check_http_url(value.format(username="x", sub="1"))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"not an http(s) URL template with {{username}} or {{sub}}: {exc}") from None
        return value
