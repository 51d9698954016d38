"""Pacing: one request slot at a time per forum, shared by every client and thread of the process.

Discourse counts every API-key request of a site against ``max_admin_api_reqs_per_minute``
in one bucket per site, not per key (lib/auth/default_current_user_provider.rb,
``admin_api_key_limiter``), so the pacer is per forum URL, not per client (see the package's
docstring for the arithmetic behind :data:`HEADROOM`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["HEADROOM", "Pacer", "SlotTooFar", "pacer_for"]

HEADROOM = 0.98


class Pacer:
    """Spaces requests at least ``interval`` seconds apart, whichever thread sends them.

    GCRA without burst: ``_next`` is the earliest time the next request may start. Reserving
    a slot moves it on by ``interval``; :meth:`hold_off` pushes it back after a 429. Thread
    safe; the sleeping happens outside the lock.
    """

    def __init__(self, requests_per_minute: float, *, headroom: float = HEADROOM,
                 clock: Callable[[], float] = time.monotonic):
        self._lock = threading.Lock()
        self._clock = clock
        self._next = float("-inf")
        self.set_rate(requests_per_minute, headroom=headroom)

    def set_rate(self, requests_per_minute: float, *, headroom: float = HEADROOM) -> None:
        if requests_per_minute <= 0 or not 0 < headroom <= 1:
            raise ValueError("requests_per_minute must be positive and headroom in (0, 1]")
        with self._lock:
            self.requests_per_minute = float(requests_per_minute)
            self.headroom = headroom
            self.interval = 60.0 / (self.requests_per_minute * headroom)

    def delay(self) -> float:
        """Seconds until the next request may start (0: now). Reserves nothing."""
        with self._lock:
            return max(0.0, self._next - self._clock())

    def reserve(self, max_wait: float | None = None) -> float:
        """Take the next free slot and return how long to wait for it; when that is more than
        `max_wait`, take nothing and raise :class:`SlotTooFar`."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            wait = start - now
            if max_wait is not None and wait > max_wait:
                raise SlotTooFar(wait)
            self._next = start + self.interval
            return wait

    def hold_off(self, seconds: float) -> None:
        """No request before `seconds` from now (the forum said so)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


class SlotTooFar(Exception):
    def __init__(self, wait: float):
        super().__init__(f"next free slot in {wait:.1f} s")
        self.wait = wait


_PACERS: dict[str, Pacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(url: str, requests_per_minute: float) -> Pacer:
    """The process-wide pacer of the forum at `url` (Discourse limits all API keys of a site
    together). A later call with another rate changes the shared pacer's rate."""
    key = url.rstrip("/").lower()
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None:
            pacer = _PACERS[key] = Pacer(requests_per_minute)
        elif pacer.requests_per_minute != requests_per_minute:
            pacer.set_rate(requests_per_minute)
        return pacer
