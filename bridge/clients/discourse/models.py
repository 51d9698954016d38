"""What the Discourse client returns: frozen dataclasses built from Discourse's JSON, so flows
never read the forum's raw shapes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Category", "Group", "Post", "SiteSetting", "Topic", "User", "WebHook", "WebHookEventType", "WebHooks"]


def _tag_names(tags: Any) -> tuple[str, ...]:
    # Discourse serializes a topic's tags as names, or (3.4 and later) as {id, name, slug}.
    out = []
    for t in tags or []:
        name = t.get("name") if isinstance(t, dict) else t
        if isinstance(name, str):
            out.append(name)
    return tuple(out)


@dataclass(frozen=True)
class Topic:
    """A topic as the bridge sees it. ``url`` is absolute; ``deleted`` is True for a topic
    staff can still see after deletion."""

    id: int
    title: str
    slug: str
    category_id: int | None
    tags: tuple[str, ...]
    visible: bool
    closed: bool
    archived: bool
    posts_count: int
    first_post_id: int | None
    created_at: str | None
    deleted: bool
    url: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base_url: str) -> Topic:
        stream = (data.get("post_stream") or {})
        posts = stream.get("posts") or []
        first = next((p.get("id") for p in posts if p.get("post_number") == 1), None)
        if first is None and stream.get("stream"):
            first = stream["stream"][0]
        slug = data.get("slug") or "topic"
        return cls(id=int(data["id"]), title=data.get("title") or "", slug=slug,
                   category_id=data.get("category_id"), tags=_tag_names(data.get("tags")),
                   visible=bool(data.get("visible", True)), closed=bool(data.get("closed")),
                   archived=bool(data.get("archived")), posts_count=int(data.get("posts_count") or 0),
                   first_post_id=first, created_at=data.get("created_at"), deleted=bool(data.get("deleted_at")),
                   url=f"{base_url}/t/{slug}/{data['id']}")


@dataclass(frozen=True)
class Post:
    """A post. ``raw`` is its Markdown (None where Discourse did not include it)."""

    id: int
    topic_id: int
    post_number: int
    username: str | None
    raw: str | None
    cooked: str | None
    version: int
    topic_slug: str | None
    created_at: str | None
    url: str

    @property
    def topic_url(self) -> str:
        return self.url.rsplit("/", 1)[0]

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base_url: str) -> Post:
        slug = data.get("topic_slug") or "topic"
        return cls(id=int(data["id"]), topic_id=int(data["topic_id"]), post_number=int(data.get("post_number") or 1),
                   username=data.get("username"), raw=data.get("raw"), cooked=data.get("cooked"),
                   version=int(data.get("version") or 1), topic_slug=data.get("topic_slug"),
                   created_at=data.get("created_at"),
                   url=f"{base_url}/t/{slug}/{data['topic_id']}/{data.get('post_number') or 1}")


@dataclass(frozen=True)
class Category:
    """``read_restricted``: only some groups may read it (BasicCategorySerializer); True when
    the answer does not say, so a category is never taken for public by mistake."""

    id: int
    name: str
    slug: str
    color: str | None
    text_color: str | None
    parent_category_id: int | None
    read_restricted: bool = True

    @classmethod
    def from_json(cls, data: Mapping[str, Any], parent_id: int | None = None) -> Category:
        return cls(id=int(data["id"]), name=data.get("name") or "", slug=data.get("slug") or "",
                   color=data.get("color"), text_color=data.get("text_color"),
                   parent_category_id=data.get("parent_category_id") or parent_id,
                   read_restricted=data.get("read_restricted") is not False)


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    full_name: str | None
    automatic: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Group:
        return cls(id=int(data["id"]), name=data.get("name") or "", full_name=data.get("full_name"),
                   automatic=bool(data.get("automatic")))


@dataclass(frozen=True)
class User:
    id: int
    username: str
    name: str | None
    external_id: str | None
    admin: bool
    moderator: bool
    active: bool
    suspended_till: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], external_id: str | None = None) -> User:
        record = data.get("single_sign_on_record") or {}
        ext = external_id or data.get("external_id") or record.get("external_id")
        return cls(id=int(data["id"]), username=data.get("username") or "", name=data.get("name"),
                   external_id=str(ext) if ext is not None else None, admin=bool(data.get("admin")),
                   moderator=bool(data.get("moderator")), active=bool(data.get("active", True)),
                   suspended_till=data.get("suspended_till"))


@dataclass(frozen=True)
class SiteSetting:
    """One entry of ``GET /admin/site_settings.json``. Discourse returns even ``secret``
    settings' values to admins there (lib/site_setting_extension.rb ``all_settings``:
    ``value: value.to_s, secret: ...``; only staff action logs show "[FILTERED]"), so ``value``
    is kept, but out of repr."""

    name: str
    value: str = field(repr=False)
    default: str | None = field(default=None, repr=False)
    type: str | None = None
    secret: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SiteSetting:
        return cls(name=data["setting"], value="" if data.get("value") is None else str(data["value"]),
                   default=None if data.get("default") is None else str(data["default"]), type=data.get("type"),
                   secret=bool(data.get("secret")))


@dataclass(frozen=True)
class WebHookEventType:
    id: int
    name: str
    group: int | None = None


@dataclass(frozen=True)
class WebHook:
    """A web hook (AdminWebHookSerializer). ``secret`` is None when Discourse did not send it."""

    id: int
    payload_url: str
    content_type: int
    secret: str | None = field(repr=False)
    active: bool
    wildcard_web_hook: bool
    verify_certificate: bool
    event_type_ids: frozenset[int]
    event_type_names: tuple[str, ...]
    category_ids: tuple[int, ...] = ()
    tag_names: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WebHook:
        types = data.get("web_hook_event_types") or []
        cats = data.get("categories")
        if cats is None:
            cats = data.get("category_ids") or []
        return cls(id=int(data["id"]), payload_url=data.get("payload_url") or "",
                   content_type=int(data.get("content_type") or 1),
                   secret=data["secret"] if "secret" in data else None, active=bool(data.get("active")),
                   wildcard_web_hook=bool(data.get("wildcard_web_hook")),
                   verify_certificate=bool(data.get("verify_certificate", True)),
                   event_type_ids=frozenset(int(t["id"]) for t in types),
                   event_type_names=tuple(sorted(t.get("name", "") for t in types)),
                   category_ids=tuple(int(c["id"]) if isinstance(c, dict) else int(c) for c in cats),
                   tag_names=tuple(data.get("tag_names") or ()))


@dataclass(frozen=True)
class WebHooks:
    hooks: tuple[WebHook, ...]
    event_types: tuple[WebHookEventType, ...]
