"""The MediaWiki client: log in with a bot password, add to pages, read them back."""

from __future__ import annotations

import html
import re
from typing import Any, Self

import mwclient
import mwclient.errors
import requests
import structlog

from bridge.clients import DEFAULT_USER_AGENT
from bridge.clients.mediawiki.errors import (EditConflict, EditResult, InvalidTitle, MediaWikiAuthError,
                                             MediaWikiEditRefused, MediaWikiError, MediaWikiLagError,
                                             MediaWikiUnavailable, PageNotFound, PageProtected, PageRevision,
                                             Section, UserBlocked, WikiReadOnly)
from bridge.clients.mediawiki.site import Site, response_hook, split_api_url
from bridge.clients.scrub import Scrubber

__all__ = ["DEFAULT_MAXLAG", "DEFAULT_MAX_RETRIES", "DEFAULT_RETRY_TIMEOUT", "DEFAULT_TIMEOUT", "MediaWikiClient"]

log = structlog.get_logger(__name__)

DEFAULT_MAXLAG = 5
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_TIMEOUT = 5

_TAG_RE = re.compile(r"<[^>]+>")


class MediaWikiClient:
    """Edits and reads pages of one MediaWiki wiki as a bot.

    Args:
        api_url: the wiki's ``api.php``, e.g. ``https://meta.wikimedia.org/w/api.php``.
        username: the bot password's login name, ``User@botname``.
        password: the bot password (from Special:BotPasswords).  Never logged.
        user_agent: a descriptive User-Agent with the tool name/version and a contact
            (URL or e-mail), per https://meta.wikimedia.org/wiki/User-Agent_policy;
            mwclient appends its own name and version.
        maxlag: seconds of database lag above which the wiki should refuse our requests
            (sent with every request; 5 is what Wikimedia asks of bots).
        timeout: seconds to wait for each HTTP request.
        max_retries: how many times to retry a request that met lag, a server error or a
            network failure before raising.
        retry_timeout: seconds added to the wait for each further retry (the wait is at
            least the server's ``Retry-After``).

    Use :meth:`from_host` to build the API URL from host, path and scheme.  No request is
    made until the first operation (or :meth:`login`).
    """

    def __init__(
        self,
        api_url: str,
        username: str,
        password: str,
        user_agent: str = DEFAULT_USER_AGENT,
        maxlag: int = DEFAULT_MAXLAG,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_timeout: int = DEFAULT_RETRY_TIMEOUT,
    ):
        self.api_url = api_url
        self._scheme, self._host, self._path, self._ext = split_api_url(api_url)
        self.username = username
        self._password = password
        # Any length: a bot password is generated long, and this client always hid it whole.
        self._scrub = Scrubber(password, min_length=1)
        self.user_agent = user_agent
        self.maxlag = maxlag
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_timeout = retry_timeout
        self._site: Site | None = None

    @classmethod
    def from_host(cls, host: str, username: str, password: str, *, path: str = "/w/", scheme: str = "https",
                  **kwargs: Any) -> MediaWikiClient:
        """Build from mwclient-style parts: ``from_host("meta.wikimedia.org", ...)``."""
        if not path.endswith("/"):
            path += "/"
        return cls(f"{scheme}://{host}{path}api.php", username, password, **kwargs)

    def __repr__(self) -> str:
        return f"<MediaWikiClient {self.api_url} as {self.username!r}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._site is not None:
            self._site.connection.close()
            self._site = None

    # -- session ---------------------------------------------------------------------------

    def _on_wait(self, sleeper: Any, retries: int, args: Any) -> None:
        # mwclient passes the request data as `args` (a login's includes the password): never log it.
        log.info("mediawiki.retry", host=self._host, retry=retries, max_retries=self.max_retries)

    def _new_site(self) -> Site:
        site_ref: dict = {}
        site = Site(
            self._host,
            path=self._path,
            ext=self._ext,
            scheme=self._scheme,
            clients_useragent=self.user_agent,
            max_lag=self.maxlag,
            max_retries=self.max_retries,
            retry_timeout=self.retry_timeout,
            wait_callback=self._on_wait,
            connection_options={"timeout": self.timeout},
            force_login=True,
            do_init=False,
        )
        site.last_lag = None
        site_ref["site"] = site
        site.connection.hooks["response"].append(response_hook(site_ref))
        return site

    def login(self) -> None:
        """Log in with the bot password (again, if already logged in)."""
        if self._site is not None:
            self._site.connection.close()
        self._site = None
        site = self._new_site()
        # Errors are built inside the except blocks but raised after them, so they carry no
        # __context__: mwclient's exceptions may hold the request data, password included.
        error: MediaWikiError | None = None
        try:
            site.login(self.username, self._password)
        except mwclient.errors.LoginError as exc:
            error = MediaWikiAuthError(
                self._scrub(f"MediaWiki login as {self.username!r} refused: {exc.info}"),
                code=str(exc.code), info=self._scrub(exc.info),
            )
        except Exception as exc:  # noqa: BLE001 - mapped, see above
            error = self._map_error(exc, "login", site)
        if error is not None:
            site.connection.close()
            raise error
        if not site.logged_in:
            raise MediaWikiAuthError(f"MediaWiki login as {self.username!r} did not create a session")
        self._site = site

    def _ensure_site(self) -> Site:
        if self._site is None:
            self.login()
        assert self._site is not None
        return self._site

    def _map_error(self, exc: BaseException, what: str, site: Site | None) -> MediaWikiError:
        """Any exception from mwclient/requests -> a MediaWikiError without secrets."""
        prefix = f"MediaWiki {self._host} {what}"
        if isinstance(exc, MediaWikiError):
            return exc
        if isinstance(exc, mwclient.errors.MaximumRetriesExceeded):
            lag = getattr(site, "last_lag", None)
            if lag is not None:
                return MediaWikiLagError(f"{prefix}: database lag ({lag}s) above maxlag {self.maxlag} "
                                         f"for {self.max_retries} retries", code="maxlag")
            return MediaWikiUnavailable(f"{prefix}: gave up after {self.max_retries} retries")
        if isinstance(exc, mwclient.errors.APIError):
            code, info = exc.code, self._scrub(exc.info)
            if code == "readonly":
                return WikiReadOnly(f"{prefix}: wiki is read-only: {info}", code=code, info=info)
            if code in ("missingtitle", "nosuchpageid"):
                return PageNotFound(f"{prefix}: no such page", code=code, info=info)
            if code in ("invalidtitle", "invalid-title"):
                return InvalidTitle(f"{prefix}: {info}", code=code, info=info)
            if code in ("blocked", "autoblocked"):
                return UserBlocked(f"{prefix}: {info}", code=code, info=info)
            if code in ("assertuserfailed", "assertbotfailed", "assertnameduserfailed", "notloggedin",
                        "badtoken", "mustbeloggedin"):
                return MediaWikiAuthError(f"{prefix}: session lost: {info}", code=code, info=info)
            if code and code.startswith("internal_api_error"):
                return MediaWikiUnavailable(f"{prefix}: {info}", code=code, info=info)
            return MediaWikiError(f"{prefix}: {info}", code=code, info=info)
        if isinstance(exc, mwclient.errors.ProtectedPageError):
            code = exc.code or "protectedpage"
            info = self._scrub(exc.info) if exc.info else "the bot may not edit this page"
            return PageProtected(f"{prefix}: page is protected: {info}", code=code, info=info)
        if isinstance(exc, mwclient.errors.UserBlocked):
            return UserBlocked(f"{prefix}: the bot account is blocked", code="blocked")
        if isinstance(exc, mwclient.errors.AssertUserFailedError):
            return MediaWikiAuthError(f"{prefix}: not logged in (session lost)", code="assertuserfailed")
        if isinstance(exc, mwclient.errors.InsufficientPermission):
            return MediaWikiEditRefused(f"{prefix}: insufficient permission", code="permissiondenied")
        if isinstance(exc, mwclient.errors.InvalidPageTitle):
            return InvalidTitle(f"{prefix}: invalid title: {self._scrub(exc)}", code="invalidtitle")
        if isinstance(exc, mwclient.errors.EditError):
            detail = exc.args[1] if len(exc.args) > 1 else None
            if isinstance(detail, str):  # editconflict: EditError(page, summary, info)
                return EditConflict(f"{prefix}: edit conflict", code="editconflict")
            return MediaWikiEditRefused(f"{prefix}: edit failed: {self._scrub(detail)}", code="editfailure")
        if isinstance(exc, mwclient.errors.InvalidResponse):
            return MediaWikiUnavailable(f"{prefix}: the server did not answer JSON (is {self.api_url} right?)")
        if isinstance(exc, mwclient.errors.APIDisabledError):
            return MediaWikiError(f"{prefix}: the API is disabled on this wiki", code="apidisabled")
        if isinstance(exc, requests.HTTPError):
            status = exc.response.status_code if exc.response is not None else None
            if status is not None and (status >= 500 or status == 429):
                return MediaWikiUnavailable(f"{prefix}: HTTP {status}")
            return MediaWikiError(f"{prefix}: HTTP {status}")
        if isinstance(exc, requests.Timeout):
            return MediaWikiUnavailable(f"{prefix}: timed out after {self.timeout}s")
        if isinstance(exc, requests.RequestException):
            return MediaWikiUnavailable(self._scrub(f"{prefix}: {type(exc).__name__}: {exc}"))
        if isinstance(exc, mwclient.errors.MwClientError):
            return MediaWikiError(self._scrub(f"{prefix}: {type(exc).__name__}: {exc}"))
        return MediaWikiError(self._scrub(f"{prefix}: {type(exc).__name__}: {exc}"))

    def _run(self, what: str, operation):
        """Run operation(site), logging in first; on a lost session log in again once."""
        for attempt in (1, 2):
            site = self._ensure_site()
            site.last_lag = None
            try:
                return operation(site)
            except Exception as exc:  # noqa: BLE001 - mapped below, never chained
                error = self._map_error(exc, what, site)
            if isinstance(error, MediaWikiAuthError) and attempt == 1:
                log.info("mediawiki.session_lost", host=self._host, action="logging in again")
                self._site = None
                continue
            raise error
        raise AssertionError("unreachable")

    # -- edits -----------------------------------------------------------------------------

    def _edit(self, what: str, title: str, create: bool, do_edit) -> EditResult:
        """Run do_edit(page, extra_params) on a fresh Page (so no stale base revision)."""
        extra = {} if create else {"nocreate": "1"}

        def operation(site: Site) -> EditResult:
            page = site.pages[title]
            result = do_edit(page, extra)
            changed = "nochange" not in result
            return EditResult(
                title=result.get("title", page.name),
                page_id=result.get("pageid"),
                revision_id=result.get("newrevid") if changed else None,
                changed=changed,
            )

        return self._run(f"{what} {title!r}", operation)

    def append_section(self, title: str, heading: str, text: str, summary: str, *, create: bool = True) -> EditResult:
        """Add a new section ``== heading ==`` with ``text`` at the end of a page
        (``action=edit&section=new&sectiontitle=heading``).

        The page is created if it does not exist (unless ``create=False``, which raises
        PageNotFound instead).
        """
        return self._edit(
            "append section to", title, create,
            lambda page, extra: page.edit(text, summary=summary, section="new", sectiontitle=heading, **extra),
        )

    def append_text(self, title: str, text: str, summary: str, *, create: bool = True) -> EditResult:
        """Add wikitext at the end of a page (``appendtext``; no separator is added: start
        ``text`` with a newline to begin a new line)."""
        return self._edit("append to", title, create, lambda page, extra: page.append(text, summary=summary, **extra))

    def prepend_text(self, title: str, text: str, summary: str, *, create: bool = True) -> EditResult:
        """Add wikitext at the start of a page (``prependtext``; end ``text`` with a newline
        to keep it apart)."""
        return self._edit("prepend to", title, create, lambda page, extra: page.prepend(text, summary=summary, **extra))

    # -- reads -----------------------------------------------------------------------------

    def get_wikitext(self, title: str) -> str:
        """The current wikitext of a page; PageNotFound if it does not exist."""

        def operation(site: Site) -> str:
            page = site.pages[title]
            if not page.exists:
                raise PageNotFound(f"MediaWiki {self._host}: no page {title!r}", code="missingtitle")
            return page.text(cache=False)

        return self._run(f"read {title!r}", operation)

    def _query_page(self, site: Site, title: str, redirects: bool, **params: Any) -> dict:
        """The one page of an ``action=query&titles=`` answer (formatversion=2), or the error
        MediaWiki's ApiPageSet gives it: ``invalid`` (InvalidTitle), ``missing`` (PageNotFound)."""
        if redirects:
            params["redirects"] = 1
        data = site.get("query", titles=title, formatversion=2, **params)
        pages = (data.get("query") or {}).get("pages") or []
        page = pages[0] if pages and isinstance(pages[0], dict) else {}
        if page.get("invalid") or not pages:
            reason = str(page.get("invalidreason") or "not a valid title")
            raise InvalidTitle(f"MediaWiki {self._host}: {title!r}: {reason}", code="invalidtitle", info=reason)
        if page.get("missing") or "pageid" not in page:
            raise PageNotFound(f"MediaWiki {self._host}: no page {title!r}", code="missingtitle")
        return page

    def page_revision(self, title: str, *, redirects: bool = False) -> PageRevision:
        """A page's current revision id, content model and text, in one request
        (``action=query&prop=revisions&rvprop=ids|content|contentmodel&rvslots=main``,
        mediawiki.org/wiki/API:Revisions). PageNotFound when it does not exist, InvalidTitle
        when the title is not one; ``redirects=True`` reads the page a redirect points to."""

        def operation(site: Site) -> PageRevision:
            page = self._query_page(site, title, redirects, prop="revisions",
                                    rvprop="ids|content|contentmodel", rvslots="main")
            revisions = page.get("revisions") or []
            if not revisions:
                raise PageNotFound(f"MediaWiki {self._host}: {title!r} has no revision", code="missingtitle")
            rev = revisions[0]
            main = (rev.get("slots") or {}).get("main") or {}
            if main.get("texthidden") or "content" not in main:
                # a revision whose text is deleted (revision deletion): nothing to read
                raise MediaWikiError(f"MediaWiki {self._host}: the text of {title!r} is hidden", code="texthidden")
            return PageRevision(title=page.get("title", title), page_id=int(page["pageid"]),
                                revision_id=int(rev["revid"]), content_model=str(main.get("contentmodel", "")),
                                text=str(main["content"]))

        return self._run(f"read {title!r}", operation)

    def revision_id(self, title: str, *, redirects: bool = False) -> int | None:
        """The id of a page's current revision, None when the page does not exist: one cheap
        request without the text (``prop=info``, its ``lastrevid``; mediawiki.org/wiki/API:Info),
        to tell whether a page changed since it was read with page_revision()."""

        def operation(site: Site) -> int | None:
            try:
                page = self._query_page(site, title, redirects, prop="info")
            except PageNotFound:
                return None
            return int(page["lastrevid"])

        return self._run(f"look up {title!r}", operation)

    def page_exists(self, title: str) -> bool:
        return self._run(f"look up {title!r}", lambda site: site.pages[title].exists)

    def sections(self, title: str) -> list[Section]:
        """The section headings of a page, in order; PageNotFound if it does not exist."""

        def operation(site: Site) -> list[Section]:
            info = site.get("parse", page=title, prop="sections", redirects=1)
            return [
                Section(
                    level=int(s["level"]),
                    heading=html.unescape(_TAG_RE.sub("", s["line"])).strip(),
                    anchor=s.get("anchor", ""),
                    index=str(s.get("index", "")),
                )
                for s in info["parse"]["sections"]
            ]

        return self._run(f"list sections of {title!r}", operation)

    def user_status(self, username: str) -> dict[str, Any]:
        """Whether `username` is blocked on this wiki or globally locked, in one query:
        ``list=users&usprop=blockinfo`` (mediawiki.org/wiki/API:Users: ``blockid``, ``blockexpiry``,
        ``blockreason`` when blocked; ``missing`` for an unknown name) and, on wikis with
        CentralAuth (meta.wikimedia.org), ``meta=globaluserinfo&guiuser=`` (API:Globaluserinfo:
        ``locked`` when the global account is locked). Wikis without CentralAuth only warn about
        the unknown module: ``locked`` is then None (unknown)."""

        def operation(site: Site) -> dict[str, Any]:
            data = site.get("query", list="users", ususers=username, usprop="blockinfo",
                            meta="globaluserinfo", guiuser=username)
            query = data.get("query") or {}
            user = (query.get("users") or [{}])[0]
            gui = query.get("globaluserinfo")
            return {
                "missing": "missing" in user or "invalid" in user,
                "blocked": "blockid" in user,
                "block_expiry": user.get("blockexpiry"),
                "block_reason": user.get("blockreason"),
                "locked": None if gui is None else ("locked" in gui and gui["locked"] is not False),
            }

        return self._run(f"look up user {username!r}", operation)
