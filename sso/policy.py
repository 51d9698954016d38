"""Who may log in: one pure function from a Wikimedia profile and `wikimedia.policy` to a decision.

The rules, in the order they are checked (the first that applies decides):

1. ``blocked`` (when ``deny_blocked``): a blocked account is refused. Hidden (suppressed) users
   always come with ``blocked: true`` and nothing else, so they end here too.
2. ``profile_incomplete``: no central id or no username (an account not attached to a global
   account, or a hidden user when ``deny_blocked`` is off): there is nothing to make an account of.
3. ``deny_list``: the username (or ``#<central id>``) is in ``deny_users``.
4. ``email_missing``: the profile has no email address (the account has none, or the grants
   do not include ``mwoauth-authonlyprivate``). Discourse cannot create an account without one,
   so this is refused even for the allow list.
5. ``allow_list``: the username (or ``#<central id>``) is in ``allow_users``: allowed, skipping
   the email confirmation, edit count and account age rules below. The allow list is for trusted
   people who do not meet activity thresholds (new staff accounts, invited guests); it never
   overrides a block or the deny list, which are explicit decisions about that person.
6. ``email_unconfirmed`` (when ``require_confirmed_email``): the address is not confirmed.
   When the rule is off the member is allowed with ``email_confirmed=False`` recorded, and the
   DiscourseConnect side asks Discourse to confirm the address (``require_activation``).
7. ``edit_count``: fewer edits than ``min_edit_count`` (params: minimum, actual). Mind that the
   profile's ``editcount`` is the *local* count of the wiki serving OAuth (``User::getEditCount()``
   in extension OAuth's UserStatementProvider): edits on meta.wikimedia.org, not across projects.
8. ``account_age``: registered less than ``min_account_age_days`` days ago (params: minimum,
   days). Accounts with no registration date predate MediaWiki's tracking of it (2005), so
   they are old enough.

Usernames are compared the way MediaWiki compares them: underscores and spaces are the same,
runs of them count once, and the first letter is capitalised ("ziko_van_Dijk" is "Ziko van Dijk").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable

from bridge.config import PolicySettings
from sso.profile import Profile

ALLOWED = "ok"
ALLOW_LIST = "allow_list"
BLOCKED = "blocked"
PROFILE_INCOMPLETE = "profile_incomplete"
DENY_LIST = "deny_list"
EMAIL_MISSING = "email_missing"
EMAIL_UNCONFIRMED = "email_unconfirmed"
EDIT_COUNT = "edit_count"
ACCOUNT_AGE = "account_age"

#: every reason a member can be refused for, each with a refusal message in bridge/i18n/
REFUSALS = (BLOCKED, PROFILE_INCOMPLETE, DENY_LIST, EMAIL_MISSING, EMAIL_UNCONFIRMED, EDIT_COUNT, ACCOUNT_AGE)


@dataclasses.dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    #: message parameters for the refusal page ($1, $2, ...)
    params: tuple = ()
    #: allowed with an unconfirmed address: the forum must confirm it (require_activation)
    email_unconfirmed: bool = False


def normalise_username(name: str) -> str:
    """MediaWiki's canonical form of a username (underscores are spaces, first letter upper)."""
    name = re.sub(r"[\s_]+", " ", name).strip()
    return name[:1].upper() + name[1:]


def _listed(profile: Profile, entries: Iterable[str]) -> bool:
    names = {normalise_username(e) for e in entries if not e.strip().startswith("#")}
    ids = {e.strip()[1:].strip() for e in entries if e.strip().startswith("#")}
    if profile.sub and profile.sub in ids:
        return True
    return bool(profile.username) and normalise_username(profile.username) in names


def account_age_days(profile: Profile, now: dt.datetime) -> int | None:
    if profile.registered is None:
        return None
    return (now - profile.registered).days


def evaluate(profile: Profile, policy: PolicySettings, now: dt.datetime | None = None) -> Decision:
    """Decide whether `profile` may log in under `policy`; `now` is naive UTC (default: now)."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    unconfirmed = not profile.confirmed_email

    if policy.deny_blocked and profile.blocked:
        return Decision(False, BLOCKED)
    if not profile.complete:
        return Decision(False, PROFILE_INCOMPLETE)
    if _listed(profile, policy.deny_users):
        return Decision(False, DENY_LIST, (profile.username,))
    if not profile.email:
        return Decision(False, EMAIL_MISSING)
    if _listed(profile, policy.allow_users):
        return Decision(True, ALLOW_LIST, email_unconfirmed=unconfirmed)
    if unconfirmed and policy.require_confirmed_email:
        return Decision(False, EMAIL_UNCONFIRMED)
    if profile.editcount < policy.min_edit_count:
        return Decision(False, EDIT_COUNT, (policy.min_edit_count, profile.editcount))
    age = account_age_days(profile, now)
    if policy.min_account_age_days and age is not None and age < policy.min_account_age_days:
        return Decision(False, ACCOUNT_AGE, (policy.min_account_age_days, max(age, 0)))
    return Decision(True, ALLOWED, email_unconfirmed=unconfirmed)
