"""The Discourse client: the operations the bridge needs on one forum, results as models."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from bridge.clients.discourse.errors import DiscourseError, DiscourseValidationError, EmailTaken, NotFound
from bridge.clients.discourse.models import (Category, Group, Post, SiteSetting, Topic, User, WebHook,
                                             WebHookEventType, WebHooks)
from bridge.clients.discourse.pydiscourse_adapter import form_bool
from bridge.clients.discourse.transport import DiscourseTransport

__all__ = ["DiscourseClient", "topic_id_from_location"]


class DiscourseClient(DiscourseTransport):
    """The operations the bridge needs on one Discourse forum.

    ``api_key`` should be a global ("all users") admin key: topics are created as their
    authors through the ``Api-Username`` header. ``connect_secret`` (the DiscourseConnect
    secret) is needed for :meth:`sync_sso` only.
    """

    _categories: dict[str, Category] | None = None  # slug -> category, once listed

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # threads that need a category before the first listing wait for one listing
        self._categories_lock = threading.Lock()

    # -- helpers -----------------------------------------------------------------------------
    def _category_id(self, category: int | str | None) -> int | None:
        if category is None or isinstance(category, int):
            return category
        found = self.category_by_slug(category)
        if found is None:
            raise NotFound(f"no Discourse category with the slug '{category}'", operation="list_categories")
        return found.id

    # -- account -----------------------------------------------------------------------------
    def whoami(self) -> User:
        """The API user (checks the key and username work)."""
        data = self._api._get(f"/u/{quote(self.api_username, safe='')}.json")
        return User.from_json(data["user"])

    # -- topics and posts --------------------------------------------------------------------
    def create_topic(self, title: str, raw: str, *, category: int | str | None = None,
                     tags: Iterable[str] | None = None, external_id: str | None = None,
                     embed_url: str | None = None, username: str | None = None,
                     created_at: datetime | str | None = None) -> Post:
        """Create a topic (its first post) as `username` (default: the API user).

        `category` is an id or a slug. Posted as the API user, the tags ride in the create
        (PostsController#create permits ``tags``; TopicCreator#setup_tags applies them): one
        request. Posted as another user, they are set by a second request as the API user
        (``PUT /t/-/{id}``): a member who may not tag would have the whole topic refused
        (lib/topic_creator.rb: ``unable_to_tag``), and only staff may create a tag the forum
        lacks. A topic with an `external_id` is safe to retry: if an earlier attempt of this
        call created it, that topic's first post is returned.
        """
        category_id = self._category_id(category)
        if isinstance(created_at, datetime):
            created_at = created_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        fields: dict[str, Any] = {k: v for k, v in {"external_id": external_id, "embed_url": embed_url,
                                                     "created_at": created_at}.items() if v is not None}
        tags = [t for t in tags or () if t]
        as_api_user = username is None or username.lower() == self.api_username.lower()
        if tags and as_api_user:
            fields["tags"] = tags  # sent as tags[] (pydiscourse), an array as Rails reads it
        try:
            with self._options(username=username, retry_unsafe=external_id is not None) as opts:
                data = self._api.create_post(raw, category_id=category_id, title=title, **fields)
        except DiscourseValidationError as exc:
            # Only when an earlier attempt of this very call may have gone through: Discourse
            # then refuses the repeat with "External has already been taken".
            if not (external_id and opts.maybe_applied and any("External" in e and "taken" in e for e in exc.errors)):
                raise
            topic = self.get_topic_by_external_id(external_id)
            first = self.get_post(topic.first_post_id) if topic and topic.first_post_id else None
            if first is None:
                raise
            post = first
        else:
            post = Post.from_json(data, self.url)
        if tags and not as_api_user:
            self.update_topic(post.topic_id, tags=tags)
        return post

    def create_reply(self, topic_id: int, raw: str, *, username: str | None = None,
                     reply_to_post_number: int | None = None) -> Post:
        with self._options(username=username):
            data = self._api.create_post(raw, topic_id=int(topic_id), reply_to_post_number=reply_to_post_number)
        return Post.from_json(data, self.url)

    def topic_data(self, topic_id: int) -> dict | None:
        """The topic as Discourse serialises it (GET /t/{id}.json, with its post_stream), or None."""
        try:
            return self._api.topic_by_id(int(topic_id))
        except NotFound:
            return None

    def get_topic(self, topic_id: int) -> Topic | None:
        data = self.topic_data(topic_id)
        return Topic.from_json(data, self.url) if data is not None else None

    def get_topic_by_external_id(self, external_id: str) -> Topic | None:
        """The topic created with this external id, or None. Discourse answers with a redirect
        to the topic (TopicsController#show_by_external_id); the topic is then read by id."""
        path = f"/t/external_id/{quote(str(external_id), safe='')}.json"
        resp = self._call("GET", path, raw=True)
        if resp.status_code == 404:
            return None
        if resp.status_code in (301, 302, 303, 307, 308):
            topic_id = topic_id_from_location(resp.headers.get("Location", ""))
            if topic_id is None:
                raise DiscourseError(f"Discourse GET {path}: redirect to an unexpected place",
                                     status=resp.status_code, operation="get_topic_by_external_id")
            return self.get_topic(topic_id)
        data = self._decode(resp, "get_topic_by_external_id", f"Discourse GET {path}")
        return Topic.from_json(data, self.url)

    def topic_posts(self, topic_id: int, post_ids: Iterable[int]) -> list[dict]:
        """Posts of a topic by id, as GET /t/{id}.json serialises them, in one request per 50
        (TopicsController#posts with `post_ids[]`, what Discourse's own client loads a long
        topic's stream with); posts the API user may not see are left out."""
        ids = [int(i) for i in post_ids]
        found: list[dict] = []
        for start in range(0, len(ids), 50):
            data = self._call("GET", f"/t/{int(topic_id)}/posts.json",
                              params={"post_ids[]": ids[start:start + 50]}) or {}
            found += [p for p in (data.get("post_stream") or {}).get("posts") or [] if isinstance(p, dict)]
        return found

    def latest_topics(self, page: int = 0) -> tuple[list[dict], bool]:
        """One page of the listed topics, most recently active first (GET /latest.json,
        ListController#latest; TopicQuery pages by `page` from 0) and whether more pages follow
        (TopicListSerializer's `more_topics_url`)."""
        data = self._call("GET", "/latest.json", params={"page": int(page)} if page else None) or {}
        listing = data.get("topic_list") or {}
        topics = [t for t in listing.get("topics") or [] if isinstance(t, dict) and isinstance(t.get("id"), int)]
        return topics, bool(listing.get("more_topics_url"))

    def post_data(self, post_id: int) -> dict | None:
        """The post as Discourse serialises it (GET /posts/{id}.json), or None."""
        try:
            return self._api.post_by_id(int(post_id))
        except NotFound:
            return None

    def get_post(self, post_id: int) -> Post | None:
        data = self.post_data(post_id)
        return Post.from_json(data, self.url) if data is not None else None

    def update_post(self, post_id: int, raw: str, *, edit_reason: str | None = None) -> Post:
        data = self._api.update_post(int(post_id), raw, edit_reason=edit_reason or "")
        return Post.from_json(data["post"], self.url)

    def update_first_post(self, topic_id: int, raw: str, *, edit_reason: str | None = None) -> Post:
        topic = self.get_topic(topic_id)
        if topic is None or topic.first_post_id is None:
            raise NotFound(f"no topic {topic_id} (or it has no first post)", operation="get_topic")
        return self.update_post(topic.first_post_id, raw, edit_reason=edit_reason)

    def update_topic(self, topic_id: int, *, title: str | None = None, category: int | str | None = None,
                     tags: Iterable[str] | None = None) -> None:
        """Change a topic's title, category and/or tags (None: leave as is; ``tags=[]``
        removes every tag)."""
        fields: dict[str, Any] = {}
        if category is not None:
            fields["category_id"] = self._category_id(category)
        if tags is not None:
            fields["tags[]"] = list(tags) or [""]  # Rails reads `tags[]=` as "no tags"
        if title is None and not fields:
            return
        self._api.update_topic(f"/t/-/{int(topic_id)}.json", title, **fields)

    def set_visible(self, topic_id: int, visible: bool) -> None:
        """List (True) or unlist (False) a topic."""
        self._api.update_topic_status(int(topic_id), "visible", visible)

    # -- categories --------------------------------------------------------------------------
    def categories(self) -> list[Category]:
        """Every category, subcategories included."""
        out: list[Category] = []
        for c in self._api.categories(include_subcategories="true"):
            out.append(Category.from_json(c))
            for sub in c.get("subcategory_list") or []:
                out.append(Category.from_json(sub))
        self._categories = {c.slug: c for c in out}
        return out

    def category_tree(self) -> dict[int, Category]:
        """Every category the API user may see, by id, each with its parent and whether it is
        read-restricted (GET /categories.json, nested ``subcategory_list`` walked to any depth:
        the documented list item lacks ``parent_category_id``, the nesting gives it)."""
        found: dict[int, Category] = {}

        def walk(items: Any, parent_id: int | None) -> None:
            for c in items or []:
                if isinstance(c, Mapping) and "id" in c:
                    cat = Category.from_json(c, parent_id)
                    if cat.parent_category_id is not None or cat.id not in found:
                        found[cat.id] = cat
                    walk(c.get("subcategory_list"), cat.id)

        walk(self._api.categories(include_subcategories="true"), None)
        return found

    def category_by_slug(self, slug: str) -> Category | None:
        with self._categories_lock:
            if self._categories is None or slug not in self._categories:
                self.categories()
            return (self._categories or {}).get(slug)

    def create_category(self, name: str, *, slug: str | None = None, color: str = "0088CC",
                        text_color: str = "FFFFFF") -> Category:
        extra = {"slug": slug} if slug else {}
        data = self._api.create_category(name, color, text_color=text_color, **extra)
        cat = Category.from_json(data["category"])
        if self._categories is not None:
            self._categories[cat.slug] = cat
        return cat

    # -- groups ------------------------------------------------------------------------------
    def group(self, name: str) -> Group | None:
        """The group of this name, or None when the forum has none."""
        try:
            data = self._api._get(f"/groups/{quote(name, safe='')}.json")
        except NotFound:
            return None
        return Group.from_json(data["group"])

    def create_group(self, name: str, *, full_name: str | None = None) -> Group:
        # Form fields as Rails reads them (params.require(:group)); pydiscourse's create_group
        # sends fields the documented createGroup body does not have (alias_level, automatic, ...).
        fields = {"group[name]": name, **({"group[full_name]": full_name} if full_name else {})}
        data = self._api._post("/admin/groups.json", **fields)
        return Group.from_json(data["basic_group"])

    # -- users -------------------------------------------------------------------------------
    def user_by_external_id(self, external_id: str) -> User | None:
        try:
            return User.from_json(self._api.user_by_external_id(external_id), external_id=str(external_id))
        except NotFound:
            return None

    def sync_sso(self, external_id: str, email: str, **fields: Any) -> User:
        """Create or update the member with this external id (``POST /admin/users/sync_sso``),
        exactly as a DiscourseConnect login would. `fields`: username, name, avatar_url,
        add_groups, remove_groups, admin, moderator, suppress_welcome_message, ..."""
        if self._connect_secret is None:
            raise ValueError("sync_sso needs the DiscourseConnect secret (connect_secret)")
        payload = {"external_id": str(external_id), "email": email}
        for k, v in fields.items():
            payload[k] = form_bool(v) if isinstance(v, bool) else v
        try:
            data = self._api.sync_sso(self._connect_secret.value, **payload)
        except DiscourseError as exc:
            # app/models/discourse_connect.rb match_email_or_create_user: with require_activation
            # the address is not matched to the account that has it, a new account is made with
            # it, and saving that fails (RecordInvalid, which Admin::UsersController#sync_sso
            # answers with 403 and the validation message).
            if exc.status in (403, 422) and _email_taken(exc):
                raise EmailTaken(exc.message, status=exc.status, errors=exc.errors, operation=exc.operation) from None
            raise
        return User.from_json(data, external_id=str(external_id))

    def log_out_user(self, user_id: int) -> None:
        self._api.log_out(int(user_id))

    def suspend_user(self, user_id: int, until: datetime, reason: str, *, message: str | None = None) -> bool:
        """Suspend the user; False when they already were (nothing changed).

        app/services/user/suspend.rb: the policy ``not_suspended_already`` fails for a user who
        is suspended, which Admin::UsersController#suspend answers with 409 (a second
        suspension does not replace the first); a reason over 300 characters is 400, a caller
        who may not suspend this user 403.
        """
        fields = {"suspend_until": until.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
                  "reason": reason}
        if message:
            fields["message"] = message
        try:
            self._api._put(f"/admin/users/{int(user_id)}/suspend.json", **fields)
        except DiscourseError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    # -- site settings -----------------------------------------------------------------------
    def site_settings(self) -> dict[str, SiteSetting]:
        data = self._api.get_site_settings() or {}
        return {s.name: s for s in map(SiteSetting.from_json, data.get("site_settings") or [])}

    def set_site_setting(self, name: str, value: str | bool | int) -> None:
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise ValueError(f"'{name}' is not a site setting name")
        if isinstance(value, bool):
            value = form_bool(value)
        self._api.site_settings(**{name: str(value)})

    # -- web hooks ---------------------------------------------------------------------------
    def web_hooks(self) -> WebHooks:
        """Every web hook (all pages) and the event types this Discourse knows."""
        first = self._api.web_hooks() or {}
        hooks = {h["id"]: h for h in first.get("web_hooks") or []}
        total = int(first.get("total_rows_web_hooks") or len(hooks))
        while len(hooks) < total:
            page = (self._api.web_hooks(offset=len(hooks)) or {}).get("web_hooks") or []
            new = [h for h in page if h["id"] not in hooks]
            if not new:
                break
            hooks.update((h["id"], h) for h in new)
        types = [WebHookEventType(int(t["id"]), t.get("name", ""), t.get("group"))
                 for t in (first.get("extras") or {}).get("event_types") or []]
        return WebHooks(tuple(WebHook.from_json(h) for h in sorted(hooks.values(), key=lambda h: h["id"])),
                        tuple(types))

    def create_web_hook(self, payload_url: str, *, secret: str, event_type_ids: Iterable[int],
                        content_type: int = 1, active: bool = True, wildcard: bool = False,
                        verify_certificate: bool = True) -> WebHook:
        data = self._api.create_web_hook(payload_url=payload_url, secret=secret, content_type=content_type,
                                         active=active, wildcard_web_hook=wildcard,
                                         verify_certificate=verify_certificate,
                                         web_hook_event_type_ids=list(event_type_ids))
        return WebHook.from_json(data["web_hook"])

    def update_web_hook(self, web_hook_id: int, *, payload_url: str | None = None, secret: str | None = None,
                        event_type_ids: Iterable[int] | None = None, content_type: int | None = None,
                        active: bool | None = None, wildcard: bool | None = None,
                        verify_certificate: bool | None = None) -> WebHook:
        data = self._api.update_web_hook(
            web_hook_id, payload_url=payload_url, secret=secret, content_type=content_type, active=active,
            wildcard_web_hook=wildcard, verify_certificate=verify_certificate,
            web_hook_event_type_ids=list(event_type_ids) if event_type_ids is not None else None)
        return WebHook.from_json(data["web_hook"])


def _email_taken(exc: DiscourseError) -> bool:
    """Whether Discourse refused a user because another account has the e-mail address
    ("Primary email has already been taken", config/locales/server.en.yml ``taken``)."""
    text = " ".join((exc.message, *exc.errors)).lower()
    return "email" in text and ("taken" in text or "already" in text)


def topic_id_from_location(location: str) -> int | None:
    """The topic id in a topic URL (``/t/slug/123``, ``/t/123``, with or without ``.json``)."""
    m = re.search(r"/t/(?:[^/]+/)?(\d+)(?:/\d+)?(?:\.json)?/?$", urlsplit(unquote(location)).path)
    return int(m.group(1)) if m else None
