"""Single log-out: ``GET /logout?next=URL`` ends the member's sessions everywhere.

1. The bridge forgets the member in this browser (``sso.wikimedia.logout_session()``), whatever
   else happens: a member who asked to log out is logged out of the bridge at once.
2. The forum: the Discourse user with ``external_id`` = the member's `sub` is logged out
   (admin ``POST /admin/users/{id}/log_out.json``), synchronously with a short timeout.
3. Every WordPress site that logs members in through the bridge (``connect_secret`` set):
   the mu-plugin's signed ``POST /wp-json/space-bridge/v1/logout`` destroys all the user's
   sessions (sso/wordpress_accounts.py), synchronously with a short timeout.
4. The browser goes to `next` when ``sso.wikimedia.safe_next`` allows it, else the default page.

Synchronous, so the member is logged out everywhere by the time the next page shows. A platform
that is down or slow (LOGOUT_TIMEOUT seconds) does not stop the log-out: the failure is logged
and a retry job is enqueued in the outbox (``sso.logout_discourse`` {sub} or
``sso.logout_wordpress`` {site, sub}), which the worker runs with its usual back-off. A member
the platform does not know (never logged in there) is not an error.

Without a bridge session (already logged out, or logged in elsewhere) only step 4 happens: the
bridge cannot tell whom to log out, and a bare link must not log anybody out of anything.
"""

from __future__ import annotations

import time

import structlog
from flask import Blueprint, Flask, current_app, redirect, request, session

from bridge.outbox import Job, Outbox, PermanentFailure, RetryLater
from sso import wikimedia, wordpress_accounts

log = structlog.get_logger(__name__)

bp = Blueprint("logout", __name__)

LOGOUT_TIMEOUT = 3.0
LOGOUT_DISCOURSE = "sso.logout_discourse"
LOGOUT_WORDPRESS = "sso.logout_wordpress"


def _discourse_logout(settings, sub: str, *, timeout: float = LOGOUT_TIMEOUT) -> bool:
    """Log the forum user with this external_id out; False when the forum does not know them."""
    from bridge import platforms

    client = platforms.discourse(settings, max_wait=timeout, max_retries=0)
    client.timeout = timeout
    user = client.user_by_external_id(str(sub))
    if user is None:
        return False
    client.log_out_user(user.id)
    return True


def log_out_everywhere(settings, outbox: Outbox | None, sub: str) -> dict[str, str]:
    """Log `sub` out of the forum and every SSO WordPress site; {platform: "ok"|"unknown"|"queued"}."""
    results: dict[str, str] = {}
    stamp = int(time.time())
    if settings.discourse is not None:
        try:
            results["discourse"] = "ok" if _discourse_logout(settings, sub) else "unknown"
        except Exception as exc:  # noqa: BLE001 - any failure: finish the log-out, retry later
            log.warning("sso.logout.discourse_failed", sub=sub, error=type(exc).__name__)
            results["discourse"] = "queued"
            if outbox is not None:
                outbox.enqueue(LOGOUT_DISCOURSE, {"sub": sub}, key=f"logout:discourse:{sub}:{stamp}")
    for site in wordpress_accounts.sso_sites(settings):
        name = f"wordpress:{site.name}"
        try:
            found = wordpress_accounts.logout(site, sub, timeout=LOGOUT_TIMEOUT).get("found")
            results[name] = "ok" if found else "unknown"
        except wordpress_accounts.WordPressSSOError as exc:
            log.warning("sso.logout.wordpress_failed", sub=sub, site=site.name, error=str(exc))
            results[name] = "queued"
            if outbox is not None:
                outbox.enqueue(LOGOUT_WORDPRESS, {"site": site.name, "sub": sub},
                               key=f"logout:wordpress:{site.name}:{sub}:{stamp}")
    return results


@bp.get("/logout")
def logout():
    ext = current_app.extensions["space_bridge"]
    settings = ext["settings"]
    sub = session.get(wikimedia.SESSION_KEY)
    wikimedia.logout_session()
    if sub:
        results = log_out_everywhere(settings, ext.get("outbox"), str(sub))
        log.info("sso.logout", sub=sub, **results)
    target = wikimedia.safe_next(request.args.get("next"), settings) or wikimedia.default_next()
    response = redirect(target, code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def discourse_handler(settings):
    """Handler of ``sso.logout_discourse`` ({sub}): the retry of a failed forum log-out."""
    def handle(job: Job) -> None:
        sub = job.payload.get("sub")
        if not sub:
            raise PermanentFailure("payload needs sub")
        if settings.discourse is None:
            raise PermanentFailure("no discourse section")
        try:
            _discourse_logout(settings, str(sub), timeout=10)
        except Exception as exc:  # noqa: BLE001
            raise RetryLater(30, f"{type(exc).__name__}") from exc
    return handle


def handlers(settings) -> dict:
    """The job kinds of this module, for bridge/jobs.py."""
    return {LOGOUT_DISCOURSE: discourse_handler(settings)}
