"""Keep the platforms' secrets out of every text a client raises or logs.

The clients build exception messages from what the libraries and servers said, and those
can echo what was sent: a request URL, a form body, a login's password. Each client runs such
text through one :class:`Scrubber` holding its secrets before it leaves the client; a secret a
library keeps as an attribute is wrapped in :class:`Hidden` so no repr shows it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REDACTED", "Hidden", "Scrubber"]

REDACTED = "[redacted]"


class Scrubber:
    """Replaces each of the given secrets, wherever it occurs in a text, with ``[redacted]``.

    Empty secrets and ones shorter than `min_length` are ignored: redacting every "ab" of a
    message would hide more than it protects (the bridge's secret policy refuses such
    secrets anyway). The longest secret is replaced first, so one secret that contains
    another is hidden whole.
    """

    def __init__(self, *secrets: str | None, min_length: int = 4):
        self._secrets = sorted({s for s in secrets if s and len(s) >= min_length}, key=len, reverse=True)

    def __call__(self, text: Any) -> str:
        text = str(text)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class Hidden:
    """A secret that does not show in repr/str (pydiscourse, for one, keeps the API key as an
    attribute); the secret itself is ``value``."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __repr__(self) -> str:
        return repr(REDACTED)

    __str__ = __repr__
