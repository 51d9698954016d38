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
2. Every configured DiscourseConnect consumer (sso/consumers/) ends the member's sessions there,
   synchronously with a short timeout: the forum (the Discourse user with ``external_id`` = the
   member's `sub`, admin ``POST /admin/users/{id}/log_out.json``) and every WordPress site that
   logs members in through the bridge (the mu-plugin's signed ``POST
   /wp-json/space-bridge/v1/logout``, sso/consumers/wordpress.py).
3. The browser goes to `next` when ``sso.wikimedia.safe_next`` allows it, else the default page.

Synchronous, so the member is logged out everywhere by the time the next page shows. A platform
that is down or slow (sso.consumers.LOGOUT_TIMEOUT seconds) does not stop the log-out: the failure is logged
and the consumer enqueues a retry job in the outbox (``sso.logout_discourse`` {sub} or
``sso.logout_wordpress`` {site, sub}), which the worker runs with its usual back-off. A member
the platform does not know (never logged in there) is not an error.

Without a bridge session (already logged out, or logged in elsewhere) only step 3 happens: the
bridge cannot tell whom to log out.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import structlog
from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request, session, url_for

from bridge import i18n
from sso import accounts, consumers, sessions, wikimedia
# the old import paths of the log-out retry jobs, used by sso/feature.py and the tests

log = structlog.get_logger(__name__)

bp = Blueprint("logout", __name__)


def log_out_everywhere(settings, outbox: Outbox | None, sub: str) -> dict[str, str]:
    """Log `sub` out of every configured consumer; {consumer name: "ok"|"unknown"|"queued"}."""
    stamp = int(time.time())
    return {consumer.name: consumer.log_out(settings, outbox, sub, stamp) for consumer in consumers.consumers(settings)}


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

