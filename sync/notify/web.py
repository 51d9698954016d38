"""`/me/notifications` (a member's choices, after Wikimedia login) and the signed unsubscribe link.

GET /me/notifications shows the member's stored choices (sync/notify/preferences.py) as a form;
POST saves them, with the session's CSRF token (sso/sessions.py: a POST without it is refused
with 400 and nothing is saved). Whatever is wrong in a POST is said field by field in the
member's language, with the form as it was typed, and nothing is saved; a good POST is saved
whole and answered with a redirect to the page, which then says it was saved (so a reload never
posts again). Email is offered only to an account whose email address Wikimedia confirmed, and
only when the bridge knows a mail server (sync/notify/settings.py `mail`). The page's language
is saved with the choices: the member's messages are written in it.

/me/notifications/unsubscribe?t=TOKEN works without logging in (sync/notify/unsubscribe.py):
GET shows one button and changes nothing (mail scanners and link previews follow links); POST
with the token unsubscribes. A POST whose body is `List-Unsubscribe=One-Click` is a mail
client's one-click unsubscribe (RFC 8058 section 3.2): it unsubscribes at once and gets a short
answer; the signed token is its proof, so no CSRF token is asked for.
"""

from __future__ import annotations

import time
from dataclasses import replace
from urllib.parse import urlencode, urlsplit

import structlog
from flask import Blueprint, Response, redirect, request, session

from bridge import i18n
from sync.notify import page, preferences, unsubscribe
from sync.notify.preferences import CHANNELS, EVENTS, FREQUENCIES, InvalidPreference, Preferences
from sync.notify.settings import NotifySettings, mail

log = structlog.get_logger(__name__)

SETTINGS_PATH = "/me/notifications"
MAX_FIELD = 2000  # characters of one text field read; 50 items of 100 characters are more than enough
SAVED_KEY = "notify_saved"  # in the session between a saved POST and the page it redirects to
_LISTS = ("categories", "tags", "languages")
#: the order errors are listed in: the form's
_FIELDS = ("events", "categories", "tags", "languages", "channel", "wiki", "frequency")


def default_wiki(settings) -> str | None:
    """The host of the member's talk page unless they name another: the configured wiki's
    (mediawiki.api_url), else the login wiki's (wikimedia.oauth_base_url)."""
    for url in ((settings.mediawiki.api_url if settings.mediawiki else None),
                (settings.wikimedia.oauth_base_url if settings.wikimedia else None)):
        if url:
            host = urlsplit(str(url)).netloc.lower()
            try:
                return preferences.check_wiki(host)
            except InvalidPreference:
                continue
    return None


def _clean(value: str) -> str:
    # a lone surrogate cannot be written out as UTF-8 (werkzeug never makes one; a WSGI server given odd bytes might)
    return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")


def _label(t, field: str) -> str:
    return t({"events": "spacebridge-notify-events-legend", "channel": "spacebridge-notify-channel-legend",
              "frequency": "spacebridge-notify-frequency-legend"}.get(field, f"spacebridge-notify-field-{field}"))


def _message(t, err: InvalidPreference) -> str:
    return t(f"spacebridge-notify-error-{err.code}", page.isolate(_label(t, err.field)),
             *(page.isolate(p) for p in err.params))


def writable_wikis(settings) -> frozenset[str]:
    """The wikis the bridge can write a talk page on: the configured one's host (with and without
    its port), where its bot password works (sync/notify/channels.py)."""
    if settings.mediawiki is None:
        return frozenset()
    parts = urlsplit(str(settings.mediawiki.api_url))
    return frozenset(h for h in ((parts.hostname or "").lower(), parts.netloc.lower()) if h)


