"""The Discourse client's transport: one function sends every request, paced, retried and typed.

See the package's docstring for the rules it follows (route table, pacing, 429s, retries).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import parse_qsl, quote

import requests
import structlog
import tenacity

from bridge.clients import DEFAULT_USER_AGENT
from bridge.clients.discourse.errors import (DiscourseAuthError, DiscourseError, DiscourseRateLimited,
                                             DiscourseUnavailable, DiscourseValidationError, NotFound)
from bridge.clients.discourse.pacer import Pacer, SlotTooFar, pacer_for
from bridge.clients.discourse.pydiscourse_adapter import PyDiscourse
from bridge.clients.discourse.routes import ROUTES, route_for
from bridge.clients.scrub import Hidden, Scrubber

__all__ = ["DEFAULT_TIMEOUT", "DiscourseTransport"]

log = structlog.get_logger(__name__)

DEFAULT_TIMEOUT = 30.0


class _Transient(Exception):
    """An attempt that may succeed if repeated; `error` is raised when the retries are spent."""

    def __init__(self, kind: str, error: DiscourseError):
        super().__init__(str(error))
        self.kind = kind  # "rate_limit", "server" or "network"
        self.error = error


@dataclass
class _CallOptions:
    username: str | None = None
    retry_unsafe: bool = False
    maybe_applied: bool = False


def _not_sent(exc: requests.RequestException) -> bool:
    """True when the request surely never reached the server (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc.args[0]) if exc.args else repr(exc)
        return "NewConnectionError" in text or "NameResolutionError" in text or "Failed to resolve" in text
    return False


