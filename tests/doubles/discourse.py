"""Start the Discourse double (deploy/dev/discourse_double) as a real HTTP server process for a
test, and drive its admin side.

    with DiscourseDouble() as forum:
        client = forum.client()                      # pydiscourse.DiscourseClient as `system`
        forum.set_rate_limit(3, 2)                   # 3 API requests per 2 s, all keys together
        forum.add_webhook("http://127.0.0.1:9999/hook", "a-secret-of-12+", ["post_created"])
        forum.violations()                           # requests Discourse's API description refuses,
                                                     # and parameters Discourse would drop

    DiscourseDouble(profile="stable-2025") behaves like that Discourse release (see the double's
    profiles.py); the default is $DISCOURSE_DOUBLE_PROFILE, else main-2026.

The double picks a free port itself (--port 0) and says where it listens on its first line of
output, so there is no race for a port.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import requests

from doubles.process import DoubleProcess

REPO = Path(__file__).resolve().parents[2]
DOUBLE_MAIN = REPO / "deploy" / "dev" / "discourse_double" / "__main__.py"


class DiscourseDouble(DoubleProcess):
    name = "Discourse double"

    def __init__(self, *, state_dir: str | os.PathLike | None = None, api_key: str | None = None,
                 api_username: str = "system", config: dict | None = None, env: dict | None = None,
                 start_timeout: float = 30.0, profile: str | None = None):
        super().__init__(config=config, env=env, start_timeout=start_timeout)
        self.api_key = api_key or secrets.token_hex(32)
        # which Discourse version the double behaves like (deploy/dev/discourse_double/profiles.py);
        # None: $DISCOURSE_DOUBLE_PROFILE, else the double's default (main-2026)
        self.profile = profile or os.environ.get("DISCOURSE_DOUBLE_PROFILE") or "main-2026"
        self._profile_arg = profile
        self.api_username = api_username
        self.state_dir = str(state_dir) if state_dir else None

    def command(self) -> list[str]:
        cmd = [sys.executable, str(DOUBLE_MAIN), "--host", "127.0.0.1", "--port", "0", "--api-key", self.api_key,
               "--api-username", self.api_username]
        if self.state_dir:
            cmd += ["--state", self.state_dir]
        if self._profile_arg:
            cmd += ["--profile", self._profile_arg]
        return cmd

    # -- HTTP -----------------------------------------------------------------------------------
    @property
    def headers(self) -> dict:
        return {"Api-Key": self.api_key, "Api-Username": self.api_username, "Accept": "application/json"}

    def request(self, method: str, path: str, *, auth: bool = True, **kw) -> requests.Response:
        headers = dict(self.headers if auth else {"Accept": "application/json"})
        headers.update(kw.pop("headers", {}) or {})
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, self.url + path, headers=headers, **kw)

    def client(self, api_username: str | None = None, api_key: str | None = None, timeout: float = 30):
        """A pydiscourse client on the double."""
        from pydiscourse import DiscourseClient

        return DiscourseClient(self.url, api_username=api_username or self.api_username,
                               api_key=api_key or self.api_key, timeout=timeout)

    # -- the double's admin side ----------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything but the API keys (topics, users, settings, hooks, violations)."""
        self._double("POST", "reset")

    def set_rate_limit(self, max_requests: int, window_seconds: float) -> None:
        """The site's one admin API limit, shared by every key (Discourse: admin_api_min,
        max_admin_api_reqs_per_minute, 60 a minute)."""
        self._double("POST", "rate_limit", json={"max": max_requests, "window_seconds": window_seconds})

    def violations(self) -> list[dict]:
        """Requests the double refused because Discourse's API description does not allow them, and
        parameters it dropped as the real controller's strong parameters would (``kind``
        ``dropped_parameter``; deploy/dev/discourse_double/params.py)."""
        return self._double("GET", "violations")["violations"]

    def clear_violations(self) -> None:
        self._double("DELETE", "violations")

    def notes(self) -> list[dict]:
        """Route aliases used, operations the double does not implement, response mismatches."""
        return self._double("GET", "notes")["notes"]

    def create_api_key(self, username: str | None = None, *, all_users: bool = False) -> str:
        body = {"username": username} if username else {"all_users": all_users}
        return self._double("POST", "api_keys", json=body)["key"]

    def set_site_settings(self, **settings) -> None:
        """Through Discourse's own PUT /admin/site_settings/{name}."""
        for name, value in settings.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            r = self.request("PUT", f"/admin/site_settings/{name}", data={name: value})
            if r.status_code != 200:
                raise AssertionError(f"setting {name}: {r.status_code} {r.text}")

    def enable_discourse_connect(self, provider_url: str, secret: str) -> None:
        self.set_site_settings(discourse_connect_url=provider_url, discourse_connect_secret=secret,
                               enable_discourse_connect=True)

    def event_type_ids(self) -> dict[str, int]:
        r = self.request("GET", "/admin/api/web_hooks.json")
        r.raise_for_status()
        return {e["name"]: e["id"] for e in r.json()["extras"]["event_types"]}

    def add_webhook(self, url: str, secret: str = "", events: list[str] | None = None, *, wildcard: bool = False,
                    active: bool = True, content_type: int = 1) -> dict:
        """Create a web hook through Discourse's own POST /admin/api/web_hooks.json; `events` are
        event names (post_created, topic_created, user_created, flag_created, reviewable_created ...)."""
        ids = self.event_type_ids()
        data = {"web_hook[payload_url]": url, "web_hook[secret]": secret,
                "web_hook[content_type]": str(content_type), "web_hook[active]": "true" if active else "false",
                "web_hook[wildcard_web_hook]": "true" if wildcard else "false"}
        pairs = list(data.items()) + [("web_hook[web_hook_event_type_ids][]", str(ids[e])) for e in events or []]
        r = self.request("POST", "/admin/api/web_hooks.json", data=pairs)
        if r.status_code != 200:
            raise AssertionError(f"web hook not created: {r.status_code} {r.text}")
        return r.json()["web_hook"]

    def web_hook_events(self, wait: float = 10.0) -> list[dict]:
        """Every delivery attempt (with its response status), after waiting for queued ones."""
        return self._double("GET", "web_hook_events", params={"wait": wait})["web_hook_events"]

    def wait_for_web_hooks(self, timeout: float = 10.0) -> bool:
        return self._double("GET", "web_hooks/idle", params={"timeout": timeout})["idle"]

    def expire_nonces(self) -> None:
        """Make every DiscourseConnect nonce issued so far older than its 10 minutes."""
        self._double("POST", "expire_nonces")

    def state(self) -> dict:
        return self._double("GET", "state")
