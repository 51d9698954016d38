"""WordPress client: posts and the post meta the bridge owns, over REST or XML-RPC.

One class, :class:`WordPressClient`, with the same operations and the same results over
both of WordPress's remote APIs:

* ``transport="rest"`` (default): the REST API (``/wp-json/wp/v2``), authenticated with an
  *Application Password* (WordPress >= 5.6) sent as HTTP Basic auth.
* ``transport="xmlrpc"``: ``xmlrpc.php`` through python-wordpress-xmlrpc, authenticated with
  the account password (an Application Password works there too since WordPress 5.6).

Results are plain frozen dataclasses (:class:`Post`, :class:`Author`, :class:`BridgeMeta`), so
callers never see a transport's raw shape.

The bridge's own post meta
--------------------------
The bridge stores its state about a post in post meta whose keys all start with
:data:`META_PREFIX` (``_space_bridge_``).  The mu-plugin ``deploy/wordpress/space-bridge.php``
registers exactly these keys (see :data:`META_FIELDS`); keep the two lists in step.

=================================  ======================  ===================================
WordPress meta key                 :class:`BridgeMeta`      stored as
=================================  ======================  ===================================
``_space_bridge_topic_id``         ``topic_id: int``        decimal string
``_space_bridge_topic_url``        ``topic_url: str``       string
``_space_bridge_reply_count``      ``reply_count: int``     decimal string
``_space_bridge_replies``          ``replies: JSON value``  compact JSON text
``_space_bridge_synced_at``        ``synced_at: datetime``  ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)
=================================  ======================  ===================================

All keys are registered as single ``string`` meta, so both APIs carry the same text and an
empty string means "not set" on both (the REST API reports an unset string meta as ``""``).
The keys start with ``_`` so that WordPress treats them as *protected* meta: they are hidden
from the editor's "Custom Fields" box (whose stale form values would otherwise overwrite what
the bridge wrote while an editor had the post open).  Protected meta is only readable and
writable over XML-RPC because the mu-plugin registers an ``auth_callback`` for each key:
``map_meta_cap()`` (wp-includes/capabilities.php, ``case 'edit_post_meta'``) starts from
``! is_protected_meta()`` and then applies the ``auth_post_meta_{$key}_for_post`` filter that
``register_meta()`` (wp-includes/meta.php) installs for the callback.  Without the mu-plugin the
REST API silently ignores the keys and XML-RPC silently hides them, so this client refuses to
read or write bridge meta when it cannot see the mu-plugin (:class:`BridgeMetaUnavailable`)
rather than report a post as "not yet synced".

Writing meta is a post update on both APIs (``wp_update_post()``), so it bumps the post's
``modified`` time: :meth:`WordPressClient.set_meta` returns the updated :class:`Post` so a
caller can remember the ``modified`` value its own write produced.
"""

from __future__ import annotations

import html
import json
import logging
import re
import xml.parsers.expat
import xmlrpc.client
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol

import requests

from bridge.clients import DEFAULT_USER_AGENT

from bridge.clients._xmlrpc_compat import wordpress_xmlrpc

