"""mwclient, extended: ``maxlag`` on every API call, and a readable ``Retry-After`` always."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import mwclient
import requests
import structlog

__all__ = ["MIN_RETRY_AFTER", "Site", "response_hook", "split_api_url"]

log = structlog.get_logger(__name__)

#: MediaWiki's own floor for Retry-After on a maxlag error (ApiMain::checkMaxLag).
MIN_RETRY_AFTER = 5


class Site(mwclient.Site):
    """mwclient.Site that sends ``maxlag`` on every API call and retries a maxlag error
    that came without mwclient's trigger header."""

    def raw_api(self, action, http_method="POST", retry_on_error=True, *args, **kwargs):
        kwargs.setdefault("maxlag", self.max_lag)
        sleeper = self.sleepers.make()
        while True:
            info = super().raw_api(action, http_method, retry_on_error, *args, **kwargs)
            error = info.get("error") if isinstance(info, dict) else None
            if not (isinstance(error, dict) and error.get("code") == "maxlag"):
                return info
            # Normally raw_call() already slept on X-Database-Lag; we only get here if the
            # header was lost on the way.
            self.last_lag = error.get("lag")
            log.warning("mediawiki.maxlag_backoff", host=self.host, lag=error.get("lag"), max_lag=self.max_lag)
            sleeper.sleep(MIN_RETRY_AFTER)


def response_hook(site_ref: dict):
    """requests response hook: note database lag, and make sure mwclient can read Retry-After."""

    def hook(resp: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        lag = resp.headers.get("X-Database-Lag")
        if lag is not None:
            site = site_ref.get("site")
            if site is not None:
                site.last_lag = lag
            retry_after = resp.headers.get("Retry-After", "")
            if not retry_after.strip().isdigit():
                resp.headers["Retry-After"] = str(MIN_RETRY_AFTER)
            log.warning("mediawiki.lag_wait", host=urlsplit(resp.url).hostname, lag=lag,
                        retry_after=resp.headers["Retry-After"])
        return resp

    return hook


def split_api_url(api_url: str) -> tuple[str, str, str, str]:
    """``https://host/w/api.php`` -> (scheme, host, path "/w/", ext ".php")."""
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL of api.php: {api_url!r}")
    directory, _, script = parts.path.rpartition("/")
    if not script.startswith("api"):
        raise ValueError(f"the API URL must end in api.php (or api.<ext>): {api_url!r}")
    return parts.scheme, parts.netloc, directory + "/", script[len("api"):]
