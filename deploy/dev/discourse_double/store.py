"""The double's state: users, API keys, categories, topics, posts, tags, groups, site settings,
web hooks and their deliveries, browser sessions; in memory under one re-entrant lock, and
optionally written to <state dir>/discourse-double.json after every change so a restart of
`make run` keeps the forum's content."""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import threading
import time
import unicodedata
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import usernames

STATE_FILE = "discourse-double.json"
SYSTEM_USER_ID = -1
UNCATEGORIZED_ID = 1

# Defaults of the site settings the double uses, as in Discourse's config/site_settings.yml.
DEFAULT_SITE_SETTINGS: dict[str, Any] = {
    "title": "Discourse double",
    "min_topic_title_length": 15,
    "max_topic_title_length": 255,
    "min_first_post_length": 20,
    "min_post_length": 20,
    "max_post_length": 32000,
    "title_min_entropy": 10,
    "body_min_entropy": 7,
    "unique_posts_mins": 5,
    "allow_duplicate_topic_titles": False,
    "allow_duplicate_topic_titles_category": False,
    "duplicate_topic_titles": "disallowed",  # main-2026 only (PR #41871): profiles.py
    "title_max_word_length": 30,
    "allow_uppercase_posts": False,
    "default_locale": "en",
    "tagging_enabled": True,
    "max_tags_per_topic": 5,
    "max_tag_length": 20,
    "force_lowercase_tags": True,
    "enable_discourse_connect": False,
    "discourse_connect_url": "",
    "discourse_connect_secret": "",
    "discourse_connect_overrides_groups": False,
    "discourse_connect_overrides_avatar": False,
    "discourse_connect_csrf_protection": True,
    "auth_overrides_email": False,
    "auth_overrides_username": False,
    "auth_overrides_name": False,
    "retry_web_hook_events": False,
    "uncategorized_category_id": UNCATEGORIZED_ID,
    "login_required": False,
    # New users' trust level. Discourse's default is 0; the double's is 1, which its tests were
    # written against (set it to 0 to see Discourse's newcomers: tests/deploy/).
    "default_trust_level": 1,
    "embed_unlisted": False,
    "topic_featured_link_enabled": True,  # config/site_settings.yml, posting
    "enable_category_group_moderation": False,  # config/site_settings.yml, groups
    # usernames (usernames.py)
    "unicode_usernames": False,
    "allowed_unicode_username_characters": "",
    "min_username_length": 3,
    "max_username_length": 20,
    "reserved_usernames": "admin|moderator|administrator|mod|sys|system|community|info|you|name|username|user|"
                          "nickname|discourse|discourseorg|discourseforum|support|all|here",
    "here_mention": "here",
    "use_name_for_username_suggestions": True,
    "external_system_avatars_url": "/letter_avatar_proxy/v4/letter/{first_letter}/{color}/{size}.png",
}