__all__ = [
    "DEFAULT_USER_AGENT",
    "META_FIELDS",
    "META_PREFIX",
    "Author",
    "BridgeMeta",
    "BridgeMetaUnavailable",
    "Post",
    "PostNotFound",
    "WordPressAuthError",
    "WordPressClient",
    "WordPressError",
    "WordPressPermissionError",
    "WordPressUnavailable",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0

#: Prefix of every post meta key the bridge owns.
META_PREFIX = "_space_bridge_"

#: Bridge meta fields (the :class:`BridgeMeta` attribute names) and their Python types.
#: The WordPress key is ``META_PREFIX + name``.  Mirrors ``meta_fields()`` in the mu-plugin.
META_FIELDS: dict[str, str] = {
    "topic_id": "int",
    "topic_url": "str",
    "reply_count": "int",
    "replies": "json",
    "synced_at": "datetime",
}

Transport = Literal["rest", "xmlrpc"]


# ----------------------------------------------------------------------------------------
# Errors


class WordPressError(Exception):
    """A WordPress request failed.

    ``code`` is WordPress's error code (a REST ``code`` string such as ``rest_forbidden``, or
    an XML-RPC ``faultCode`` such as ``401``), ``message`` its message, ``status`` the HTTP
    status when there was one.  ``retryable`` tells whether trying the same request later
    may succeed.  The text never contains the password.
    """

    retryable = False

    def __init__(self, message: str, *, code: str | int | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"[code {self.code}]")
        if self.status is not None:
            parts.append(f"[HTTP {self.status}]")
        return " ".join(parts)


class WordPressAuthError(WordPressError):
    """WordPress did not accept the username/password (or Application Password)."""


class WordPressPermissionError(WordPressError):
    """The credentials are valid, but the account may not do this."""


class PostNotFound(WordPressError):
    """No post with this id (or it was permanently deleted)."""


class WordPressUnavailable(WordPressError):
    """Network failure, time-out or server error: worth retrying later."""

    retryable = True


class BridgeMetaUnavailable(WordPressError):
    """The site does not expose the bridge's post meta: the space-bridge mu-plugin is missing
    (or not loaded), so reading would wrongly say "no meta" and writing would be dropped."""


# ----------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Author:
    """A post's author: WordPress user id and display name (None if the API hid it).

    ``external_id``: the Wikimedia account (DiscourseConnect ``external_id``, the member's
    ``sub``) linked to the author's WordPress account, as the mu-plugin computes it on the server
    from the author's user meta (REST field ``space_bridge_author_external_id``, XML-RPC
    ``space_bridge.author_external_id``); None when the author is not linked or the plugin does
    not say. Unlike the display name, no author can set it, so it is the only thing that may tie
    a post to a member.
    """

    id: int
    name: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class BridgeMeta:
    """The post meta the bridge owns; ``None`` means "not set".

    ``replies`` is any JSON value (stored as JSON text); ``synced_at`` is timezone-aware UTC.
    """

    topic_id: int | None = None
    topic_url: str | None = None
    reply_count: int | None = None
    replies: Any = None
    synced_at: datetime | None = None


@dataclass(frozen=True)
class Post:
    """A WordPress post as the bridge sees it, the same over both transports.

    * ``title``: plain text (WordPress's rendered title with HTML entities decoded);
    * ``content`` / ``excerpt``: rendered HTML, as the site would show them (blocks rendered,
      ``wpautop`` applied; the excerpt generated from the content if none was written);
    * ``categories`` / ``tags``: term slugs, sorted; ``category_names`` / ``tag_names``: the
      matching names in the same order;
    * ``modified``: last modification, timezone-aware UTC;
    * ``language``: a language code if the site records one (a ``lang`` field, as Polylang
      exposes it, or a term of a ``language`` taxonomy), else None;
    * ``meta``: the bridge's own post meta.
    """

    id: int
    title: str
    content: str
    excerpt: str
    status: str
    categories: tuple[str, ...]
    category_names: tuple[str, ...]
    tags: tuple[str, ...]
    tag_names: tuple[str, ...]
    author: Author
    permalink: str
    modified: datetime
    language: str | None = None
    meta: BridgeMeta = field(default_factory=BridgeMeta)


# ----------------------------------------------------------------------------------------
# Meta encoding (shared by both transports: both carry the same strings)


def _meta_key(name: str) -> str:
    return META_PREFIX + name


def _format_utc(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode_meta(name: str, value: Any) -> str | None:
    """Python value -> stored string; None means "delete the key"."""
    if value is None:
        return None
    kind = META_FIELDS[name]
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"bridge meta {name!r} must be an int, not {type(value).__name__}")
        return str(value)
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"bridge meta {name!r} must be a str, not {type(value).__name__}")
        if value == "":
            return None  # "" means unset on both transports
        return value
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if kind == "datetime":
        if not isinstance(value, datetime):
            raise TypeError(f"bridge meta {name!r} must be a datetime, not {type(value).__name__}")
        return _format_utc(value)
    raise AssertionError(kind)


def _decode_meta(name: str, raw: Any) -> Any:
    """Stored string -> Python value; "" / missing -> None.  A malformed value is logged and
    reported as None (it can only come from someone editing the meta by hand)."""
    if raw is None or raw == "":
        return None
    kind = META_FIELDS[name]
    try:
        if kind == "int":
            return int(raw)
        if kind == "str":
            return str(raw)
        if kind == "json":
            return json.loads(raw)
        if kind == "datetime":
            parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return parsed.astimezone(timezone.utc)
    except (TypeError, ValueError):
        log.warning("ignoring malformed bridge meta %s=%r", _meta_key(name), raw)
        return None
    raise AssertionError(kind)


def _meta_from_strings(values: Mapping[str, Any]) -> BridgeMeta:
    """``{wordpress_key: stored string}`` -> BridgeMeta."""
    return BridgeMeta(**{name: _decode_meta(name, values.get(_meta_key(name))) for name in META_FIELDS})


def _check_meta_names(values: Mapping[str, Any]) -> None:
    unknown = sorted(set(values) - set(META_FIELDS))
    if unknown:
        raise ValueError(f"unknown bridge meta field(s) {unknown}; known: {sorted(META_FIELDS)}")


# ----------------------------------------------------------------------------------------
# Small helpers


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware (use datetime.now(timezone.utc))")
    return value.astimezone(timezone.utc)


