"""The WordPress REST transport (``/wp-json/wp/v2``, Application Password as HTTP Basic auth)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

from bridge.clients.wordpress.errors import (BridgeMetaUnavailable, PostNotFound, WordPressAuthError,
                                             WordPressError, WordPressPermissionError, WordPressUnavailable)
from bridge.clients.wordpress.meta import (META_FIELDS, META_PREFIX, check_meta_written, format_utc,
                                           meta_from_strings, meta_key)
from bridge.clients.wordpress.models import (TAXONOMIES, Author, Post, author_external_id, plain_title,
                                             split_terms, terms_sorted)

__all__ = ["RestBackend"]


def _gmt(value: Any) -> datetime | None:
    """A REST ``*_gmt`` field as UTC; the API gives null for a draft never dated
    (WP_REST_Posts_Controller::prepare_item_for_response, "date_gmt" of a post whose
    post_date_gmt is 0000-00-00 00:00:00)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.rstrip("Z")).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


class RestBackend:
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
        categories, tags, term_language = split_terms(terms)
        language = data.get("lang") or term_language
        meta = data.get("meta")
        if not isinstance(meta, dict) or any(meta_key(name) not in meta for name in META_FIELDS):
            raise BridgeMetaUnavailable(
                "the REST API does not expose the bridge's post meta "
                f"({META_PREFIX}*): is the space-bridge mu-plugin installed in wp-content/mu-plugins?"
            )
        cat_slugs, cat_names = terms_sorted(categories)
        tag_slugs, tag_names = terms_sorted(tags)
        return Post(
            id=int(data["id"]),
            title=plain_title(data["title"]["rendered"]),
            content=data["content"]["rendered"],
            excerpt=data["excerpt"]["rendered"],
            status=data["status"],
            categories=cat_slugs,
            category_names=cat_names,
            tags=tag_slugs,
            tag_names=tag_names,
            author=Author(int(data["author"]), author_name,
                          author_external_id(data.get("space_bridge_author_external_id"))),
            permalink=data["link"],
            modified=datetime.fromisoformat(data["modified_gmt"]).replace(tzinfo=timezone.utc),
            language=language,
            meta=meta_from_strings(meta),
            published=_gmt(data.get("date_gmt")),
            protected=bool((data.get("content") or {}).get("protected")),
        )

    # -- terms -----------------------------------------------------------------------------

    def _term_ids_for(self, kind: str, slugs: Sequence[str]) -> list[int]:
        route = f"/wp/v2/{kind}"
        taxonomy = TAXONOMIES[kind]
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
            "modified_after": format_utc(since - timedelta(seconds=1)),
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
            body["meta"] = {meta_key(name): value for name, value in fields["meta"].items()}
        resp = self._request("POST", "/wp/v2/posts", params={"_embed": self._EMBED}, json_body=body)
        post = self._post(resp.json())
        if fields.get("meta"):
            check_meta_written(post, fields["meta"])
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
        # The mu-plugin's own route writes the meta alone: `POST /wp/v2/posts/<id>` would save
        # the whole post and could undo an editor's change made at the same moment
        # (deploy/wordpress/space-bridge.php, section 4).
        body = {"meta": {meta_key(name): value for name, value in encoded.items()}}
        try:
            resp = self._request(
                "POST", f"/space-bridge/v1/posts/{post_id}/meta", params={"_embed": self._EMBED}, json_body=body
            )
        except WordPressError as exc:
            if exc.code == "rest_post_invalid_id":
                raise PostNotFound(str(exc), code=exc.code, status=exc.status) from None
            if exc.code != "rest_no_route":
                raise
            raise BridgeMetaUnavailable(
                "WordPress has no route POST /space-bridge/v1/posts/<id>/meta: is the current space-bridge "
                "mu-plugin (space-bridge.php) installed in wp-content/mu-plugins?", code=exc.code, status=exc.status,
            ) from None
        post = self._post(resp.json())
        check_meta_written(post, encoded)
        return post

    def views_page(self, since: str | None, page: int, per_page: int) -> Any:
        """One page of the mu-plugin's view counter (deploy/wordpress/space-bridge-views.php),
        ``GET /space-bridge/v1/views``; the client checks the answer."""
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if since is not None:
            params["since"] = since
        try:
            resp = self._request("GET", "/space-bridge/v1/views", params=params)
        except WordPressError as exc:
            # WP_REST_Server::dispatch() answers 404 rest_no_route for a route nobody registered.
            if exc.code != "rest_no_route":
                raise
            raise BridgeMetaUnavailable(
                "WordPress has no view counter (REST /space-bridge/v1/views): is the space-bridge "
                "mu-plugin space-bridge-views.php installed in wp-content/mu-plugins?",
                code=exc.code, status=exc.status,
            ) from None
        try:
            return resp.json()
        except ValueError:
            raise WordPressError(
                f"WordPress REST GET /space-bridge/v1/views answered something else than JSON: {resp.text[:100]!r}",
                status=resp.status_code,
            ) from None
