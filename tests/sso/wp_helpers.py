"""Helpers for tests against the real WordPress's Space Bridge mu-plugin (SSO, REST routes).

- `consumer_request(location, secret)`: read the DiscourseConnect request the plugin sent;
- `answer(return_url, fields, secret)`: the signed answer URL a provider redirects to;
- `sso_override(constants)`: write /etc/wordpress/space-bridge-sso.php (the constants the dev
  config includes first) for a block, and remove it afterwards;
- `WpAdmin`: the admin's REST client (Application Password) to create/inspect/delete users;
- `sso_login(wp_url, secret, fields)`: a browser logged in through the plugin's Wikimedia login,
  the provider's answer being `fields` (external_id, email, username, name, ...).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import requests

REPO = Path(__file__).resolve().parents[2]
OVERRIDE = Path(os.environ.get("SPACE_DEV_WP_SSO_OVERRIDE", "/etc/wordpress/space-bridge-sso.php"))


def dev_secret() -> str:
    state = Path(os.environ.get("SPACE_DEV_STATE", REPO / ".dev"))
    return (state / "secrets" / "wordpress_connect_secret").read_text().strip()


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def consumer_request(location: str, secret: str) -> dict:
    """The fields of the plugin's request in a redirect to the provider (signature checked)."""
    q = parse_qs(urlsplit(location).query)
    sso, sig = q["sso"][0], q["sig"][0]
    assert hmac.compare_digest(sign(secret, sso), sig), "the plugin's request is not signed with the secret"
    return dict(parse_qsl(base64.b64decode(sso).decode()))


def answer(return_url: str, fields: dict, secret: str) -> str:
    sso = base64.b64encode(urlencode(fields).encode()).decode()
    sep = "&" if "?" in return_url else "?"
    return f"{return_url}{sep}{urlencode({'sso': sso, 'sig': sign(secret, sso)})}"


# The PHP file never changes (PHP's OPcache in `php -S` re-reads a changed file only after
# opcache.revalidate_freq seconds); the values are in a JSON file beside it, read on each request.
LOADER = """<?php
// Written by a space-bridge test (tests/sso/wp_helpers.py); removed when it ends.
$space_bridge_override = json_decode((string) @file_get_contents(__DIR__ . '/' . basename(__FILE__, '.php') . '.json'), true);
foreach (is_array($space_bridge_override) ? $space_bridge_override : array() as $name => $value) {
    defined($name) || define($name, $value);
}
unset($space_bridge_override);
"""


@contextlib.contextmanager
def sso_override(constants: dict):
    values = OVERRIDE.with_suffix(".json")
    previous = values.read_text() if OVERRIDE.exists() and values.exists() else None  # an enclosing override
    values.write_text(json.dumps({k: str(v) for k, v in constants.items()}))
    values.chmod(0o644)
    if not OVERRIDE.exists() or OVERRIDE.read_text() != LOADER:
        OVERRIDE.write_text(LOADER)
        OVERRIDE.chmod(0o644)
    try:
        yield OVERRIDE
    finally:
        if previous is None:
            OVERRIDE.unlink(missing_ok=True)
            values.unlink(missing_ok=True)
        else:
            values.write_text(previous)


class WpAdmin:
    def __init__(self, stack: dict):
        wp = stack["wordpress"]
        self.stack = stack
        self.url = wp["url"]
        self.s = requests.Session()
        self.s.auth = (wp["admin_user"], wp["app_password"])
        self.created: list[int] = []

    def users(self, **params) -> list[dict]:
        r = self.s.get(f"{self.url}/wp-json/wp/v2/users", params={"context": "edit", "per_page": 100, **params}, timeout=20)
        r.raise_for_status()
        return r.json()

    def by_email(self, email: str) -> dict | None:
        return next((u for u in self.users(search=email) if u["email"] == email), None)

    def create(self, username: str, email: str, roles=("subscriber",)) -> dict:
        r = self.s.post(f"{self.url}/wp-json/wp/v2/users", json={
            "username": username, "email": email, "password": os.urandom(12).hex(), "roles": list(roles)}, timeout=20)
        r.raise_for_status()
        self.created.append(r.json()["id"])
        return r.json()

    def get(self, user_id: int) -> dict:
        r = self.s.get(f"{self.url}/wp-json/wp/v2/users/{user_id}", params={"context": "edit"}, timeout=20)
        r.raise_for_status()
        return r.json()

    def delete(self, user_id: int) -> None:
        self.s.delete(f"{self.url}/wp-json/wp/v2/users/{user_id}", params={"force": "true", "reassign": 1}, timeout=20)

    def cleanup(self) -> None:
        for uid in self.created:
            self.delete(uid)
        self.created.clear()


def sso_login(wp_url: str, secret: str, fields: dict) -> requests.Session:
    browser = requests.Session()
    r = browser.get(f"{wp_url}/wp-login.php", params={"action": "space-bridge-login"}, allow_redirects=False, timeout=20)
    assert r.status_code == 302, r.text[:300]
    request = consumer_request(r.headers["Location"], secret)
    r = browser.get(answer(request["return_sso_url"], {"nonce": request["nonce"], **fields}, secret),
                    allow_redirects=False, timeout=20)
    assert r.status_code == 302 and "space_bridge_error" not in r.headers["Location"], r.headers.get("Location")
    return browser


def logged_in(session: requests.Session, wp_url: str) -> bool:
    r = session.get(f"{wp_url}/wp-admin/profile.php", allow_redirects=False, timeout=20)
    return r.status_code == 200


def user_meta_external_id(stack: dict, user_id: int) -> str | None:
    """space_bridge_external_id of a user, read with WordPress's own CLI-less PHP bootstrap."""
    import subprocess

    code = ("define('WP_USE_THEMES', false); $_SERVER['HTTP_HOST']='127.0.0.1'; "
            "require '/usr/share/wordpress/wp-load.php'; "
            f"echo json_encode(get_user_meta({int(user_id)}, 'space_bridge_external_id', true));")
    out = subprocess.run(["php", "-r", code], capture_output=True, text=True, timeout=60, check=True).stdout
    return json.loads(out.strip().splitlines()[-1]) or None
