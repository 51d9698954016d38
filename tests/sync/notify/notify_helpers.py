"""What the notify tests share: the configuration, the two members and logging one in on a test client.

The member's login is put in the session the way sso/wikimedia.py's callback leaves it (the
`sub`, the login time and the account's session generation), so the page sees a member exactly
as after a real Wikimedia login; tests/browser/test_notify_browser.py logs in through the
Wikimedia double instead.
"""

from __future__ import annotations

import time

from bridge import config
from sso import accounts, sessions, wikimedia

SECRET_KEY = "test-secret-key-0123456789abcdef0123"
PUBLIC_URL = "https://space.example/bridge"
ALICE, BOB = "1001", "1002"  # Alice has a confirmed email address, Bob none


def settings_for(db_url: str, notify: dict | None = None):
    data = {
        "bridge": {"public_url": PUBLIC_URL, "secret_key": SECRET_KEY, "database_url": db_url,
                   "log_format": "console", "log_level": "error"},
        "wikimedia": {"oauth_base_url": "https://meta.wikimedia.org", "client_id": "c", "client_secret": "s"},
        "mediawiki": {"api_url": "https://es.wikipedia.org/w/api.php", "username": "Bot@x", "password": "p"},
    }
    # a mail server is known, so email is a choice for a member with a confirmed address
    data["notify"] = {"email": {"sender": "space@example.org", "smtp": {"host": "127.0.0.1", "port": 2525}},
                      **(notify or {})}
    return config.parse(data, "<notify tests>")


def add_members(engine) -> None:
    accounts.upsert_from_profile(engine, {"sub": int(ALICE), "username": "Alice Example", "email": "alice@example.org",
                                          "confirmed_email": True, "blocked": False, "groups": ["*", "user"]})
    accounts.upsert_from_profile(engine, {"sub": int(BOB), "username": "Bob Example", "email": None,
                                          "confirmed_email": False, "blocked": False, "groups": ["*", "user"]})


def log_in(client, sub: str) -> str:
    """Log `sub` in on this test client; the session's CSRF token."""
    engine = client.application.extensions["space_bridge"]["engine"]
    with client.session_transaction() as sess:
        sess[wikimedia.SESSION_KEY] = sub
        sess[wikimedia.SESSION_LOGIN_AT] = time.time()
        sess[wikimedia.SESSION_GENERATION] = sessions.generation(engine, sub)
        return sessions.csrf_token(sess)