def _messages(body: Any) -> list[str]:
    if isinstance(body, dict):
        errs = body.get("errors")
        if isinstance(errs, list) and errs:
            return [str(e) for e in errs]
        if isinstance(errs, str) and errs:
            return [errs]
        for key in ("message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return [body[key]]
    return []


def _wait_seconds(resp: requests.Response, body: Any) -> float:
    wait = None
    if isinstance(body, dict):
        wait = (body.get("extras") or {}).get("wait_seconds")
    if wait is None:
        try:
            wait = float(resp.headers.get("Retry-After", ""))
        except ValueError:
            wait = None
    try:
        wait = float(wait)
    except (TypeError, ValueError):
        wait = 10.0  # a 429 from a proxy, without Discourse's body or a Retry-After
    # Discourse's seconds_to_wait can be 0 when the oldest request is exactly `secs` old.
    return max(1.0, wait)


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


class DiscourseTransport:
    """One forum's connection: sessions per thread, the shared pacer, and :meth:`_call`, the one
    function every request goes through. :class:`~bridge.clients.discourse.DiscourseClient`
    adds the operations on top.
    """

    def __init__(self, url: str, api_key: str, api_username: str = "system", *,
                 connect_secret: str | None = None, requests_per_minute: float = 60,
                 user_agent: str = DEFAULT_USER_AGENT, timeout: float = DEFAULT_TIMEOUT,
                 max_retries: int = 4, max_rate_limit_retries: int = 5, max_wait: float | None = None,
                 backoff_initial: float = 0.5, backoff_max: float = 8.0,
                 sleep: Callable[[float], None] = time.sleep, pacer: Pacer | None = None):
        if not api_key:
            raise ValueError("a Discourse API key is required")
        if not api_username.isascii():
            # another user beyond ASCII is acted as by id, looked up as the API user (_acting_as),
            # which therefore must be nameable in the Api-Username header itself
            raise ValueError(f"the Discourse API username must be ASCII, not {api_username!r}")
        self.url = url.rstrip("/")
        self.api_username = api_username
        self.timeout = timeout
        self.user_agent = user_agent
        self.max_retries = max_retries
        self.max_rate_limit_retries = max_rate_limit_retries
        self.max_wait = max_wait
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._key = Hidden(api_key)
        self._connect_secret = Hidden(connect_secret) if connect_secret else None
        self._scrub = Scrubber(api_key, connect_secret)
        self.pacer = pacer or pacer_for(self.url, requests_per_minute)
        self._api = PyDiscourse(self, api_key)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._user_ids: dict[str, int] = {}  # non-ASCII usernames -> id, for Api-User-Id

    def __repr__(self) -> str:
        return f"<DiscourseClient {self.url} as {self.api_username!r}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for s in sessions:
            s.close()

    # -- pacing ------------------------------------------------------------------------------
    def next_request_delay(self) -> float:
        """Seconds until this process may send its next request to the forum (0: now). A job
        handler may raise ``RetryLater(delay)`` instead of waiting."""
        return self.pacer.delay()

    # -- transport ---------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["User-Agent"] = self.user_agent
            self._local.session = s
            with self._sessions_lock:
                self._sessions.append(s)
        return s

    def _opts(self) -> _CallOptions:
        return getattr(self._local, "opts", None) or _CallOptions()

    @contextmanager
    def _options(self, **values):
        """Per-call options for the requests pydiscourse methods send on this thread."""
        saved = getattr(self._local, "opts", None)
        self._local.opts = _CallOptions(**values)
        try:
            yield self._local.opts
        finally:
            self._local.opts = saved

    def _acting_as(self, username: str) -> dict[str, str]:
        """The header naming the user a request acts as. Header values are bytes that Rack hands
        over undecoded, so a username beyond ASCII (Discourse's unicode_usernames: محمد, Женя)
        goes as its id in Api-User-Id, which lib/auth/default_current_user_provider.rb reads too
        (the key must be one for all users, as acting as a member needs anyway)."""
        if username.isascii():
            return {"Api-Username": username}
        uid = self._user_ids.get(username)
        if uid is None:
            with self._options():  # looked up as the API user
                uid = int(self._api._get(f"/u/{quote(username, safe='')}.json")["user"]["id"])
            self._user_ids[username] = uid
        return {"Api-User-Id": str(uid)}

    def _call(self, verb: str, path: str, *, params=None, data=None, json=None, files=None, raw: bool = False):
        """Send one listed request (pacing, retries, typed errors); decoded JSON, or the
        response itself with `raw`."""
        verb = verb.upper()
        path, _, query = path.partition("?")
        if query:
            params = {**dict(parse_qsl(query, keep_blank_values=True)), **(params or {})}
        if not path.endswith(".json"):
            path = path.rstrip("/") + ".json"
        name = route_for(verb, path)
        route = ROUTES[name]
        opts = self._opts()
        headers = {"Api-Key": self._key.value, "Accept": "application/json",
                   **self._acting_as(opts.username or self.api_username)}
        where = f"Discourse {verb} {path} ({name})"
        url = self.url + path

        def attempt() -> requests.Response:
            self._pace(name, where)
            started = time.monotonic()
            try:
                resp = self._session().request(verb, url, params=params or None, data=data, json=json, files=files,
                                               headers=headers, timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as exc:
                not_sent = _not_sent(exc)
                err = DiscourseUnavailable(self._scrub(f"{where} failed: {type(exc).__name__}: {exc}"),
                                           operation=name, maybe_applied=not not_sent)
                log.debug("discourse.request_failed", verb=verb, path=path, route=name, error=type(exc).__name__)
                if not_sent or route.idempotent or opts.retry_unsafe:
                    if not not_sent:
                        opts.maybe_applied = True
                    raise _Transient("network", err) from None
                raise err from None
            log.debug("discourse.request", verb=verb, path=path, route=name, status=resp.status_code,
                      ms=round((time.monotonic() - started) * 1000))
            status = resp.status_code
            if status == 429:
                body = _json_or_none(resp)
                wait = _wait_seconds(resp, body)
                self.pacer.hold_off(wait)
                code = resp.headers.get("Discourse-Rate-Limit-Error-Code")
                log.info("discourse.rate_limited", verb=verb, path=path, route=name, wait_seconds=round(wait, 1), limit=code)
                raise _Transient("rate_limit", DiscourseRateLimited(
                    self._scrub(f"{where}: rate limited by the forum ({code or 'no limit name'}); "
                                f"retry after {wait:.0f} s"),
                    status=429, errors=_messages(body), error_type="rate_limit", operation=name, retry_after=wait))
            if status >= 500:
                err = DiscourseUnavailable(
                    self._scrub(f"{where}: server error: {'; '.join(_messages(_json_or_none(resp))) or resp.reason}"),
                    status=status, operation=name, maybe_applied=True)
                if route.idempotent or opts.retry_unsafe:
                    opts.maybe_applied = True
                    raise _Transient("server", err)
                raise err
            return resp

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient),
            stop=self._stop,
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            resp = retrying(attempt)
        except _Transient as t:
            raise t.error from None
        if raw:
            return resp
        return self._decode(resp, name, where)

    def _pace(self, name: str, where: str) -> None:
        try:
            wait = self.pacer.reserve(self.max_wait)
        except SlotTooFar as far:
            raise DiscourseRateLimited(f"{where}: not sent, the next free request slot is {far.wait:.1f} s away "
                                       f"(over max_wait {self.max_wait:g} s)", operation=name,
                                       retry_after=far.wait) from None
        if wait > 0:
            self._sleep(wait)

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        limit = self.max_rate_limit_retries if getattr(exc, "kind", None) == "rate_limit" else self.max_retries
        return state.attempt_number > limit

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if getattr(exc, "kind", None) == "rate_limit":
            return 0.0  # the pacer holds every thread off for the forum's wait_seconds
        # full jitter (as the outbox's own back-off): uniform(0, min(max, initial * 2^(n-1)))
        return tenacity.wait_random_exponential(multiplier=self.backoff_initial, max=self.backoff_max)(state)

    def _decode(self, resp: requests.Response, name: str, where: str) -> Any:
        status = resp.status_code
        body = _json_or_none(resp)
        if 200 <= status < 300:
            if not resp.content.strip():
                return None
            if body is None:
                raise DiscourseError(f"{where}: answer is not JSON ({resp.headers.get('Content-Type')})",
                                     status=status, operation=name)
            msgs = _messages(body) if isinstance(body, dict) and body.get("errors") else []
            if msgs:  # Discourse sometimes answers 200 with errors (as pydiscourse also checks)
                raise DiscourseValidationError(self._scrub(f"{where}: {'; '.join(msgs)}"), status=status,
                                               errors=msgs, error_type=body.get("error_type"), operation=name)
            return body
        msgs = _messages(body)
        error_type = body.get("error_type") if isinstance(body, dict) else None
        text = self._scrub(f"{where}: {'; '.join(msgs) or resp.reason or 'HTTP ' + str(status)}")[:1000]
        kw = dict(status=status, errors=[self._scrub(m) for m in msgs], error_type=error_type, operation=name)
        if 300 <= status < 400:
            raise DiscourseError(f"{where}: unexpected redirect (wrong URL, or http instead of https?)", **kw)
        if status in (400, 422):
            raise DiscourseValidationError(text, **kw)
        if status in (401, 403):
            raise DiscourseAuthError(text, **kw)
        if status == 404:
            raise NotFound(text, **kw)
        raise DiscourseError(text, **kw)