def read_form(form, stored: Preferences, *, email_offered: bool, wiki_default: str | None,
              writable: frozenset[str] | None = None) -> tuple[dict, Preferences | None, list[InvalidPreference]]:
    """What was typed (to show again), the choices it makes (None when something is wrong) and
    what is wrong, field by field. `writable`: the wikis a talk page can be written on (None:
    not checked); a talk page elsewhere is refused here rather than never written."""
    typed = {field: _clean(form.get(field, "")) for field in (*_LISTS, "wiki", "channel", "frequency")}
    events = [_clean(e) for e in form.getlist("events")]
    typed["events"] = frozenset(e for e in events if e in EVENTS)
    errors: list[InvalidPreference] = []
    values: dict = {}
    if any(e not in EVENTS for e in events) or len(events) > 2 * len(EVENTS):
        errors.append(InvalidPreference("events", "choice"))
    for field in _LISTS:
        if len(typed[field]) > MAX_FIELD:
            errors.append(InvalidPreference(field, "field-too-long", MAX_FIELD))
            continue
        try:
            values[field] = preferences.parse_list(field, typed[field])
        except InvalidPreference as exc:
            errors.append(exc)
    channel = typed["channel"] or "none"
    if channel not in CHANNELS:
        errors.append(InvalidPreference("channel", "choice"))
    elif channel == "email" and not email_offered:
        errors.append(InvalidPreference("channel", "email-unavailable"))
    frequency = typed["frequency"] or "instant"
    if frequency not in FREQUENCIES:
        errors.append(InvalidPreference("frequency", "choice"))
    wiki = None
    if len(typed["wiki"]) > MAX_FIELD:
        errors.append(InvalidPreference("wiki", "field-too-long", MAX_FIELD))
    else:
        try:
            wiki = preferences.check_wiki(typed["wiki"]) or (wiki_default if channel == "talk" else None)
        except InvalidPreference as exc:
            errors.append(exc)
    if channel == "talk" and wiki is None and not any(e.field == "wiki" for e in errors):
        errors.append(InvalidPreference("wiki", "wiki-missing"))
    elif channel == "talk" and wiki is not None and writable is not None and wiki not in writable:
        if writable:
            errors.append(InvalidPreference("wiki", "wiki-unavailable", wiki, min(writable, key=len)))
        else:
            errors.append(InvalidPreference("channel", "talk-unavailable"))
    if errors:
        return typed, None, sorted(errors, key=lambda e: _FIELDS.index(e.field))
    prefs = replace(stored, events=typed["events"], categories=values["categories"], tags=values["tags"],
                    languages=values["languages"], channel=channel, frequency=frequency, wiki=wiki)
    try:
        preferences.validate(prefs)
    except InvalidPreference as exc:  # the page's reading and the store's rules disagree: say so, save nothing
        return typed, None, [exc]
    return typed, prefs, []


def _form_of(prefs: Preferences, wiki_default: str | None) -> dict:
    return {"events": prefs.events, **{f: ", ".join(sorted(getattr(prefs, f))) for f in _LISTS},
            "channel": prefs.channel, "frequency": prefs.frequency, "wiki": prefs.wiki or wiki_default or ""}