def _floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def _terms_sorted(terms: Iterable[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    pairs = sorted(set(terms))
    return tuple(slug for slug, _ in pairs), tuple(name for _, name in pairs)


_TAG_RE = re.compile(r"<[^>]+>")


def _split_terms(terms: Iterable[Mapping[str, Any]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str | None]:
    """(slug, name) pairs of categories and tags, and the first `language` term's slug (Polylang's taxonomy)."""
    categories: list[tuple[str, str]] = []
    tags: list[tuple[str, str]] = []
    language = None
    for term in terms:
        pair = (term["slug"], term["name"])
        if term["taxonomy"] == "category":
            categories.append(pair)
        elif term["taxonomy"] == "post_tag":
            tags.append(pair)
        elif term["taxonomy"] == "language" and language is None:
            language = term["slug"]
    return categories, tags, language


def _external_id(value: Any) -> str | None:
    """The mu-plugin's author external_id: a non-empty string of at most 64 characters
    (the bridge's `sub` column), anything else (null, "", a number) is no link."""
    if isinstance(value, str) and 0 < len(value) <= 64 and value.strip() == value:
        return value
    return None


def _plain_title(rendered: str) -> str:
    return html.unescape(_TAG_RE.sub("", rendered)).strip()


class _Scrubber:
    """Removes secrets from any text that could end up in an exception or a log line."""

    def __init__(self, *secrets: str | None):
        # Application Passwords are accepted with or without their spaces: hide both forms.
        found = {v for s in secrets if s for v in (s, s.replace(" ", "")) if len(v) >= 4}
        self._secrets = sorted(found, key=len, reverse=True)

    def __call__(self, text: Any) -> str:
        text = str(text)
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


# ----------------------------------------------------------------------------------------
# The public client


class WordPressClient:
    """Posts and bridge meta of one WordPress site.

    Args:
        url: the site's address (``home``), e.g. ``https://space.example.org``.
        username: the WordPress login of the bridge's account.
        password: for ``transport="rest"`` an Application Password of that account (spaces
            allowed); for ``"xmlrpc"`` the account password (an Application Password also
            works).  Never logged nor put in exception text.
        transport: ``"rest"`` (default) or ``"xmlrpc"``.
        timeout: seconds to wait for each HTTP request (connect and read).
        user_agent: the ``User-Agent`` header; describe the bridge and a contact.
        rest_url: the REST API root if not ``{url}/wp-json`` (``...?rest_route=/`` works).
        xmlrpc_url: the XML-RPC endpoint if not ``{url}/xmlrpc.php``.

    No request is made until the first operation.  The client holds a ``requests.Session``;
    call :meth:`close` (or use it as a context manager) when done.
    """

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        transport: Transport = "rest",
        timeout: float = DEFAULT_TIMEOUT,
        user_agent: str = DEFAULT_USER_AGENT,
        *,
        rest_url: str | None = None,
        xmlrpc_url: str | None = None,
    ):
        if transport not in ("rest", "xmlrpc"):
            raise ValueError(f"transport must be 'rest' or 'xmlrpc', not {transport!r}")
        self.url = url.rstrip("/")
        self.username = username
        self.transport: Transport = transport
        self.timeout = timeout
        self.user_agent = user_agent
        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent
        scrub = _Scrubber(password)
        self._backend: _Backend
        if transport == "rest":
            self._backend = _RestBackend(
                rest_url or f"{self.url}/wp-json", username, password, self._session, timeout, scrub
            )
        else:
            self._backend = _XmlRpcBackend(
                xmlrpc_url or f"{self.url}/xmlrpc.php", username, password, self._session, timeout, scrub
            )

    def __repr__(self) -> str:
        return f"<WordPressClient {self.url} as {self.username!r} over {self.transport}>"

    def __enter__(self) -> WordPressClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # -- posts ---------------------------------------------------------------------------

    def whoami(self) -> Author:
        """The account the client logs in as; raises WordPressAuthError if the credentials are
        refused.  A cheap check for configuration and health checks."""
        return self._backend.whoami()

    def get_post(self, post_id: int) -> Post:
        """The post with this id (any status, including drafts and trash).

        Raises PostNotFound if there is none.
        """
        return self._backend.get_post(int(post_id))

    def posts_modified_since(
        self,
        since: datetime,
        statuses: Sequence[str] = ("publish",),
        *,
        page_size: int = 100,
    ) -> list[Post]:
        """All posts whose last modification is at or after ``since`` (inclusive, to the
        second, WordPress's precision), in any of ``statuses``, oldest modification first
        (ties by id).  Pages through every result.

        ``since`` must be timezone-aware.  Pass a slightly earlier time than the last
        ``modified`` seen and de-duplicate if you poll: a post's ``modified`` has one-second
        resolution.
        """
        if not statuses:
            raise ValueError("statuses must not be empty")
        if not 1 <= page_size <= 100:
            raise ValueError("page_size must be between 1 and 100")
        since = _floor_second(_utc(since))
        found: dict[int, Post] = {}
        for post in self._backend.iter_modified_since(since, tuple(statuses), page_size):
            if post.modified >= since:
                found[post.id] = post
        return sorted(found.values(), key=lambda p: (p.modified, p.id))

    def create_post(
        self,
        title: str,
        content: str,
        status: str = "draft",
        categories: Sequence[str] = (),
        tags: Sequence[str] = (),
        excerpt: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Post:
        """Create a post and return it as stored.

        ``content`` is the raw post content (HTML or block markup).  ``categories`` and
        ``tags`` are term slugs; a slug that does not exist yet is created (named after the
        slug).  ``meta`` sets bridge meta fields (names as in :class:`BridgeMeta`).
        """
        meta = dict(meta or {})
        _check_meta_names(meta)
        return self._backend.create_post(
            title=title,
            content=content,
            status=status,
            categories=tuple(categories),
            tags=tuple(tags),
            excerpt=excerpt,
            meta={name: _encode_meta(name, value) for name, value in meta.items()},
        )

    def update_post(
        self,
        post_id: int,
        *,
        title: str | None = None,
        content: str | None = None,
        status: str | None = None,
        categories: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        excerpt: str | None = None,
    ) -> Post:
        """Change the given fields of a post (None leaves a field as it is) and return it."""
        changes: dict[str, Any] = {}
        for name, value in (("title", title), ("content", content), ("status", status), ("excerpt", excerpt)):
            if value is not None:
                changes[name] = value
        if categories is not None:
            changes["categories"] = tuple(categories)
        if tags is not None:
            changes["tags"] = tuple(tags)
        return self._backend.update_post(int(post_id), changes)

    def trash_post(self, post_id: int) -> None:
        """Move a post to the trash (not a permanent delete).  Trashing a trashed post is a
        no-op on both transports."""
        self._backend.trash_post(int(post_id))

    # -- bridge meta -----------------------------------------------------------------------

    def get_meta(self, post_id: int) -> BridgeMeta:
        """The bridge's meta of a post (same as ``get_post(post_id).meta``)."""
        return self.get_post(post_id).meta

    def set_meta(self, post_id: int, **values: Any) -> Post:
        """Set bridge meta fields of a post; a value of None deletes that field.

        Example: ``client.set_meta(42, topic_id=7, topic_url="https://...", synced_at=now)``.
        Fields not named are left alone.  Returns the post after the write: its ``modified``
        is the time of this write (WordPress counts a meta write as a post update).
        """
        if not values:
            raise ValueError("set_meta needs at least one field")
        _check_meta_names(values)
        encoded = {name: _encode_meta(name, value) for name, value in values.items()}
        return self._backend.set_meta(int(post_id), encoded)


# ----------------------------------------------------------------------------------------
# Backends


class _Backend(Protocol):
    def whoami(self) -> Author: ...

    def get_post(self, post_id: int) -> Post: ...

    def iter_modified_since(self, since: datetime, statuses: tuple[str, ...], page_size: int) -> Iterable[Post]: ...

    def create_post(self, **fields: Any) -> Post: ...

    def update_post(self, post_id: int, changes: dict[str, Any]) -> Post: ...

    def trash_post(self, post_id: int) -> None: ...

    def set_meta(self, post_id: int, encoded: dict[str, str | None]) -> Post: ...


_TAXONOMIES = {"categories": "category", "tags": "post_tag"}


class _RestBackend:
    """WordPress REST API, ``wp/v2`` namespace.  Facts used (WordPress 6.1 source):

    * posts controller (wp-includes/rest-api/endpoints/class-wp-rest-posts-controller.php):
      ``modified_after`` (5.7+) is turned into a ``date_query`` on ``post_modified`` and
      ``WP_Date_Query::build_mysql_datetime()`` converts an ISO date with an offset into the
      site's timezone, comparing strictly (``>``); ``per_page`` is at most 100 and the page
      count comes back in ``X-WP-TotalPages``; ``DELETE`` without ``force`` trashes and
      answers 410 ``rest_already_trashed`` for a trashed post;
    * meta (wp-includes/rest-api/fields/class-wp-rest-meta-fields.php): only meta registered
      with ``show_in_rest`` appears under ``meta`` and can be written; other keys in a write
      are ignored without error; a registered single string meta that is unset reads ``""``;
      ``null`` deletes.
    """

    _EMBED = "author,wp:term"

    def __init__(self, root: str, username: str, password: str, session: requests.Session, timeout: float, scrub):
        self._root = root.rstrip("/") if "?" not in root else root
        self._auth = (username, password)
        self._session = session
        self._timeout = timeout
        self._scrub = scrub
        self._term_ids: dict[tuple[str, str], int] = {}
        self._me: Author | None = None

    # -- HTTP ------------------------------------------------------------------------------

    def _url(self, route: str) -> tuple[str, dict[str, str]]:
        """URL and extra query params for a route such as ``/wp/v2/posts``."""
        if "rest_route=" in self._root:
            base, _, _ = self._root.partition("?")
            return base, {"rest_route": route}
        return self._root + route, {}

    def _request(
        self,
        method: str,
        route: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> requests.Response:
        if self._me is None and route != "/wp/v2/users/me":
            self.whoami()
        url, extra = self._url(route)
        query = {**extra, **(params or {})}
        # Errors are raised after the except blocks, so they carry no __context__ (requests'
        # exceptions hold the prepared request, Authorization header included).
        error: WordPressError | None = None
        try:
            resp = self._session.request(
                method, url, params=query, json=json_body, auth=self._auth, timeout=self._timeout,
                headers={"Accept": "application/json"},
            )
        except requests.Timeout:
            error = WordPressUnavailable(f"WordPress REST {method} {route} timed out after {self._timeout}s")
        except requests.RequestException as exc:
            error = WordPressUnavailable(
                self._scrub(f"WordPress REST {method} {route} failed: {type(exc).__name__}: {exc}")
            )
        if error is not None:
            raise error
        if resp.status_code < 400:
            return resp
        raise self._error(resp, method, route)

    def _error(self, resp: requests.Response, method: str, route: str) -> WordPressError:
        status = resp.status_code
        code: str | None = None
        message = ""
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            code = body.get("code")
            message = str(body.get("message") or "")
        if not message:
            message = (resp.text or resp.reason or "").strip()[:300]
        message = self._scrub(f"WordPress REST {method} {route}: {message}")
        if status == 401:
            return WordPressAuthError(message, code=code, status=status)
        if status == 403:
            return WordPressPermissionError(message, code=code, status=status)
        if status == 404 and code == "rest_post_invalid_id":
            return PostNotFound(message, code=code, status=status)
        if status >= 500 or status == 429:
            return WordPressUnavailable(message, code=code, status=status)
        return WordPressError(message, code=code, status=status)

    # -- parsing ---------------------------------------------------------------------------

    def _post(self, data: dict[str, Any]) -> Post:
        embedded = data.get("_embedded") or {}
        author_name = None
        for author in embedded.get("author") or ():
            if isinstance(author, dict) and "name" in author and author.get("id") == data.get("author"):
                author_name = author["name"]
        terms = [t for group in embedded.get("wp:term") or () for t in group or ()
                 if isinstance(t, dict) and "taxonomy" in t]
        categories, tags, term_language = _split_terms(terms)
        language = data.get("lang") or term_language
        meta = data.get("meta")
        if not isinstance(meta, dict) or any(_meta_key(name) not in meta for name in META_FIELDS):
            raise BridgeMetaUnavailable(
                "the REST API does not expose the bridge's post meta "
                f"({META_PREFIX}*): is the space-bridge mu-plugin installed in wp-content/mu-plugins?"
            )
        cat_slugs, cat_names = _terms_sorted(categories)
        tag_slugs, tag_names = _terms_sorted(tags)
        return Post(
            id=int(data["id"]),
            title=_plain_title(data["title"]["rendered"]),
            content=data["content"]["rendered"],
            excerpt=data["excerpt"]["rendered"],
            status=data["status"],
            categories=cat_slugs,
            category_names=cat_names,
            tags=tag_slugs,
            tag_names=tag_names,
            author=Author(int(data["author"]), author_name, _external_id(data.get("space_bridge_author_external_id"))),
            permalink=data["link"],
            modified=datetime.fromisoformat(data["modified_gmt"]).replace(tzinfo=timezone.utc),
            language=language,
            meta=_meta_from_strings(meta),
        )

    # -- terms -----------------------------------------------------------------------------

    def _term_ids_for(self, kind: str, slugs: Sequence[str]) -> list[int]:
        route = f"/wp/v2/{kind}"
        taxonomy = _TAXONOMIES[kind]
        missing = [s for s in slugs if (taxonomy, s) not in self._term_ids]
        if missing:
            resp = self._request("GET", route, params={"slug": ",".join(missing), "per_page": 100})
            for term in resp.json():
                self._term_ids[(taxonomy, term["slug"])] = int(term["id"])
        for slug in slugs:
            if (taxonomy, slug) not in self._term_ids:
                try:
                    term = self._request("POST", route, json_body={"name": slug, "slug": slug}).json()
                    term_id = int(term["id"])
                except WordPressError as exc:
                    # Raced with another writer: WordPress answers 400 term_exists with the id.
                    if exc.code != "term_exists":
                        raise
                    resp = self._request("GET", route, params={"slug": slug})
                    term_id = int(resp.json()[0]["id"])
                self._term_ids[(taxonomy, slug)] = term_id
        return [self._term_ids[(taxonomy, slug)] for slug in slugs]

    def _body(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name in ("title", "content", "status", "excerpt"):
            if fields.get(name) is not None:
                body[name] = fields[name]
        for kind in ("categories", "tags"):
            if fields.get(kind) is not None:
                body[kind] = self._term_ids_for(kind, fields[kind])
        return body

    # -- operations ------------------------------------------------------------------------

    def whoami(self) -> Author:
        # WordPress 6.1 ignores a *wrong* Application Password on requests that anonymous
        # users may make: WP_REST_Server::serve_request() forgets the user determined at
        # init, rest_application_password_check_errors() (priority 90 on
        # rest_authentication_errors, wp-includes/rest-api.php) only reports a failure that
        # has already happened, and the user is only determined again later, in
        # rest_cookie_check_errors() (priority 100), which then carries on anonymously.  A
        # bad password would go unnoticed until the first write; so check it first.
        try:
            data = self._request("GET", "/wp/v2/users/me").json()
        except WordPressAuthError as exc:
            raise WordPressAuthError(
                f"{exc.message} (wrong username or Application Password? Application Passwords "
                "also need HTTPS, or WP_ENVIRONMENT_TYPE=local)",
                code=exc.code, status=exc.status,
            ) from None
        self._me = Author(int(data["id"]), data.get("name"))
        return self._me

    def get_post(self, post_id: int) -> Post:
        resp = self._request("GET", f"/wp/v2/posts/{post_id}", params={"_embed": self._EMBED})
        return self._post(resp.json())

    def iter_modified_since(self, since: datetime, statuses: tuple[str, ...], page_size: int) -> Iterable[Post]:
        # modified_after is exclusive and to the second: ask for one second earlier, and the
        # caller keeps modified >= since.  Paging is ordered by id, not by modified: the set
        # of matching posts only grows while we page (a post edited meanwhile still matches),
        # so id order can't shift an unseen post onto a page already read, while modified
        # order (which has ties, and changes under us) can.
        params = {
            "modified_after": _format_utc(since - timedelta(seconds=1)),
            "status": ",".join(statuses),
            "orderby": "id",
            "order": "asc",
            "per_page": page_size,
            "_embed": self._EMBED,
        }
        page = 1
        while True:
            resp = self._request("GET", "/wp/v2/posts", params={**params, "page": page})
            for item in resp.json():
                yield self._post(item)
            total_pages = int(resp.headers.get("X-WP-TotalPages") or 0)
            if page >= total_pages:
                return
            page += 1

    def create_post(self, **fields: Any) -> Post:
        body = self._body(fields)
        if fields.get("meta"):
            body["meta"] = {_meta_key(name): value for name, value in fields["meta"].items()}
        resp = self._request("POST", "/wp/v2/posts", params={"_embed": self._EMBED}, json_body=body)
        post = self._post(resp.json())
        if fields.get("meta"):
            self._check_meta_written(post, fields["meta"])
        return post

    def update_post(self, post_id: int, changes: dict[str, Any]) -> Post:
        resp = self._request(
            "POST", f"/wp/v2/posts/{post_id}", params={"_embed": self._EMBED}, json_body=self._body(changes)
        )
        return self._post(resp.json())

    def trash_post(self, post_id: int) -> None:
        try:
            self._request("DELETE", f"/wp/v2/posts/{post_id}")
        except WordPressError as exc:
            if exc.code != "rest_already_trashed":
                raise

    def set_meta(self, post_id: int, encoded: dict[str, str | None]) -> Post:
        body = {"meta": {_meta_key(name): value for name, value in encoded.items()}}
        resp = self._request(
            "POST", f"/wp/v2/posts/{post_id}", params={"_embed": self._EMBED}, json_body=body
        )
        post = self._post(resp.json())
        self._check_meta_written(post, encoded)
        return post

    @staticmethod
    def _check_meta_written(post: Post, encoded: Mapping[str, str | None]) -> None:
        # The REST API drops meta it does not know without an error; make sure it took.
        for name, value in encoded.items():
            if _encode_meta(name, getattr(post.meta, name)) != value:
                raise BridgeMetaUnavailable(
                    f"WordPress did not store bridge meta {_meta_key(name)} on post {post.id}"
                )


class _RequestsTransport(xmlrpc.client.Transport):
    """An ``xmlrpc.client`` transport over the client's ``requests.Session``: the same
    User-Agent, connection pool and time-out as the REST transport, and errors mapped to
    :class:`WordPressError` without ever echoing the request body (which holds the password).
    """

    def __init__(self, url: str, session: requests.Session, timeout: float, scrub):
        super().__init__()
        self._url = url
        self._session = session
        self._timeout = timeout
        self._scrub = scrub

    def request(self, host, handler, request_body, verbose=False):  # noqa: ARG002 (xmlrpc API)
        # Errors are raised after the except blocks, so they carry no __context__ (requests'
        # exceptions hold the request, whose body has the password).
        error: WordPressError | None = None
        try:
            resp = self._session.post(
                self._url, data=request_body, timeout=self._timeout,
                headers={"Content-Type": "text/xml; charset=utf-8", "Accept": "text/xml"},
            )
        except requests.Timeout:
            error = WordPressUnavailable(f"WordPress XML-RPC request timed out after {self._timeout}s")
        except requests.RequestException as exc:
            error = WordPressUnavailable(self._scrub(f"WordPress XML-RPC request failed: {type(exc).__name__}: {exc}"))
        if error is not None:
            raise error
        if resp.status_code >= 500 or resp.status_code == 429:
            raise WordPressUnavailable(f"WordPress XML-RPC endpoint answered HTTP {resp.status_code}", status=resp.status_code)
        if resp.status_code != 200:
            raise WordPressError(
                self._scrub(f"WordPress XML-RPC endpoint answered HTTP {resp.status_code}: {resp.text[:200]}"),
                status=resp.status_code,
            )
        parser, unmarshaller = self.getparser()
        try:
            parser.feed(resp.content)
            parser.close()
            return unmarshaller.close()  # raises xmlrpc.client.Fault for a fault response
        except (xml.parsers.expat.ExpatError, xmlrpc.client.ResponseError) as exc:
            error = WordPressError(
                self._scrub(f"WordPress XML-RPC endpoint did not answer XML-RPC ({exc}): {resp.text[:200]!r}")
            )
        raise error


def _parse_xmlrpc_date(value: Any) -> datetime:
    text = value.value if isinstance(value, xmlrpc.client.DateTime) else str(value)
    return datetime.strptime(text.rstrip("Z"), "%Y%m%dT%H:%M:%S").replace(tzinfo=timezone.utc)


class _XmlRpcBackend:
    """WordPress XML-RPC (``wp.*`` methods) through python-wordpress-xmlrpc.

    Facts used (WordPress 6.1, wp-includes/class-wp-xmlrpc-server.php):

    * ``_prepare_post()`` returns the *raw* ``post_title``/``post_content``/``post_excerpt``
      and reports ``future`` posts as ``publish``; the mu-plugin adds a ``space_bridge``
      struct (via the ``xmlrpc_prepare_post`` filter) with the rendered title, content and
      excerpt computed as the REST API does, and the real status;
    * ``get_custom_fields()`` lists only meta the user may ``edit_post_meta``;
      ``set_custom_fields()`` *adds* a row for an entry without ``id`` (``add_post_meta``, even
      if the key exists), updates the row for ``{id, key, value}`` and deletes it for ``{id}``
      alone; so an update must send the existing meta id, or the key ends up with two rows;
    * ``wp.getPosts`` has no modified-since filter; its ``orderby`` is passed to ``WP_Query``
      unchanged (so ``"modified ID"`` gives a total order);
    * ``wp.deletePost`` calls ``wp_delete_post()``, which trashes a post but *permanently
      deletes* one that is already in the trash;
    * every failed login is fault 403, but other faults use 403 too ("Invalid term ID.",
      "Invalid post type."), so a 403 is only reported as bad credentials after a bare login
      (``wp.getUsersBlogs``) also fails.
    """

    def __init__(self, url: str, username: str, password: str, session: requests.Session, timeout: float, scrub):
        self._url = url
        self._username = username
        self._password = password
        self._transport = _RequestsTransport(url, session, timeout, scrub)
        self._scrub = scrub
        self._lib: wordpress_xmlrpc.Client | None = None
        self._authors: dict[int, str] = {}
        self._term_ids: dict[tuple[str, str], int] = {}
        self._warned_plain = False

    # -- calls -----------------------------------------------------------------------------

    def _client(self) -> wordpress_xmlrpc.Client:
        if self._lib is None:
            # The library's constructor calls mt.supportedMethods right away.
            self._lib = wordpress_xmlrpc.Client(self._url, self._username, self._password, transport=self._transport)
        return self._lib

    def _call(self, method: Any, *, not_found: type[WordPressError] = WordPressError, check_auth: bool = True) -> Any:
        # results_class=None on every method: we want the raw structs (the library's objects
        # drop keys they don't know, such as the mu-plugin's, and give naive datetimes).
        method.results_class = None
        # Errors are raised after the except blocks, so they carry no __context__.
        error: WordPressError
        try:
            return self._client().call(method)
        except WordPressError as exc:
            error = exc
        except wordpress_xmlrpc.exceptions.InvalidCredentialsError as exc:
            # The library turns *every* fault 403 into InvalidCredentialsError.
            message = self._scrub(f"WordPress XML-RPC {method.method_name}: {exc}")
            if check_auth and self._credentials_rejected():
                error = WordPressAuthError(message, code=403)
            else:
                error = WordPressError(message, code=403)
        except wordpress_xmlrpc.exceptions.XmlrpcDisabledError as exc:
            error = WordPressError(self._scrub(f"WordPress XML-RPC is disabled: {exc}"), code=405)
        except wordpress_xmlrpc.exceptions.UnsupportedXmlrpcMethodError as exc:
            error = WordPressError(f"WordPress XML-RPC does not offer {exc}")
        except wordpress_xmlrpc.exceptions.ServerConnectionError as exc:
            error = WordPressUnavailable(self._scrub(f"WordPress XML-RPC connection failed: {exc}"))
        except xmlrpc.client.Fault as fault:
            message = self._scrub(f"WordPress XML-RPC {method.method_name}: {fault.faultString}")
            if fault.faultCode == 404:
                error = not_found(message, code=404)
            elif fault.faultCode == 401:
                error = WordPressPermissionError(message, code=401)
            elif fault.faultCode == 500:
                error = WordPressUnavailable(message, code=500)
            else:
                error = WordPressError(message, code=fault.faultCode)
        error.__context__ = None
        raise error

    def _credentials_rejected(self) -> bool:
        try:
            self._call(wordpress_xmlrpc.methods.users.GetUsersBlogs(), check_auth=False)
        except WordPressError as exc:
            return exc.code == 403
        return False

    # -- parsing ---------------------------------------------------------------------------

    def _author(self, user_id: int, external_id: str | None = None) -> Author:
        if user_id not in self._authors:
            # wp.getAuthors needs only edit_posts (wp.getUser needs edit_user on that user).
            for user in self._call(wordpress_xmlrpc.methods.users.GetAuthors()) or ():
                self._authors[int(user["user_id"])] = user["display_name"]
        return Author(user_id, self._authors.get(user_id), external_id)

    def _post(self, data: dict[str, Any]) -> Post:
        extra = data.get("space_bridge")
        if not isinstance(extra, dict):
            raise BridgeMetaUnavailable(
                "WordPress XML-RPC answers without the space-bridge fields: is the space-bridge "
                "mu-plugin installed in wp-content/mu-plugins?"
            )
        categories, tags, language = _split_terms(data.get("terms") or ())
        meta: dict[str, str] = {}
        for row in sorted(data.get("custom_fields") or (), key=lambda r: int(r["id"])):
            meta.setdefault(row["key"], row["value"])  # first row wins, as get_post_meta(single)
        cat_slugs, cat_names = _terms_sorted(categories)
        tag_slugs, tag_names = _terms_sorted(tags)
        return Post(
            id=int(data["post_id"]),
            title=_plain_title(extra["title"]),
            content=extra["content"],
            excerpt=extra["excerpt"],
            status=extra.get("status") or data["post_status"],
            categories=cat_slugs,
            category_names=cat_names,
            tags=tag_slugs,
            tag_names=tag_names,
            author=self._author(int(data["post_author"]), _external_id(extra.get("author_external_id"))),
            permalink=data["link"],
            modified=_parse_xmlrpc_date(data["post_modified_gmt"]),
            language=language,
            meta=_meta_from_strings(meta),
        )

    def _raw_post(self, post_id: int) -> dict[str, Any]:
        return self._call(wordpress_xmlrpc.methods.posts.GetPost(post_id), not_found=PostNotFound)

    # -- terms -----------------------------------------------------------------------------

    def _term_ids_for(self, kind: str, slugs: Sequence[str]) -> list[int]:
        taxonomy = _TAXONOMIES[kind]
        for slug in slugs:
            if (taxonomy, slug) in self._term_ids:
                continue
            # wp.getTerms' "search" matches name or slug with LIKE; keep the exact slug.
            found = self._call(
                wordpress_xmlrpc.methods.taxonomies.GetTerms(taxonomy, {"search": slug, "hide_empty": False})
            ) or []
            for term in found:
                if term["slug"] == slug:
                    self._term_ids[(taxonomy, slug)] = int(term["term_id"])
            if (taxonomy, slug) not in self._term_ids:
                new_id = self._call(
                    wordpress_xmlrpc.methods.taxonomies.NewTerm({"taxonomy": taxonomy, "name": slug, "slug": slug})
                )
                self._term_ids[(taxonomy, slug)] = int(new_id)
        return [self._term_ids[(taxonomy, slug)] for slug in slugs]

    def _struct(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        # Plain dicts, not the library's WordPressPost: a fresh WordPressPost carries
        # post_title="Untitled" and post_type="post" defaults, so editing one field with it
        # would also rename the post.
        struct: dict[str, Any] = {}
        for name, key in (("title", "post_title"), ("content", "post_content"), ("status", "post_status"),
                          ("excerpt", "post_excerpt")):
            if fields.get(name) is not None:
                struct[key] = fields[name]
        terms = {}
        for kind in ("categories", "tags"):
            if fields.get(kind) is not None:
                terms[_TAXONOMIES[kind]] = self._term_ids_for(kind, fields[kind])
        if terms:
            struct["terms"] = terms
        return struct

    # -- operations ------------------------------------------------------------------------

    def whoami(self) -> Author:
        profile = self._call(wordpress_xmlrpc.methods.users.GetProfile())
        return Author(int(profile["user_id"]), profile.get("display_name"))

    def get_post(self, post_id: int) -> Post:
        return self._post(self._raw_post(post_id))

    def iter_modified_since(self, since: datetime, statuses: tuple[str, ...], page_size: int) -> Iterable[Post]:
        # Newest modification first, so paging can stop at the first post older than since.
        # A post edited while we page jumps to the front and shifts the rest one place back:
        # that can repeat a post (the caller de-duplicates) but never skips one.
        offset = 0
        while True:
            batch = self._call(
                wordpress_xmlrpc.methods.posts.GetPosts(
                    {"post_type": "post", "post_status": list(statuses), "orderby": "modified ID",
                     "order": "DESC", "number": page_size, "offset": offset}
                )
            ) or []
            if not batch:
                return
            for raw in batch:
                if _parse_xmlrpc_date(raw["post_modified_gmt"]) < since:
                    return
                yield self._post(raw)
            offset += page_size

    def create_post(self, **fields: Any) -> Post:
        struct = {"post_type": "post", **self._struct(fields)}
        if fields.get("meta"):
            struct["custom_fields"] = [
                {"key": _meta_key(name), "value": value} for name, value in fields["meta"].items() if value is not None
            ]
        post_id = int(self._call(wordpress_xmlrpc.methods.posts.NewPost(struct)))
        post = self.get_post(post_id)
        if fields.get("meta"):
            _RestBackend._check_meta_written(post, fields["meta"])
        return post

    def update_post(self, post_id: int, changes: dict[str, Any]) -> Post:
        self._call(wordpress_xmlrpc.methods.posts.EditPost(post_id, self._struct(changes)), not_found=PostNotFound)
        return self.get_post(post_id)

    def trash_post(self, post_id: int) -> None:
        raw = self._raw_post(post_id)
        if (raw.get("space_bridge") or {}).get("status", raw.get("post_status")) == "trash":
            return  # wp.deletePost would delete it for good
        self._call(wordpress_xmlrpc.methods.posts.DeletePost(post_id), not_found=PostNotFound)

    def set_meta(self, post_id: int, encoded: dict[str, str | None]) -> Post:
        raw = self._raw_post(post_id)
        self._post(raw)  # fails early without the mu-plugin, instead of writing blind
        rows: dict[str, list[int]] = {}
        for row in raw.get("custom_fields") or ():
            rows.setdefault(row["key"], []).append(int(row["id"]))
        fields: list[dict[str, Any]] = []
        for name, value in encoded.items():
            key = _meta_key(name)
            ids = sorted(rows.get(key, ()))
            if value is None:
                fields.extend({"id": meta_id} for meta_id in ids)
                continue
            if ids:
                fields.append({"id": ids[0], "key": key, "value": value})
                fields.extend({"id": meta_id} for meta_id in ids[1:])  # heal duplicate rows
            else:
                fields.append({"key": key, "value": value})
        self._call(wordpress_xmlrpc.methods.posts.EditPost(post_id, {"custom_fields": fields}), not_found=PostNotFound)
        post = self.get_post(post_id)
        _RestBackend._check_meta_written(post, encoded)
        return post