# Kinds of the settings above, for PUT /admin/site_settings/{name} (integer values are
# stripped of non-digits as Admin::SiteSettingsController#update does).
def setting_type(name: str, default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "integer"
    return "string"


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{datetime.now(timezone.utc).microsecond // 1000:03d}Z"


def slugify(text: str) -> str:
    """Like Discourse's Slug.for with the default 'ascii' slug generation: 'topic' when nothing is left."""
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    s = re.sub(r"[^a-zA-Z0-9\s-]", "", s).strip().lower()
    s = re.sub(r"[\s-]+", "-", s).strip("-")
    return s[:255] or "topic"


def username_lower(name: str) -> str:
    return usernames.normalize(name)


class Store:
    def __init__(self, state_dir: str | None = None, base_url: str = "http://127.0.0.1:8070"):
        self.lock = threading.RLock()
        self.state_dir = Path(state_dir) if state_dir else None
        self.base_url = base_url.rstrip("/")
        self.violations: deque = deque(maxlen=2000)
        self.notes: deque = deque(maxlen=2000)
        self.sessions: dict[str, dict] = {}  # browser server-session id -> {"nonces": {...}}
        self.auth_tokens: dict[str, int] = {}  # `_t` cookie value -> user id
        self.used_nonces: dict[str, float] = {}
        self.rate: dict = {"max": 60, "window": 60.0}  # max_admin_api_reqs_per_minute
        self.rate_hits: dict[str, deque] = {}
        self.post_memo: dict[str, tuple] = {}  # PostsController#create's 120 s memo of API requests
        self._dirty = False
        self.reset()
        self.load()

    # -- lifecycle --------------------------------------------------------------------------
    def reset(self, keep_keys: bool = False) -> None:
        with self.lock:
            keys = self.data["api_keys"] if keep_keys and hasattr(self, "data") else {}
            self.data: dict = {
                "seq": {"user": 0, "topic": 0, "post": 0, "category": UNCATEGORIZED_ID, "tag": 0, "group": 40,
                        "web_hook": 0, "web_hook_event": 0, "api_key": 0, "post_action": 0, "reviewable": 0},
                "users": {},
                "api_keys": keys,
                "categories": {},
                "topics": {},
                "posts": {},
                "tags": {},
                "groups": {},
                "site_settings": {},
                "web_hooks": {},
                "web_hook_events": [],
                "post_actions": [],
                "reviewables": {},
                "embeds": {},  # embed_url -> topic id (TopicEmbed)
            }
            self.data["users"][SYSTEM_USER_ID] = self._new_user_record(
                SYSTEM_USER_ID, "system", "system", "no_email", admin=True, moderator=True, trust_level=4)
            self.data["categories"][UNCATEGORIZED_ID] = self._category_record(
                UNCATEGORIZED_ID, "Uncategorized", "uncategorized", "0088CC", "FFFFFF", None, position=0)
            self.violations.clear()
            self.notes.clear()
            self.sessions.clear()
            self.auth_tokens.clear()
            self.used_nonces.clear()
            self.rate_hits.clear()
            if hasattr(self, "post_memo"):
                self.post_memo.clear()
            self._dirty = True

    def load(self) -> None:
        if not self.state_dir:
            return
        path = self.state_dir / STATE_FILE
        if not path.is_file():
            return
        raw = json.loads(path.read_text())
        with self.lock:
            for coll in ("users", "categories", "topics", "posts", "groups", "web_hooks", "reviewables"):
                raw[coll] = {int(k): v for k, v in raw.get(coll, {}).items()}
            for k in self.data:
                raw.setdefault(k, self.data[k])
            self.data = raw

    def save(self) -> None:
        if not self.state_dir:
            return
        with self.lock:
            if not self._dirty:
                return
            text = json.dumps(self.data, indent=1, default=str)
            self._dirty = False
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_dir / (STATE_FILE + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.state_dir / STATE_FILE)

    def touch(self) -> None:
        self._dirty = True

    def next_id(self, kind: str) -> int:
        with self.lock:
            self.data["seq"][kind] += 1
            self._dirty = True
            return self.data["seq"][kind]

    # -- site settings ----------------------------------------------------------------------
    def setting(self, name: str) -> Any:
        with self.lock:
            if name in self.data["site_settings"]:
                return self.data["site_settings"][name]
            return DEFAULT_SITE_SETTINGS.get(name)

    def all_settings(self) -> dict:
        with self.lock:
            out = dict(DEFAULT_SITE_SETTINGS)
            out.update(self.data["site_settings"])
            return out

    def set_setting(self, name: str, value: Any) -> None:
        with self.lock:
            self.data["site_settings"][name] = value
            self._dirty = True

    # -- API keys ---------------------------------------------------------------------------
    def add_api_key(self, key: str | None = None, user_id: int | None = SYSTEM_USER_ID, description: str = "") -> dict:
        with self.lock:
            key = key or secrets.token_hex(32)
            rec = {"id": self.next_id("api_key"), "key": key, "user_id": user_id, "description": description,
                   "created_at": now_iso(), "revoked_at": None}
            self.data["api_keys"][key] = rec
            return rec

    def api_key(self, key: str) -> dict | None:
        with self.lock:
            rec = self.data["api_keys"].get(key)
            if rec and not rec.get("revoked_at"):
                return rec
            return None

    # -- users --------------------------------------------------------------------------------
    def _new_user_record(self, uid: int, username: str, name: str | None, email: str, *, admin=False,
                         moderator=False, trust_level=None, active=True) -> dict:
        if trust_level is None:
            trust_level = int(self.setting("default_trust_level"))
        return {
            "id": uid, "username": username, "name": name, "email": email, "admin": admin,
            "moderator": moderator, "trust_level": trust_level, "active": active, "approved": True,
            "created_at": now_iso(), "last_seen_at": None, "last_posted_at": None,
            "suspended_at": None, "suspended_till": None, "suspend_reason": None, "suspended_by_id": None,
            "silenced_till": None, "title": None, "avatar_url": None, "groups": [],
            "external_id": None, "sso": None, "staged": False, "welcome_message_sent": False,
            "bio": None, "website": None, "location": None, "custom_fields": {},
        }

    def user(self, uid: int | None) -> dict | None:
        if uid is None:
            return None
        with self.lock:
            return self.data["users"].get(int(uid))

    def user_by_username(self, username: str | None) -> dict | None:
        if not username:
            return None
        low = username_lower(username)
        with self.lock:
            for u in self.data["users"].values():
                if username_lower(u["username"]) == low:
                    return u
        return None

    def user_by_email(self, email: str | None) -> dict | None:
        if not email:
            return None
        low = email.lower()
        with self.lock:
            for u in self.data["users"].values():
                if (u.get("email") or "").lower() == low:
                    return u
        return None

    def user_by_external_id(self, external_id: str | None) -> dict | None:
        if external_id is None:
            return None
        with self.lock:
            for u in self.data["users"].values():
                if u.get("external_id") is not None and str(u["external_id"]) == str(external_id):
                    return u
        return None

    def suggest_username(self, *inputs: str | None, current_username: str | None = None) -> str:
        """UserNameSuggester.suggest: a valid name from the first usable input, numbered while
        User.username_available? says no (taken by username_lower, or reserved)."""
        def available(name: str) -> bool:
            return not usernames.reserved(name, self.setting) and self.user_by_username(name) is None

        return usernames.suggest(list(inputs), self.setting, available, current_username)

    def username_errors(self, name: str | None) -> list[str]:
        """UsernameValidator under the current site settings (empty: valid)."""
        return usernames.errors(name, self.setting)

    def create_user(self, username: str, name: str | None, email: str, **kw) -> dict:
        with self.lock:
            uid = self.next_id("user")
            rec = self._new_user_record(uid, username, name, email, **kw)
            self.data["users"][uid] = rec
            return rec

    # -- categories ---------------------------------------------------------------------------
    def _category_record(self, cid, name, slug, color, text_color, parent_id, position=None) -> dict:
        return {"id": cid, "name": name, "slug": slug, "color": color, "text_color": text_color,
                "parent_category_id": parent_id, "description": None, "topic_id": None,
                "position": cid if position is None else position, "read_restricted": False,
                "permissions": {"everyone": 1}, "created_at": now_iso()}

    def category(self, cid) -> dict | None:
        try:
            cid = int(cid)
        except (TypeError, ValueError):
            return None
        with self.lock:
            return self.data["categories"].get(cid)

    def add_category(self, name, slug, color, text_color, parent_id) -> dict:
        with self.lock:
            cid = self.next_id("category")
            rec = self._category_record(cid, name, slug, color, text_color, parent_id)
            self.data["categories"][cid] = rec
            return rec

    # -- topics and posts -----------------------------------------------------------------------
    def topic(self, tid) -> dict | None:
        try:
            tid = int(tid)
        except (TypeError, ValueError):
            return None
        with self.lock:
            return self.data["topics"].get(tid)

    def post(self, pid) -> dict | None:
        try:
            pid = int(pid)
        except (TypeError, ValueError):
            return None
        with self.lock:
            return self.data["posts"].get(pid)

    def topic_posts(self, tid: int, include_deleted: bool = False) -> list[dict]:
        with self.lock:
            posts = [p for p in self.data["posts"].values() if p["topic_id"] == tid
                     and (include_deleted or not p.get("deleted_at"))]
        return sorted(posts, key=lambda p: p["post_number"])

    def topic_by_external_id(self, external_id: str) -> dict | None:
        """TopicsController#show_by_external_id: Topic.find_by(external_id:), an exact
        (case-sensitive) match among undeleted topics."""
        with self.lock:
            for t in self.data["topics"].values():
                if t.get("external_id") == str(external_id) and not t.get("deleted_at"):
                    return t
        return None

    def snapshot(self) -> dict:
        with self.lock:
            return copy.deepcopy(self.data)

    # -- browser sessions -----------------------------------------------------------------------
    def new_session(self) -> str:
        sid = secrets.token_hex(16)
        with self.lock:
            self.sessions[sid] = {"nonces": {}, "created": time.time()}
        return sid

    def log_in(self, user_id: int) -> str:
        token = secrets.token_hex(16)
        with self.lock:
            self.auth_tokens[token] = user_id
        return token

    def log_out_user(self, user_id: int) -> int:
        with self.lock:
            gone = [t for t, uid in self.auth_tokens.items() if uid == user_id]
            for t in gone:
                del self.auth_tokens[t]
        return len(gone)
