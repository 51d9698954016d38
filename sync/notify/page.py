"""The notify pages drawn as HTML, with no script: the settings form and the unsubscribe pages.

In the member's language (`uselang`, then Accept-Language: bridge/i18n.py), right to left where
the language is. The pages load nothing: the Content-Security-Policy allows their one style
sheet (by hash) and forms posting to this site only, and no site may frame them (the buttons
change settings). Nothing is cached (the pages are one member's), and no Referer leaves them:
an unsubscribe page's address holds its token.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlencode

from flask import Response, current_app, render_template, request
from markupsafe import Markup

from bridge import i18n
from sync.notify.schema import EVENTS

PREFIX = "spacebridge-notify-"
AUTONYMS = {"en": "English", "es": "español", "ar": "العربية"}


def isolate(text: str) -> str:
    """`text` between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE: a Latin name inside Arabic
    text (and the reverse) keeps its own order and leaves the sentence's alone."""
    return f"\u2068{text}\u2069"


def language() -> str:
    return i18n.negotiate(request.values.get("uselang"), request.accept_languages)


def event_label_key(event: str) -> str:
    return PREFIX + "event-" + event.replace("_", "-")


def _style() -> tuple[Markup, str]:
    css = current_app.jinja_env.get_template("notify/page.css").render()
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode()
    return Markup(css), f"'sha256-{digest}'"


def _others(lang: str, args: dict[str, str]) -> list[dict]:
    path = request.script_root + request.path
    return [{"code": code, "name": AUTONYMS.get(code, code), "dir": i18n.direction(code),
             "href": path + "?" + urlencode({**args, "uselang": code})}
            for code in i18n.available_languages() if code != lang]


def _response(template: str, lang: str, status: int, **context) -> Response:
    css, style_source = _style()
    t = i18n.translator(lang)
    html = render_template(template, lang=lang, dir=i18n.direction(lang), t=t, css=css,
                           site=t("spacebridge-site-name"), **context)
    response = Response(html, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src {style_source}; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def settings_page(lang: str, *, form: dict, errors: dict[str, str], username: str, email_offered: bool,
                  saved: bool, token: str, action: str, uselang: str | None, status: int = 200) -> Response:
    """The settings form filled with `form` (what is stored, or what was typed), with `errors`
    (field -> localized message) listed at the top and beside their fields."""
    t = i18n.translator(lang)
    events = [{"value": e, "label": t(event_label_key(e)), "checked": e in form["events"]} for e in EVENTS]
    return _response(
        "notify/settings.html", lang, status, title=t(PREFIX + "pagetitle", t("spacebridge-site-name")), form=form,
        errors=errors, events=events, username=isolate(username), email_offered=email_offered, saved=saved,
        token=token, action=action, uselang=uselang, others=_others(lang, {}))


def refused_page(lang: str, *, again: str) -> Response:
    """A POST without this browser's CSRF token: nothing was saved (400)."""
    t = i18n.translator(lang)
    return _response("notify/message.html", lang, 400, title=t(PREFIX + "refused-heading"),
                     heading=t(PREFIX + "refused-heading"), message=t(PREFIX + "refused"),
                     link={"href": again, "text": t(PREFIX + "refused-again")}, others=[], reason="csrf")


def unsubscribe_page(lang: str, *, token: str, event: str | None, username: str, action: str,
                     uselang: str | None) -> Response:
    """The confirmation: one button, which POSTs the token (a GET never unsubscribes)."""
    t = i18n.translator(lang)
    what = (t(PREFIX + "unsubscribe-confirm-event", isolate(username), t(event_label_key(event))) if event
            else t(PREFIX + "unsubscribe-confirm-all", isolate(username)))
    return _response("notify/unsubscribe.html", lang, 200,
                     title=t(PREFIX + "unsubscribe-pagetitle", t("spacebridge-site-name")), message=what,
                     token=token, action=action, uselang=uselang, others=_others(lang, {"t": token}))


def unsubscribed_page(lang: str, *, event: str | None, settings_href: str) -> Response:
    t = i18n.translator(lang)
    message = (t(PREFIX + "unsubscribe-done-event", t(event_label_key(event))) if event
               else t(PREFIX + "unsubscribe-done-all"))
    return _response("notify/message.html", lang, 200, title=t(PREFIX + "unsubscribe-done-heading"),
                     heading=t(PREFIX + "unsubscribe-done-heading"), message=message, reason="done",
                     link={"href": settings_href, "text": t(PREFIX + "unsubscribe-settings-link")}, others=[])


def bad_link_page(lang: str, *, reason: str, settings_href: str) -> Response:
    """A token that unsubscribes nobody: said plainly, with the way to the settings (400)."""
    t = i18n.translator(lang)
    message = t(PREFIX + "unsubscribe-bad-expired") if reason == "expired" else t(PREFIX + "unsubscribe-bad")
    return _response("notify/message.html", lang, 400, title=t(PREFIX + "unsubscribe-bad-heading"),
                     heading=t(PREFIX + "unsubscribe-bad-heading"), message=message, reason=reason,
                     link={"href": settings_href, "text": t(PREFIX + "unsubscribe-settings-link")}, others=[])
