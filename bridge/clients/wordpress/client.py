"""The WordPress client: one class, the same operations and results over either transport."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any, Literal, Protocol, Self

import requests

from bridge.clients import DEFAULT_USER_AGENT
from bridge.clients.scrub import Scrubber
from bridge.clients.wordpress.errors import WordPressError
from bridge.clients.wordpress.meta import check_meta_names, encode_meta
from bridge.clients.wordpress.models import Author, BridgeMeta, Post
from bridge.clients.wordpress.rest_transport import RestBackend
from bridge.clients.wordpress.xmlrpc_transport import XmlRpcBackend

__all__ = ["DEFAULT_TIMEOUT", "Transport", "WordPressClient"]

DEFAULT_TIMEOUT = 30.0

Transport = Literal["rest", "xmlrpc"]

# post_views(): bounds of what the mu-plugin's counter may answer (deploy/wordpress/space-bridge-views.php).
MAX_VIEWS_PER_PAGE = 500  # its MAX_PER_PAGE
MAX_VIEWS = 10**15  # a post's total views; far above any blog's, far below an unsigned bigint
MAX_POST_ID = 2**63 - 1  # WordPress's post ids are bigint(20) unsigned; PHP ints are signed 64-bit
MAX_VIEW_PAGES = 100_000  # pages read at most, whatever the answers say


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware (use datetime.now(timezone.utc))")
    return value.astimezone(timezone.utc)


def _floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


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
        # Application Passwords are accepted with or without their spaces: hide both forms.
        scrub = Scrubber(password, (password or "").replace(" ", ""))
        self._backend: _Backend
        if transport == "rest":
            self._backend = RestBackend(
                rest_url or f"{self.url}/wp-json", username, password, self._session, timeout, scrub
            )
        else:
            self._backend = XmlRpcBackend(
                xmlrpc_url or f"{self.url}/xmlrpc.php", username, password, self._session, timeout, scrub
            )

    def __repr__(self) -> str:
        return f"<WordPressClient {self.url} as {self.username!r} over {self.transport}>"

    def __enter__(self) -> Self:
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
        check_meta_names(meta)
        return self._backend.create_post(
            title=title,
            content=content,
            status=status,
            categories=tuple(categories),
            tags=tuple(tags),
            excerpt=excerpt,
            meta={name: encode_meta(name, value) for name, value in meta.items()},
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
        Fields not named are left alone.  Returns the post after the write.  The meta is
        written alone, through the mu-plugin (``POST /space-bridge/v1/posts/<id>/meta``,
        ``spaceBridge.setPostMeta``): the post itself is not saved again, so its status, content
        and ``modified`` stay as the editor left them — saving it (as ``POST /wp/v2/posts/<id>``
        and ``wp.editPost`` do) could undo an editor's change made at the same moment.
        """
        if not values:
            raise ValueError("set_meta needs at least one field")
        check_meta_names(values)
        encoded = {name: encode_meta(name, value) for name, value in values.items()}
        return self._backend.set_meta(int(post_id), encoded)

    # -- views -----------------------------------------------------------------------------

    def post_views(self, since: date | None = None, *, page_size: int = 100) -> dict[int, int]:
        """Views per post: post id => the number of front-end views since ``since`` (a UTC day,
        inclusive), or over every day the site keeps (its retention, 400 days by default)
        without it.  Posts never viewed in that time are absent.

        Read from the privacy-preserving counter of the mu-plugin
        (deploy/wordpress/space-bridge-views.php: a count per post and day, nothing about the
        reader), which needs the ``edit_others_posts`` capability (an editor).  Pages through
        every post; a post counted while paging may appear twice (its larger count is kept).

        Raises BridgeMetaUnavailable when the site does not have that mu-plugin,
        WordPressPermissionError when the account may not read the counts, and WordPressError
        when the answer is not what the counter sends.
        """
        if not 1 <= page_size <= MAX_VIEWS_PER_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_VIEWS_PER_PAGE}")
        if since is not None and (not isinstance(since, date) or isinstance(since, datetime)):
            raise ValueError("since must be a datetime.date (a UTC day)")
        day = since.isoformat() if since is not None else None
        views: dict[int, int] = {}
        page = 1
        while True:
            pages = _views_page(self._backend.views_page(day, page, page_size), page, page_size, views)
            if page >= pages:
                return views
            page += 1
            if page > MAX_VIEW_PAGES:
                raise WordPressError(f"WordPress's view counter answered more than {MAX_VIEW_PAGES} pages")


def _strict_int(value: Any, low: int, high: int) -> int | None:
    """``value`` when it is an int (not a bool) in [low, high], else None."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def _views_page(data: Any, page: int, page_size: int, into: dict[int, int]) -> int:
    """Check one page of the counter's answer, add its counts to ``into``, return its page count.

    The answer of the mu-plugin's totals() (deploy/wordpress/space-bridge-views.php), the same
    over REST and XML-RPC: {page, pages, total, views: [{post_id, views}, ...], ...}.  Anything
    else (another plugin's route, a proxy's page, a broken count) is a WordPressError, never
    numbers made up from it.
    """
    def bad(why: str) -> WordPressError:
        return WordPressError(f"WordPress's view counter answered page {page} with {why}")

    if not isinstance(data, dict):
        raise bad(f"a {type(data).__name__}, not an object")
    if data.get("page") != page:
        raise bad(f"page {str(data.get('page'))[:20]!r}")
    pages = _strict_int(data.get("pages"), 0, MAX_VIEW_PAGES)
    if pages is None:
        raise bad("no valid page count")
    rows = data.get("views")
    if not isinstance(rows, list) or len(rows) > page_size:
        raise bad(f"views that are not a list of at most {page_size} posts")
    for row in rows:
        post_id = _strict_int(row.get("post_id"), 1, MAX_POST_ID) if isinstance(row, dict) else None
        count = _strict_int(row.get("views"), 0, MAX_VIEWS) if isinstance(row, dict) else None
        if post_id is None or count is None:
            raise bad(f"a post that is not {{post_id, views}} with whole numbers in range: {str(row)[:80]}")
        into[post_id] = max(count, into.get(post_id, 0))
    return pages


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

    def views_page(self, since: str | None, page: int, per_page: int) -> Any: ...
