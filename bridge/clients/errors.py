"""What every client error says about trying again, and what a job handler does with it.

Each platform's client raises its own error family (:class:`~bridge.clients.discourse.DiscourseError`,
:class:`~bridge.clients.wordpress.WordPressError`, :class:`~bridge.clients.mediawiki.MediaWikiError`,
:class:`~bridge.clients.wordpress.accounts.WordPressSSOError`), each with the details of its
platform. What a job handler needs from any of them is the same two facts, so they share
this base: ``retryable`` (may the same request succeed later?) and ``retry_after`` (seconds
the platform asked us to wait, when it said). :func:`outbox_failure` turns those into the
outbox's outcomes, one rule for every platform.
"""

from __future__ import annotations

__all__ = ["PlatformError", "outbox_failure"]


class PlatformError(Exception):
    """A request to an external platform failed.

    ``retryable``: whether repeating the same request later may succeed (a class default
    that a subclass or an instance may override); ``retry_after``: seconds to wait first,
    when the platform said (None: unknown); ``status``: the HTTP status, when there was one.
    The message never contains a secret.
    """

    retryable: bool = False
    retry_after: float | None = None
    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None,
                 retryable: bool | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        if retry_after is not None:
            self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable


def outbox_failure(exc: PlatformError) -> Exception:
    """The outbox exception for a failed platform call, for a job handler to raise:
    ``RetryLater(retry_after)`` when the platform said when to come back, the error itself
    (so the outbox applies its own back-off) when it is retryable without a time,
    ``PermanentFailure`` when repeating cannot help."""
    # Imported here: the clients are used outside the outbox (CLI, setup) and need not load it.
    from bridge.outbox import PermanentFailure, RetryLater

    if exc.retryable:
        return RetryLater(exc.retry_after, str(exc)) if exc.retry_after is not None else exc
    return PermanentFailure(str(exc))
