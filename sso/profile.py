"""The member's Wikimedia profile, as the OAuth 2.0 resource endpoint gives it.

`GET {base}/w/rest.php/oauth2/resource/profile` with the access token answers JSON built by
extension OAuth's `UserStatementProvider::getUserProfile()` (src/UserStatementProvider.php,
served by src/Rest/Handler/Resource.php):

- `sub`: the *central* user id (`Utils::getCentralIdFromLocalUser()`, src/Backend/Utils.php):
  a JSON integer on Wikimedia wikis (CentralAuth's global id, the same on every wiki);
  `false` when the local account is not attached to a global one;
- `username`, `editcount` (integer), `confirmed_email` (boolean; newer versions also send the
  same value as `email_verified`), `blocked` (boolean: `getBlock() !== null`), `registered`
  (`User::getRegistration()`: a MediaWiki timestamp "YYYYMMDDHHMMSS" in UTC, or null for
  accounts older than registration tracking), `groups` (effective groups, e.g. "*", "user",
  "autoconfirmed", "sysop"), `rights`, `grants`;
- `realname` and `email` only when the grants include `mwoauth-authonlyprivate` (or a grant
  with the viewmyprivateinfo right); `email` is "" when the account has no address;
- for a *hidden* (suppressed) user only `sub` and `blocked: true`.

`parse_profile` turns that into a `Profile`, tolerating absent fields (they are absent for
hidden users) and refusing only what is not a profile at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any


class ProfileError(ValueError):
    """The answer is not a profile (not a JSON object, or `sub` of the wrong type)."""


@dataclasses.dataclass(frozen=True)
class Profile:
    sub: str | None
    username: str | None
    editcount: int
    confirmed_email: bool
    blocked: bool
    registered: dt.datetime | None
    groups: tuple[str, ...] = ()
    rights: tuple[str, ...] = ()
    grants: tuple[str, ...] = ()
    email: str | None = None
    realname: str | None = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def complete(self) -> bool:
        """A member can only have an account with an id and a name (hidden users have neither)."""
        return bool(self.sub) and bool(self.username)


_MW_TIMESTAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$")


def parse_mw_timestamp(value: Any) -> dt.datetime | None:
    """A MediaWiki timestamp (TS_MW "20150312104500", UTC) or ISO 8601 -> naive UTC datetime."""
    if value in (None, "", False):
        return None
    if not isinstance(value, str):
        raise ProfileError(f"'registered' is not a timestamp: {value!r}")
    m = _MW_TIMESTAMP.match(value.strip())
    try:
        if m:
            return dt.datetime(*(int(p) for p in m.groups()))
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ProfileError(f"'registered' is not a timestamp: {value!r}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    if isinstance(value, Mapping):  # PHP arrays with gaps are encoded as JSON objects
        return tuple(str(v) for v in value.values())
    return ()


def parse_profile(data: Any) -> Profile:
    if not isinstance(data, Mapping):
        raise ProfileError("the profile is not a JSON object")
    sub = data.get("sub")
    if sub is False or sub is None or sub == "" or sub == 0:
        sub = None  # not attached to a central account
    elif isinstance(sub, bool) or not isinstance(sub, (int, str)):
        raise ProfileError(f"'sub' is neither an id nor false: {sub!r}")
    else:
        sub = str(sub)
    username = data.get("username")
    username = username.strip() if isinstance(username, str) and username.strip() else None
    try:
        editcount = int(data.get("editcount") or 0)
    except (TypeError, ValueError):
        raise ProfileError(f"'editcount' is not a number: {data.get('editcount')!r}") from None
    confirmed = data.get("confirmed_email", data.get("email_verified", False))
    email = data.get("email")
    realname = data.get("realname")
    return Profile(
        sub=sub,
        username=username,
        editcount=max(editcount, 0),
        confirmed_email=confirmed is True,
        blocked=data.get("blocked") is not False,  # absent or anything but false: treat as blocked
        registered=parse_mw_timestamp(data.get("registered")),
        groups=_strings(data.get("groups")),
        rights=_strings(data.get("rights")),
        grants=_strings(data.get("grants")),
        email=email.strip() if isinstance(email, str) and email.strip() else None,
        realname=realname.strip() if isinstance(realname, str) and realname.strip() else None,
        raw=dict(data),
    )
