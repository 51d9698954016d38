"""The MediaWiki client's errors (one family under :class:`~bridge.clients.errors.PlatformError`)
and its results."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.clients.errors import PlatformError

__all__ = ["EditConflict", "EditResult", "InvalidTitle", "MediaWikiAuthError", "MediaWikiEditRefused",
           "MediaWikiError", "MediaWikiLagError", "MediaWikiUnavailable", "PageNotFound", "PageProtected",
           "PageRevision", "Section", "UserBlocked", "WikiReadOnly"]


class MediaWikiError(PlatformError):
    """A MediaWiki request failed.  ``code``/``info`` are the API's error code and text."""

    def __init__(self, message: str, *, code: str | None = None, info: str | None = None):
        super().__init__(message)
        self.code = code
        self.info = info

    def __str__(self) -> str:
        return f"{self.message} [code {self.code}]" if self.code else self.message


class MediaWikiAuthError(MediaWikiError):
    """The bot password login was refused (wrong name/password, bot password revoked, ...)."""


class MediaWikiUnavailable(MediaWikiError):
    """Network failure, time-out, server error or garbage answer: retry later."""

    retryable = True


class MediaWikiLagError(MediaWikiUnavailable):
    """The wiki's database lag stayed above ``maxlag`` for all our retries: retry later."""


class MediaWikiEditRefused(MediaWikiError):
    """The wiki refused the edit (abuse filter, spam blacklist, captcha, ...)."""


class PageProtected(MediaWikiEditRefused):
    """The page (or its title, or namespace) is protected against our edit."""


class UserBlocked(MediaWikiEditRefused):
    """The bot account is blocked."""


class WikiReadOnly(MediaWikiEditRefused):
    """The wiki is in read-only mode (maintenance): retry later."""

    retryable = True


class EditConflict(MediaWikiEditRefused):
    """Someone else edited the page meanwhile: retry (re-read first if it matters)."""

    retryable = True
    #: The conflict is over once the page is read again, so try again almost at once.
    retry_after = 2.0


class PageNotFound(MediaWikiError):
    """The page does not exist."""


class InvalidTitle(MediaWikiError):
    """Not a valid page title."""


# ----------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class EditResult:
    """What an edit did: ``revision_id`` is the new revision (None when nothing changed)."""

    title: str
    page_id: int | None
    revision_id: int | None
    changed: bool


@dataclass(frozen=True)
class Section:
    """A section heading of a page, as the parser sees it.

    ``level`` is 2 for ``== h ==``; ``heading`` is plain text; ``index`` is the section
    number used by ``action=edit&section=`` (a string, "T-1" for transcluded sections).
    """

    level: int
    heading: str
    anchor: str
    index: str


@dataclass(frozen=True)
class PageRevision:
    """A page's current revision: its id, the main slot's content model and text.

    ``title`` is the page read (after a redirect, when one was followed)."""

    title: str
    page_id: int
    revision_id: int
    content_model: str
    text: str
