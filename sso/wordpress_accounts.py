"""Act on a member's WordPress account: the log-out and demotion jobs.

The requests themselves (signed POSTs to the mu-plugin's ``/wp-json/space-bridge/v1`` routes,
their signature and errors) are the WordPress admin client's, :mod:`bridge.clients.wordpress.accounts`;
this module binds them to the configured sites and runs them as outbox jobs.

Job ``sso.demote_wordpress`` (payload ``{"site": NAME, "sub": SUB}``): a locked member loses
every role on that site (``role``: ``""`` unless the payload names one) and is logged out.
Job ``sso.logout_wordpress`` (``{"site", "sub"}``): the retry of a failed single log-out.
"""

from __future__ import annotations

import structlog

from bridge.clients.errors import outbox_failure
from bridge.clients.wordpress.accounts import (CONTEXT, DEFAULT_TIMEOUT, NAMESPACE, WordPressSSOError, call,
                                               signature, signed_headers)
from bridge.outbox import Job, PermanentFailure

__all__ = ["CONTEXT", "DEFAULT_TIMEOUT", "NAMESPACE", "WordPressSSOError", "call", "demote", "demote_handler",
           "handlers", "logout", "logout_handler", "signature", "signed_headers", "sso_sites"]

log = structlog.get_logger(__name__)


def _site(settings, name: str):
    wp = getattr(settings, "wordpress", None)
    for site in (wp.sites if wp else []):
        if site.name == name:
            return site
    return None


def _secret(site) -> str | None:
    secret = getattr(site, "connect_secret", None)
    return secret.get_secret_value() if secret is not None else None


def sso_sites(settings) -> list:
    """The WordPress sites that log members in through the bridge (a connect_secret is set)."""
    wp = getattr(settings, "wordpress", None)
    return [s for s in (wp.sites if wp else []) if _secret(s)]


def logout(site, external_id: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict:
    return call(str(site.url), _secret(site), "logout", {"external_id": str(external_id)}, timeout=timeout)


def demote(site, external_id: str, role: str = "", *, timeout: float = DEFAULT_TIMEOUT) -> dict:
    return call(str(site.url), _secret(site), "demote", {"external_id": str(external_id), "role": role},
                timeout=timeout)


def _run(settings, job: Job, action) -> None:
    name, sub = job.payload.get("site"), job.payload.get("sub")
    if not name or not sub:
        raise PermanentFailure("payload needs site and sub")
    site = _site(settings, name)
    if site is None or not _secret(site):
        raise PermanentFailure(f"no WordPress site {name!r} with a connect_secret")
    try:
        answer = action(site, str(sub))
    except WordPressSSOError as exc:
        raise outbox_failure(exc) from exc
    log.info(f"{job.kind}.done", site=name, found=answer.get("found"), job_id=job.id)


def demote_handler(settings):
    """Handler of ``sso.demote_wordpress`` ({site, sub[, role]})."""
    def handle(job: Job) -> None:
        _run(settings, job, lambda site, sub: demote(site, sub, str(job.payload.get("role") or "")))
    return handle


def logout_handler(settings):
    """Handler of ``sso.logout_wordpress`` ({site, sub}): the retry of a failed single log-out."""
    def handle(job: Job) -> None:
        _run(settings, job, logout)
    return handle


def handlers(settings) -> dict:
    """The job kinds of this module, for bridge/jobs.py."""
    return {"sso.demote_wordpress": demote_handler(settings), "sso.logout_wordpress": logout_handler(settings)}
