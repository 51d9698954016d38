"""The WordPress XML-RPC transport (``xmlrpc.php``, ``wp.*`` methods) through python-wordpress-xmlrpc."""

from __future__ import annotations

import xml.parsers.expat
import xmlrpc.client
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import requests

from bridge.clients._xmlrpc_compat import wordpress_xmlrpc
from bridge.clients.wordpress.errors import (BridgeMetaUnavailable, PostNotFound, WordPressAuthError,
                                             WordPressError, WordPressPermissionError, WordPressUnavailable)
from bridge.clients.wordpress.meta import check_meta_written, meta_from_strings, meta_key
from bridge.clients.wordpress.models import (TAXONOMIES, Author, Post, author_external_id, plain_title,
                                             split_terms, terms_sorted)

__all__ = ["XmlRpcBackend"]


class _GetPostViews(wordpress_xmlrpc.AuthenticatedMethod):
    """spaceBridge.getPostViews(blog_id, username, password, {since, page, per_page}): the
    mu-plugin's view counter (deploy/wordpress/space-bridge-views.php)."""

    method_name = "spaceBridge.getPostViews"
    method_args = ("query",)


class _SetPostMeta(wordpress_xmlrpc.AuthenticatedMethod):
    """spaceBridge.setPostMeta(blog_id, username, password, post_id, {key: value}): the bridge's
    meta written alone (deploy/wordpress/space-bridge.php, section 4); answers as wp.getPost."""

    method_name = "spaceBridge.setPostMeta"
    method_args = ("post_id", "meta")


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
            raise WordPressUnavailable(f"WordPress XML-RPC endpoint answered HTTP {resp.status_code}",
                                       status=resp.status_code)
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


def _published(value: Any) -> datetime | None:
    """``post_date_gmt`` as UTC, None when unset: a draft's is 0000-00-00 00:00:00, which
    _convert_date_gmt (class-wp-xmlrpc-server.php) answers with the local date instead; the
    caller only uses it for public posts, which always have one."""
    if value is None or str(getattr(value, "value", value)).startswith("0000"):
        return None
    try:
        return _parse_xmlrpc_date(value)
    except ValueError:
        return None


class XmlRpcBackend:
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
        categories, tags, language = split_terms(data.get("terms") or ())
        meta: dict[str, str] = {}
        for row in sorted(data.get("custom_fields") or (), key=lambda r: int(r["id"])):
            meta.setdefault(row["key"], row["value"])  # first row wins, as get_post_meta(single)
        cat_slugs, cat_names = terms_sorted(categories)
        tag_slugs, tag_names = terms_sorted(tags)
        return Post(
            id=int(data["post_id"]),
            title=plain_title(extra["title"]),
            content=extra["content"],
            excerpt=extra["excerpt"],
            status=extra.get("status") or data["post_status"],
            categories=cat_slugs,
            category_names=cat_names,
            tags=tag_slugs,
            tag_names=tag_names,
            author=self._author(int(data["post_author"]), author_external_id(extra.get("author_external_id"))),
            permalink=data["link"],
            modified=_parse_xmlrpc_date(data["post_modified_gmt"]),
            language=language,
            meta=meta_from_strings(meta),
            published=_published(data.get("post_date_gmt")),
            protected=bool(data.get("post_password")),
        )

    def _raw_post(self, post_id: int) -> dict[str, Any]:
        return self._call(wordpress_xmlrpc.methods.posts.GetPost(post_id), not_found=PostNotFound)

    # -- terms -----------------------------------------------------------------------------

    def _term_ids_for(self, kind: str, slugs: Sequence[str]) -> list[int]:
        taxonomy = TAXONOMIES[kind]
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
                terms[TAXONOMIES[kind]] = self._term_ids_for(kind, fields[kind])
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
                {"key": meta_key(name), "value": value} for name, value in fields["meta"].items() if value is not None
            ]
        post_id = int(self._call(wordpress_xmlrpc.methods.posts.NewPost(struct)))
        post = self.get_post(post_id)
        if fields.get("meta"):
            check_meta_written(post, fields["meta"])
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
        # spaceBridge.setPostMeta writes the meta alone: wp.editPost would save the whole post
        # and could undo an editor's change made at the same moment (space-bridge.php, section 4).
        fields = {meta_key(name): ("" if value is None else value) for name, value in encoded.items()}
        try:
            raw = self._call(_SetPostMeta(int(post_id), fields), not_found=PostNotFound)
        except PostNotFound:
            raise
        except WordPressError:
            if self._lib is None or _SetPostMeta.method_name in (self._lib.supported_methods or ()):
                raise
            raise BridgeMetaUnavailable(
                "WordPress XML-RPC has no spaceBridge.setPostMeta: is the current space-bridge mu-plugin "
                "(space-bridge.php) installed in wp-content/mu-plugins?"
            ) from None
        post = self._post(raw)
        check_meta_written(post, encoded)
        return post

    def views_page(self, since: str | None, page: int, per_page: int) -> Any:
        """One page of the mu-plugin's view counter over XML-RPC; the client checks the answer."""
        try:
            return self._call(_GetPostViews({"since": since or "", "page": page, "per_page": per_page}))
        except WordPressError:
            # The filter xmlrpc_methods adds the method, and mt.supportedMethods lists every
            # method (wp_xmlrpc_server::mt_supportedMethods()): absent, the mu-plugin is not loaded.
            if self._lib is None or _GetPostViews.method_name in (self._lib.supported_methods or ()):
                raise
        raise BridgeMetaUnavailable(
            "WordPress XML-RPC has no spaceBridge.getPostViews: is the space-bridge mu-plugin "
            "space-bridge-views.php installed in wp-content/mu-plugins?"
        )
