"""Small HTML pages so a person running `make run` can see what the bridge mirrored: the topic
list (/ and /latest), a page per topic (/t/{slug}/{id}), the DiscourseConnect error and
account-created pages. Every page says it is the double, and who is logged in."""

from __future__ import annotations

from flask import render_template_string

LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} - Discourse double</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#222}
.banner{background:#fff3cd;border-bottom:2px solid #e0b000;padding:.5em 1em;font-weight:600}
header{display:flex;justify-content:space-between;align-items:center;padding:.6em 1em;border-bottom:1px solid #ddd}
main{max-width:60em;margin:1em auto;padding:0 1em}
table{border-collapse:collapse;width:100%} td,th{text-align:left;padding:.4em;border-bottom:1px solid #eee}
.post{border-bottom:1px solid #eee;padding:.8em 0} .author{font-weight:600} .meta{color:#777;font-size:.9em}
.tag{background:#eee;border-radius:3px;padding:0 .4em;margin-right:.3em;font-size:.9em}
.error{background:#fdd;border:1px solid #c00;padding:1em}
</style></head><body>
<div class="banner" id="double-banner">Discourse double (local stand-in for Discourse) &mdash; not a real Discourse forum</div>
<header><a href="/"><strong>{{ site_title }}</strong></a>
<span id="current-user">{% if current_user %}Logged in as <strong>{{ current_user.username }}</strong>
 &middot; <a href="/__double__/logout">Log out</a>{% elif sso_enabled %}<a href="/session/sso?return_path={{ request_path|urlencode }}">Log in</a>{% else %}Not logged in{% endif %}</span>
</header><main>{{ body|safe }}</main></body></html>"""

TOPIC_LIST = """<h1>Latest topics</h1>
{% if not topics %}<p>No topics yet.</p>{% else %}
<table><tr><th>Topic</th><th>Category</th><th>Replies</th><th>Activity</th></tr>
{% for t in topics %}<tr><td><a href="/t/{{ t.slug }}/{{ t.id }}">{{ t.title }}</a>
{% if not t.visible %}<span class="tag">unlisted</span>{% endif %}
{% for tag in t.tags %}<span class="tag">{{ tag }}</span>{% endfor %}</td>
<td>{{ categories.get(t.category_id, '') }}</td><td>{{ t.reply_count }}</td><td>{{ t.bumped_at }}</td></tr>{% endfor %}
</table>{% endif %}"""

TOPIC = """<h1 id="topic-title">{{ topic.title }}</h1>
<p class="meta">Category: <span id="topic-category">{{ category }}</span>
{% if topic.tags %}&middot; Tags: {% for tag in topic.tags %}<span class="tag">{{ tag }}</span>{% endfor %}{% endif %}
{% if not topic.visible %}&middot; <strong>unlisted</strong>{% endif %}
{% if topic.closed %}&middot; <strong>closed</strong>{% endif %}</p>
{% for p in posts %}<div class="post" id="post_{{ p.post_number }}"><div class="author">{{ p.username }}
<span class="meta">#{{ p.post_number }} &middot; {{ p.created_at }}</span></div>{{ p.cooked|safe }}</div>{% endfor %}"""


def render(store, current_user, request_path: str, title: str, body_template: str, status: int = 200, **ctx):
    body = render_template_string(body_template, **ctx)
    html = render_template_string(LAYOUT, title=title, body=body, current_user=current_user,
                                  site_title=store.setting("title"), request_path=request_path,
                                  sso_enabled=store.setting("enable_discourse_connect"))
    return html, status, {"Content-Type": "text/html; charset=utf-8"}


def topic_list_page(store, user, request_path):
    from .guardian import is_staff

    with store.lock:
        topics = [t for t in store.data["topics"].values()
                  if not t.get("deleted_at") and not t.get("category_definition") and (t["visible"] or is_staff(user))]
        topics.sort(key=lambda t: (t.get("bumped_at") or "", t["id"]), reverse=True)
        categories = {c["id"]: c["name"] for c in store.data["categories"].values()}
    return render(store, user, request_path, "Latest", TOPIC_LIST, topics=topics, categories=categories)


def topic_page(store, user, request_path, topic_id):
    from .guardian import is_staff
    from .serializers import post_json

    topic = store.topic(topic_id)
    if topic is None or (topic.get("deleted_at") and not is_staff(user)):
        return render(store, user, request_path, "Not found",
                      "<h1>Oops! That page doesn't exist or is private.</h1>", status=404)
    cat = store.category(topic["category_id"])
    posts = [post_json(store, p, user, topic=topic) for p in store.topic_posts(topic["id"])]
    return render(store, user, request_path, topic["title"], TOPIC, topic=topic, posts=posts,
                  category=cat["name"] if cat else "")


def sso_error_page(store, user, request_path, text: str, status: int):
    # SessionController#render_sso_error renders the message in a plain page with the status
    return render(store, user, request_path, "Login error", '<div class="error" id="sso-error">{{ text|safe }}</div>',
                  status=status, text=text)


def account_created_page(store, user, request_path):
    return render(store, user, request_path, "Account created",
                  "<h1>Account created</h1><p>An activation email would be sent now (the double sends no mail). "
                  "Activate the account in the admin before logging in.</p>")
