"""HTML of the Wikimedia double's pages: login, the consent dialog, errors (plain, clickable forms).

Form field names are MediaWiki's (wpName, wpPassword on Special:UserLogin; accept / cancel buttons
on Special:OAuth/approve), so a test can drive them as a browser would: every form posts back
to the URL it was served from.
"""

from __future__ import annotations

from jinja2 import Environment

_env = Environment(autoescape=True)

_LAYOUT = """<!DOCTYPE html>
<html lang="en" dir="ltr">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} – Wikimedia double</title>
<style>
 body { font-family: sans-serif; background: #f8f9fa; color: #202122; margin: 0; }
 main { max-width: 34rem; margin: 3rem auto; background: #fff; border: 1px solid #c8ccd1; padding: 1.5rem 2rem; }
 .banner { font-size: .8rem; color: #72777d; }
 label { display: block; margin: .75rem 0 .25rem; font-weight: bold; }
 input[type=text], input[type=password], select { width: 100%; padding: .4rem; box-sizing: border-box; }
 button { padding: .5rem 1.2rem; margin: 1rem .5rem 0 0; font-weight: bold; cursor: pointer; }
 button.primary { background: #36c; color: #fff; border: 1px solid #36c; }
 .error { background: #fee7e6; border: 1px solid #d33; padding: .5rem; }
 ul.grants { padding-inline-start: 1.2rem; }
</style></head>
<body><main>
<p class="banner">Wikimedia double: a local stand-in for meta.wikimedia.org's OAuth 2.0 server.</p>
<h1>{{ title }}</h1>
{{ body }}
</main></body></html>
"""

_LOGIN = """
{% if error %}<p class="error" id="login-error">{{ error }}</p>{% endif %}
<form method="post" id="userloginForm">
  <label for="wpName1">Username</label>
  <input type="text" id="wpName1" name="wpName" value="{{ name }}" list="test-users" autofocus>
  <datalist id="test-users">{% for u in users %}<option value="{{ u.username }}">{% endfor %}</datalist>
  <label for="wpPassword1">Password</label>
  <input type="password" id="wpPassword1" name="wpPassword">
  <button type="submit" class="primary" name="wploginattempt" value="Log in">Log in</button>
</form>
<h2>Test users</h2>
<p>All use the password <code>{{ default_password }}</code> unless changed.</p>
<ul>{% for u in users %}<li><b>{{ u.username }}</b> (sub {{ u.sub }}): {{ describe(u) }}</li>{% endfor %}</ul>
"""

_APPROVE = """
<form method="post" id="mw-mwoauth-authorize-form">
<p>Hi <b>{{ user.username }}</b>,</p>
<p>In order to complete your request, <b>{{ client.name }}</b> needs permission to access
information on all projects of this site on your behalf.</p>
<ul class="grants">
{% for g in grants %}<li>{{ grant_texts.get(g, g) }}</li>{% endfor %}
</ul>
<p>The application was registered by {{ client.owner }}. Its access can be revoked at any time.</p>
<button type="submit" class="primary" name="accept" value="Allow" id="mw-mwoauth-accept">Allow</button>
<button type="submit" name="cancel" value="Cancel" id="mw-mwoauth-cancel">Cancel</button>
</form>
"""

_EMAIL = """
<p>{{ user.username }}: email <b>{{ user.email or "(none)" }}</b>,
{{ "confirmed" if user.confirmed_email else "not confirmed" }}.</p>
<form method="post">
{% if title == "Special:ChangeEmail" %}
  <label for="email">New email address</label><input type="text" id="email" name="email" value="{{ user.email }}">
  <button type="submit" class="primary">Change email</button>
{% else %}
  <button type="submit" class="primary" name="confirm" value="1" {% if not user.email %}disabled{% endif %}>Confirm the address</button>
{% endif %}
</form>
"""

_ERROR = """
<p class="error">{{ payload.error_description }}{% if payload.hint %} ({{ payload.hint }}){% endif %}</p>
<p>Error code: <code>{{ payload.error }}</code></p>
"""

GRANT_TEXTS = {
    "mwoauth-authonly": "Verify your identity (username, groups, edit count); no email address.",
    "mwoauth-authonlyprivate": "Verify your identity, with access to your real name and email address.",
    "basic": "Basic rights.",
}


def _page(title: str, body: str) -> str:
    from markupsafe import Markup

    return _env.from_string(_LAYOUT).render(title=title, body=Markup(body))


def describe(user: dict) -> str:
    bits = [f"{user['editcount']} edits", f"registered {user.get('registered') or 'before 2005'}",
            "email confirmed" if user.get("confirmed_email") else ("no email" if not user.get("email")
                                                                   else "email not confirmed")]
    if user.get("blocked"):
        bits.append("BLOCKED")
    if user.get("hidden"):
        bits.append("hidden")
    extra = [g for g in user.get("groups", []) if g not in ("*", "user", "autoconfirmed")]
    if extra:
        bits.append("groups " + ", ".join(extra))
    return "; ".join(bits)


def login_page(users, *, error: str | None = None, name: str = "") -> str:
    from .users import DEFAULT_PASSWORD

    body = _env.from_string(_LOGIN).render(users=list(users), error=error, name=name, describe=describe,
                                           default_password=DEFAULT_PASSWORD)
    return _page("Log in", body)


def approve_page(user: dict, client, grants: list[str]) -> str:
    body = _env.from_string(_APPROVE).render(user=user, client=client, grants=grants, grant_texts=GRANT_TEXTS)
    return _page(f"{client.name} would like to access your account", body)


def email_page(title: str, user: dict) -> str:
    return _page(title, _env.from_string(_EMAIL).render(title=title, user=user))


def error_page(payload: dict) -> str:
    return _page("OAuth error", _env.from_string(_ERROR).render(payload=payload))


def simple_page(title: str, text: str) -> str:
    return _page(title, str(_env.from_string("<p>{{ text }}</p>").render(text=text)))
