"""Single log-out: ``POST /logout`` ends the member's sessions everywhere.

``GET /logout?next=URL`` changes nothing: it shows a confirmation page (in the member's
language, as Wikipedia's Special:UserLogout does) whose one button POSTs the session's CSRF
token (sso/sessions.py) and `next`. A link or an image on another site therefore cannot log a
member out. A POST without this browser's token is refused (403, a page saying nothing was
done, with a link back to the confirmation page). WordPress's "Log out" of a member ends at
that confirmation page (the mu-plugin's SPACE_BRIDGE_LOGOUT_URL points at GET /logout): the
blog itself has logged the member out already; the button logs them out of the rest. Without
a bridge session the GET just redirects to `next`: there is nobody to log out.

The POST, with the right token:

1. The bridge forgets the member in this browser (the whole session) and in every other one
   (``sso.sessions.end_all``: a copied cookie stops working), whatever else happens: a member
   who asked to log out is logged out of the bridge at once.
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
bridge cannot tell whom to log out.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import structlog
from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request, session, url_for

from bridge import i18n
from bridge.outbox import Job, Outbox, PermanentFailure, RetryLater
from sso import accounts, sessions, wikimedia, wordpress_accounts

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


def _page(next_url: str | None, status: int = 200, *, refused: str | None = None, username: str = "") -> Response:
    """The confirmation page (or, with `refused`, the page of a refused POST) in the member's language."""
    lang = i18n.negotiate(request.values.get("uselang"), request.accept_languages)
    t = i18n.translator(lang)
    here = url_for("logout.logout")
    languages = [{"code": code, "name": wikimedia.AUTONYMS.get(code, code), "dir": i18n.direction(code),
                  "href": here + "?" + urlencode({**({"next": next_url} if next_url else {}), "uselang": code})}
                 for code in i18n.available_languages() if code != lang]
    again_args = {**({"next": next_url} if next_url else {}), **({"uselang": lang} if request.values.get("uselang") else {})}
    again = here + ("?" + urlencode(again_args) if again_args else "")
    html = render_template("sso/logout.html", lang=lang, dir=i18n.direction(lang), t=t, languages=languages,
                           refused=refused, again=again, username=username, next=next_url, action=here,
                           uselang=lang if request.values.get("uselang") else None,
                           token=sessions.csrf_token(session) if not refused else "")
    response = Response(html, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = lang
    # the button must not be clickable inside another site's frame (clickjacking)
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _redirect(next_url: str | None) -> Response:
    response = redirect(next_url or wikimedia.default_next(), code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/logout")
def logout():
    """The confirmation page; changes nothing (a link or an image can point here)."""
    settings = current_app.extensions["space_bridge"]["settings"]
    next_url = wikimedia.safe_next(request.args.get("next"), settings)
    sub = wikimedia.session_sub()
    if sub is None:
        return _redirect(next_url)
    account = accounts.get(current_app.extensions["space_bridge"]["engine"], sub)
    # FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE: a Latin name inside Arabic text (and the reverse) keeps its order
    return _page(next_url, username=f"\u2068{account.username}\u2069" if account else "")


@bp.post("/logout")
def logout_confirmed():
    ext = current_app.extensions["space_bridge"]
    settings, engine = ext["settings"], ext["engine"]
    next_url = wikimedia.safe_next(request.form.get("next"), settings)
    token = request.form.get("csrf_token")
    if not sessions.csrf_ok(session, token):
        log.warning("sso.logout_refused", reason="missing token" if not token else "wrong token")
        return _page(next_url, 403, refused="missing_token" if not token else "wrong_token")
    sub = wikimedia.session_sub()
    session.clear()
    if sub:
        sessions.end_all(engine, sub)
        results = log_out_everywhere(settings, ext.get("outbox"), str(sub))
        log.info("sso.logout", sub=sub, **results)
    return _redirect(next_url)


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
