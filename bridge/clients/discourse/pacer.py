"""Pacing: the forum's rate limit kept by every client and thread of the process together.

Discourse counts every API-key request of a site against ``max_admin_api_reqs_per_minute``
in one bucket per site, not per key (lib/auth/default_current_user_provider.rb,
``admin_api_key_limiter``), so the pacer is per forum URL, not per client (see the package's
docstring for the arithmetic behind :data:`HEADROOM` and :data:`WINDOW_MARGIN`).
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable

__all__ = ["HEADROOM", "WINDOW_MARGIN", "WINDOW_SECONDS", "Pacer", "SlotTooFar", "pacer_for"]

#: The share of the forum's allowance this process may use (lower it when something else uses
#: the same API bucket); the whole-second rounding is covered by WINDOW_MARGIN.
HEADROOM = 1.0
#: The window Discourse's admin API limiter counts over: ``RateLimiter.new(nil, "admin_api_min",
#: max_admin_api_reqs_per_minute, 60)``.
WINDOW_SECONDS = 60.0
#: lib/rate_limiter.rb stores whole seconds (``Time.now.to_i``) and lets a request through when
#: fewer than ``max`` are listed or the oldest of them is *more than* ``secs`` old, so a slot
#: comes back up to one second after the window; a quarter second more covers network jitter.
WINDOW_MARGIN = 1.25


class Pacer:
    """Keeps the requests that start in any ``window + margin`` seconds under the forum's limit.

    A sliding window like Discourse's own limiter, so the bridge may use the burst the forum
    allows (a new topic's few requests at once after a quiet spell) and never earns a 429: a
    request may start when fewer than ``capacity`` requests started in the last ``span``
    seconds; otherwise it waits until the oldest of those leaves the span. :meth:`hold_off`
    pushes every later request back after a 429. Thread safe; the sleeping happens outside the
    lock.
    """

    def __init__(self, requests_per_minute: float, *, headroom: float = HEADROOM,
                 window_seconds: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._lock = threading.Lock()
        self._clock = clock
        self._starts: list[float] = []  # the last `capacity` reserved start times, in order
        self._hold_until = float("-inf")
        self.window_seconds = float(window_seconds)
        self.set_rate(requests_per_minute, headroom=headroom, window_seconds=window_seconds)

    def set_rate(self, requests_per_minute: float, *, headroom: float = HEADROOM,
                 window_seconds: float | None = None) -> None:
        """`window_seconds`: a forum (or double) counting over another window than Discourse's 60 s."""
        if requests_per_minute <= 0 or not 0 < headroom <= 1 or (window_seconds is not None and window_seconds <= 0):
            raise ValueError("requests_per_minute and window_seconds must be positive and headroom in (0, 1]")
        with self._lock:
            self.requests_per_minute = float(requests_per_minute)
            self.headroom = headroom
            if window_seconds is not None:
                self.window_seconds = float(window_seconds)
            allowed = self.requests_per_minute * self.window_seconds / 60.0
            self.capacity = max(1, math.floor(allowed * headroom))
            self.span = self.window_seconds + WINDOW_MARGIN
            self._starts = self._starts[-self.capacity:]

    def _next_start(self, now: float) -> float:
        start = max(now, self._hold_until)
        if len(self._starts) >= self.capacity:
            start = max(start, self._starts[-self.capacity] + self.span)
        return start

    def delay(self) -> float:
        """Seconds until the next request may start (0: now). Reserves nothing."""
        with self._lock:
            now = self._clock()
            return max(0.0, self._next_start(now) - now)

    def reserve(self, max_wait: float | None = None) -> float:
        """Take the next free slot and return how long to wait for it; when that is more than
        `max_wait`, take nothing and raise :class:`SlotTooFar`."""
        with self._lock:
            now = self._clock()
            start = self._next_start(now)
            wait = start - now
            if max_wait is not None and wait > max_wait:
                raise SlotTooFar(wait)
            bisect.insort(self._starts, start)
            del self._starts[:-self.capacity]
            return wait

    def hold_off(self, seconds: float) -> None:
        """No request before `seconds` from now (the forum said so)."""
        with self._lock:
            self._hold_until = max(self._hold_until, self._clock() + seconds)


class SlotTooFar(Exception):
    def __init__(self, wait: float):
        super().__init__(f"next free slot in {wait:.1f} s")
        self.wait = wait


_PACERS: dict[str, Pacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(url: str, requests_per_minute: float, *, window_seconds: float | None = None) -> Pacer:
    """The process-wide pacer of the forum at `url` (Discourse limits all API keys of a site
    together). A later call with another rate (or window) changes the shared pacer's."""
    key = url.rstrip("/").lower()
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None:
            pacer = _PACERS[key] = Pacer(requests_per_minute, window_seconds=window_seconds or WINDOW_SECONDS)
        elif pacer.requests_per_minute != requests_per_minute or (
                window_seconds is not None and window_seconds != pacer.window_seconds):
            pacer.set_rate(requests_per_minute, window_seconds=window_seconds)
        return pacer
