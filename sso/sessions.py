"""The login session's limits, checked by the server: its age, and "log out everywhere".

Flask keeps the session in a signed cookie (bridge/app.py), so the server holds nothing per
browser: a copied cookie stays valid for as long as the cookie's own expiry says, and that is
up to whoever holds it. Two checks on every request that reads the session close this:

- age: the login time is in the session, and a login older than
  ``wikimedia.session_max_age_seconds`` (default 7 days) is no login;
- generation: at login the account's ``session_generation`` (table ``accounts``) is copied
  into the session; log-out (POST /logout) increments it, so every cookie issued before, in
  any browser, stops working at its next request.

Also the CSRF token of the bridge's state-changing form (the log-out confirmation): a random
value kept in the session and repeated in the form, compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, MutableMapping
from typing import Any

import sqlalchemy as sa

from bridge.store import accounts, reader

CSRF_KEY = "csrf_token"
#: a login time this far in the future is a forged or clock-broken cookie, not clock skew
MAX_CLOCK_SKEW_SECONDS = 300


def generation(engine: sa.Engine, sub: str) -> int | None:
    """The account's current session generation; None when there is no such account."""
    with reader(engine) as conn:
        return conn.execute(sa.select(accounts.c.session_generation).where(accounts.c.sub == str(sub))).scalar()


def end_all(engine: sa.Engine, sub: str) -> None:
    """Invalidate every session of `sub` issued so far (one atomic increment)."""
    with engine.begin() as conn:
        conn.execute(sa.update(accounts).where(accounts.c.sub == str(sub))
                     .values(session_generation=accounts.c.session_generation + 1))


def login_is_current(login_at: Any, session_generation: Any, current_generation: int | None, *,
                     now: float, max_age: float) -> bool:
    """Whether a session's login (its time and generation) still counts. Pure.

    Values of the wrong type (a cookie from an older bridge version, or anything unexpected)
    count as no login.
    """
    if isinstance(login_at, bool) or not isinstance(login_at, (int, float)):
        return False
    if isinstance(session_generation, bool) or not isinstance(session_generation, int):
        return False
    if current_generation is None or session_generation != current_generation:
        return False
    return now - max_age <= login_at <= now + MAX_CLOCK_SKEW_SECONDS


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """This session's CSRF token, made on first use."""
    token = session.get(CSRF_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def csrf_ok(session: Mapping[str, Any], submitted: Any) -> bool:
    """Whether `submitted` is this session's token (constant time; any text can be submitted)."""
    token = session.get(CSRF_KEY)
    if not isinstance(token, str) or not token or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(token.encode("utf-8"), submitted.encode("utf-8", "surrogatepass"))
