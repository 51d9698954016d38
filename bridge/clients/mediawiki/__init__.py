"""MediaWiki client: log in with a bot password, add to pages, read them back.

Built on mwclient 0.11 (:class:`mwclient.Site`), configured and extended for the bridge:

* **maxlag on every request.**  mwclient 0.11 only sends its ``max_lag`` to ``index.php``
  (``Site.raw_index``); API calls go out without it.  :class:`.site.Site` adds ``maxlag`` to every
  API call, as https://www.mediawiki.org/wiki/Manual:Maxlag_parameter asks of bots.
* **Back-off.**  When the servers lag, MediaWiki answers the error ``maxlag`` with the headers
  ``X-Database-Lag`` and ``Retry-After`` (ApiMain::checkMaxLag()).  mwclient's ``raw_call``
  already sleeps on that header: ``Sleeper.sleep(Retry-After)`` waits
  ``max(Retry-After, retry_timeout * (retries - 1))`` and gives up with
  ``MaximumRetriesExceeded`` after ``max_retries``.  We bound both (defaults 5 tries,
  5 s steps instead of mwclient's 25 and 30 s), fill in a missing ``Retry-After`` (mwclient
  would crash on ``int(None)``) and also retry a ``maxlag`` error whose headers a proxy
  dropped.  Running out of retries raises :class:`MediaWikiLagError` (retryable).
* **Typed errors** (:class:`MediaWikiError` and subclasses), each with ``retryable`` so the
  outbox can decide: a protected page or a block is final, a read-only wiki, lag, an edit
  conflict or a server error is worth retrying.
* **Secrets.**  mwclient's ``MaximumRetriesExceeded`` carries the request data as its args,
  which for a login includes ``lgpassword`` (and for edits the CSRF token); this client never
  lets such an exception (or its message) out, and scrubs the bot password from every text it
  raises or logs.
* **Sessions.**  Logging in is lazy (first operation) and is repeated once if the wiki says
  the session is gone (``assertuserfailed``) before giving up.

Modules: :mod:`.client` (the public class), :mod:`.site` (mwclient, extended), :mod:`.errors`
(errors and results). Import the public names from this package.
"""

from bridge.clients import DEFAULT_USER_AGENT
from bridge.clients.mediawiki.client import (DEFAULT_MAX_RETRIES, DEFAULT_MAXLAG, DEFAULT_RETRY_TIMEOUT,
                                             DEFAULT_TIMEOUT, MediaWikiClient)
from bridge.clients.mediawiki.errors import (EditConflict, EditResult, InvalidTitle, MediaWikiAuthError,
                                             MediaWikiEditRefused, MediaWikiError, MediaWikiLagError,
                                             MediaWikiUnavailable, PageNotFound, PageProtected, PageRevision,
                                             Section, UserBlocked, WikiReadOnly)

__all__ = [
    "DEFAULT_MAXLAG",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "DEFAULT_USER_AGENT",
    "EditConflict",
    "EditResult",
    "InvalidTitle",
    "MediaWikiAuthError",
    "MediaWikiClient",
    "MediaWikiEditRefused",
    "MediaWikiError",
    "MediaWikiLagError",
    "MediaWikiUnavailable",
    "PageNotFound",
    "PageProtected",
    "PageRevision",
    "Section",
    "UserBlocked",
    "WikiReadOnly",
]