def blueprint(settings, engine, notify: NotifySettings, *, member_pages: bool = True) -> Blueprint:
    """The routes; `member_pages` False (no Wikimedia login configured) leaves out /me/notifications."""
    bp = Blueprint("notify", __name__, template_folder="templates")
    key = unsubscribe.secret(settings.bridge.secret_key)
    max_age = notify.unsubscribe_link_days * 86400
    wiki_default = default_wiki(settings)
    writable = writable_wikis(settings)
    mail_known = mail(settings) is not None

    def mail_offered(account) -> bool:
        """Email is a choice when Wikimedia confirmed the member's address and a mail server is known."""
        return mail_known and bool(account.email and account.email_confirmed)

    def uselang() -> str | None:
        value = request.values.get("uselang")
        return i18n.negotiate(value) if value else None

    def settings_href(lang: str | None) -> str:
        return request.script_root + SETTINGS_PATH + ("?" + urlencode({"uselang": lang}) if lang else "")

    if member_pages:
        from sso import sessions, wikimedia  # the login feature's; sync may use sso (docs/architecture.md)

        def _member_page(account, lang, *, form, errors, saved=False, status=200):
            return page.settings_page(
                lang, form=form, errors=errors, username=account.username,
                email_offered=mail_offered(account), saved=saved,
                token=sessions.csrf_token(session), action=request.script_root + SETTINGS_PATH,
                uselang=uselang(), status=status)

        @bp.get(SETTINGS_PATH)
        def settings_get():
            refused = wikimedia.require_login()
            if refused is not None:
                return refused
            account = wikimedia.current_account()
            saved = bool(session.pop(SAVED_KEY, False))
            stored = preferences.get(engine, account.sub)
            return _member_page(account, page.language(), form=_form_of(stored, wiki_default), errors={}, saved=saved)

        @bp.post(SETTINGS_PATH)
        def settings_post():
            account = wikimedia.current_account()
            if account is None:  # logged out meanwhile: log in again and come back to the form
                return redirect(wikimedia.login_url(SETTINGS_PATH, uselang=uselang()), code=303)
            lang = page.language()
            if not sessions.csrf_ok(session, request.form.get("csrf_token")):
                log.warning("notify.settings_refused", sub=account.sub, reason="csrf")
                return page.refused_page(lang, again=settings_href(uselang()))
            stored = preferences.get(engine, account.sub)
            email_offered = mail_offered(account)
            typed, prefs, errors = read_form(request.form, stored, email_offered=email_offered,
                                             wiki_default=wiki_default, writable=writable)
            if prefs is None:
                t = i18n.translator(lang)
                messages: dict[str, str] = {}
                for err in errors:
                    messages.setdefault(err.field, _message(t, err))
                return _member_page(account, lang, form=typed, errors=messages, status=400)
            preferences.save(engine, replace(prefs, language=lang))
            log.info("notify.settings_saved", sub=account.sub, events=sorted(prefs.events), channel=prefs.channel,
                     frequency=prefs.frequency)
            session[SAVED_KEY] = True
            response = redirect(settings_href(uselang()), code=303)
            response.headers["Cache-Control"] = "no-store"
            return response

    def _verified(token):
        try:
            return unsubscribe.verify(key, token, time.time(), max_age), None
        except unsubscribe.BadToken as exc:
            log.info("notify.unsubscribe_refused", reason=exc.reason)  # never the token itself
            return None, exc.reason

    @bp.get(unsubscribe.PATH)
    def unsubscribe_get():
        lang = page.language()
        token = _clean(request.args.get("t", ""))
        asked, reason = _verified(token)
        if asked is None:
            return page.bad_link_page(lang, reason=reason, settings_href=settings_href(uselang()))
        from sso import accounts  # the member's name, so they see whose notifications stop

        account = accounts.get(engine, asked.sub)
        return page.unsubscribe_page(lang, token=token, event=asked.event,
                                     username=account.username if account else asked.sub,
                                     action=request.script_root + unsubscribe.PATH, uselang=uselang())

    @bp.post(unsubscribe.PATH)
    def unsubscribe_post():
        one_click = request.form.get("List-Unsubscribe") == "One-Click"
        token = _clean(request.form.get("t") or request.args.get("t", ""))
        asked, reason = _verified(token)
        if asked is None:
            if one_click:
                return Response(f"This unsubscribe link does not work ({reason}).\n", status=400,
                                content_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-store"})
            return page.bad_link_page(page.language(), reason=reason, settings_href=settings_href(uselang()))
        preferences.unsubscribe(engine, asked.sub, asked.event)
        log.info("notify.unsubscribed", sub=asked.sub, what=asked.event or "all", one_click=one_click)
        if one_click:
            return Response("Unsubscribed.\n", content_type="text/plain; charset=utf-8",
                            headers={"Cache-Control": "no-store"})
        return page.unsubscribed_page(page.language(), event=asked.event, settings_href=settings_href(uselang()))

    return bp
