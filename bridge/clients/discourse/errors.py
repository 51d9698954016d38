"""The Discourse client's errors: one family under :class:`~bridge.clients.errors.PlatformError`."""

from __future__ import annotations

from collections.abc import Sequence

from bridge.clients.errors import PlatformError

__all__ = ["DiscourseAuthError", "DiscourseError", "DiscourseRateLimited", "DiscourseUnavailable",
           "DiscourseValidationError", "EmailTaken", "NotFound"]


class DiscourseError(PlatformError):
    """A Discourse request failed.

    ``status``: the HTTP status (None for network errors); ``errors``: Discourse's messages
    (its ``errors`` list, or ``message``/``error``); ``error_type`` (``invalid_access``,
    ``rate_limit``, ...); ``operation``: the ``ROUTES`` name; ``retryable``: whether the
    same request may succeed later; ``retry_after``: seconds to wait first, when known.
    The text never contains the API key or the DiscourseConnect secret.
    """

    def __init__(self, message: str, *, status: int | None = None, errors: Sequence[str] = (),
                 error_type: str | None = None, operation: str | None = None, retry_after: float | None = None):
        super().__init__(message, status=status, retry_after=retry_after)
        self.errors = tuple(errors)
        self.error_type = error_type
        self.operation = operation

    def __str__(self) -> str:
        return self.message + (f" [HTTP {self.status}]" if self.status is not None else "")


class DiscourseValidationError(DiscourseError):
    """Discourse refused the request's content (400/422): ``errors`` says why. Not retried."""


class EmailTaken(DiscourseValidationError):
    """A DiscourseConnect sync refused because another forum account has the member's e-mail
    address (with ``require_activation`` Discourse never links the two). Repeating cannot help:
    the member has to confirm the address on the wiki, or a forum admin to merge the accounts."""


class DiscourseAuthError(DiscourseError):
    """403: the API key or username is not accepted, or may not do this."""


class NotFound(DiscourseError):
    """404: no such topic, post, user, category or web hook (or not visible to the API user)."""


class DiscourseRateLimited(DiscourseError):
    """Still rate-limited after the allowed waits, or the next free slot is further away than
    the client may wait: try again after ``retry_after`` seconds."""

    retryable = True


class DiscourseUnavailable(DiscourseError):
    """Network failure, time-out or 5xx after the retries. ``maybe_applied`` is True when the
    forum may have carried out the request (the answer was lost, not the request)."""

    retryable = True

    def __init__(self, message: str, *, maybe_applied: bool = False, **kw):
        super().__init__(message, **kw)
        self.maybe_applied = maybe_applied
