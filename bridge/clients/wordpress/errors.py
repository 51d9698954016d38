"""The WordPress client's errors: one family under :class:`~bridge.clients.errors.PlatformError`."""

from __future__ import annotations

from bridge.clients.errors import PlatformError

__all__ = ["BridgeMetaUnavailable", "PostNotFound", "WordPressAuthError", "WordPressError",
           "WordPressPermissionError", "WordPressUnavailable"]


class WordPressError(PlatformError):
    """A WordPress request failed.

    ``code`` is WordPress's error code (a REST ``code`` string such as ``rest_forbidden``, or
    an XML-RPC ``faultCode`` such as ``401``), ``message`` its message, ``status`` the HTTP
    status when there was one.  ``retryable`` tells whether trying the same request later
    may succeed (never with a known ``retry_after``: WordPress does not say).  The text never
    contains the password.
    """

    def __init__(self, message: str, *, code: str | int | None = None, status: int | None = None):
        super().__init__(message, status=status)
        self.code = code

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
