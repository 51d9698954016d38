"""Start the Wikimedia double (deploy/dev/wikimedia_double) as a real HTTP server process for a
test, drive its admin side, and click through its login and consent pages like a browser.

    with WikimediaDouble(redirect_uri="http://127.0.0.1:8090/oauth/callback") as wm:
        wm.url, wm.client_id, wm.client_secret           # what the bridge's config needs
        wm.set_user("Alice Member", blocked=True)         # admin: change a test user
        resp = browser.get(bridge_url + "/login")         # a requests.Session, following redirects
        resp = wm.complete_login(browser, resp, "Alice Member")   # log in + Allow, back at the bridge

The double picks a free port itself (--port 0) and says where it listens on its first line of
output, so there is no race for a port. Test users are in deploy/dev/wikimedia_double/users.py.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

import requests

from doubles.process import DoubleProcess

REPO = Path(__file__).resolve().parents[2]
DOUBLE_MAIN = REPO / "deploy" / "dev" / "wikimedia_double" / "__main__.py"
sys.path.insert(0, str(REPO / "deploy" / "dev"))
from wikimedia_double.users import DEFAULT_PASSWORD  # noqa: E402


class WikimediaDouble(DoubleProcess):
    name = "Wikimedia double"

    def __init__(self, *, redirect_uri: str | list[str], client_id: str | None = None, client_secret: str | None = None,
                 grants: list[str] | None = None, code_ttl: float | None = None, token_ttl: int | None = None,
                 config: dict | None = None, start_timeout: float = 30.0):
        self.redirect_uris = [redirect_uri] if isinstance(redirect_uri, str) else list(redirect_uri)
        self.client_id = client_id or "space-bridge-test-" + secrets.token_hex(4)
        self.client_secret = client_secret or secrets.token_hex(24)
        self.grants = grants
        self.code_ttl = code_ttl
        self.token_ttl = token_ttl
        super().__init__(config=config, start_timeout=start_timeout)

    # -- process --------------------------------------------------------------------------------
    def command(self) -> list[str]:
        cmd = [sys.executable, str(DOUBLE_MAIN), "--host", "127.0.0.1", "--port", "0",
               "--client-id", self.client_id, "--client-secret", self.client_secret]
        for uri in self.redirect_uris:
            cmd += ["--redirect-uri", uri]
        if self.grants:
            cmd += ["--grants", " ".join(self.grants)]
        if self.code_ttl is not None:
            cmd += ["--code-ttl", str(self.code_ttl)]
        if self.token_ttl is not None:
            cmd += ["--token-ttl", str(self.token_ttl)]
        return cmd

    # -- admin side -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Users back to users.py; codes, tokens and remembered approvals forgotten."""
        self._double("POST", "reset")

    def users(self) -> list[dict]:
        return self._double("GET", "users")["users"]

    def user(self, name_or_sub: str | int) -> dict:
        return self._double("GET", f"users/{name_or_sub}")["user"]

    def set_user(self, name_or_sub: str | int, **changes) -> dict:
        """Change a test user, e.g. set_user("Alice Member", blocked=True, editcount=2)."""
        return self._double("POST", f"users/{name_or_sub}", json=changes)["user"]

    def block(self, name_or_sub: str | int) -> dict:
        return self.set_user(name_or_sub, blocked=True)

    def approvals(self) -> list[dict]:
        return self._double("GET", "approvals")["approvals"]

    def forget_approvals(self) -> None:
        self._double("DELETE", "approvals")

    def expire_codes(self) -> None:
        self._double("POST", "expire_codes")

    def expire_tokens(self) -> None:
        self._double("POST", "expire_tokens")

    def token_requests(self) -> list[dict]:
        """The form of every token request (client_secret left out), oldest first."""
        return self._double("GET", "token_requests")["token_requests"]

    # -- a browser on the double's pages ---------------------------------------------------------
    def is_login_page(self, resp: requests.Response) -> bool:
        return resp.url.startswith(self.url) and "title=Special%3AUserLogin" in resp.url

    def is_consent_page(self, resp: requests.Response) -> bool:
        return resp.url.startswith(self.url) and "title=Special%3AOAuth%2Fapprove" in resp.url

    def log_in(self, browser: requests.Session, resp: requests.Response, username: str,
               password: str = DEFAULT_PASSWORD) -> requests.Response:
        """Submit the login form `resp` shows (following redirects)."""
        assert self.is_login_page(resp), f"not the double's login page: {resp.url}"
        return browser.post(resp.url, data={"wpName": username, "wpPassword": password}, timeout=30)

    def consent(self, browser: requests.Session, resp: requests.Response, allow: bool = True) -> requests.Response:
        """Click Allow (or Cancel) on the consent dialog `resp` shows (following redirects)."""
        assert self.is_consent_page(resp), f"not the double's consent page: {resp.url}"
        button = {"accept": "Allow"} if allow else {"cancel": "Cancel"}
        return browser.post(resp.url, data=button, timeout=30)

    def complete_login(self, browser: requests.Session, resp: requests.Response, username: str,
                       password: str = DEFAULT_PASSWORD, allow: bool = True) -> requests.Response:
        """From wherever the bridge sent the browser: log in if asked, consent if asked."""
        if self.is_login_page(resp):
            resp = self.log_in(browser, resp, username, password)
        if self.is_consent_page(resp):
            resp = self.consent(browser, resp, allow)
        return resp

    def log_out(self, browser: requests.Session) -> None:
        """Forget the double's own login in `browser` (its cookie), not the bridge's."""
        host = urlsplit(self.url).hostname
        for cookie in list(browser.cookies):
            if cookie.name == "wikimedia_double_session" and cookie.domain.lstrip(".") in (host, f"{host}.local"):
                browser.cookies.clear(cookie.domain, cookie.path, cookie.name)
