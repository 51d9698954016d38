"""The double cooks posts in Discourse's shapes: [quote] as aside.quote, and what Discourse's
post-processing adds (a lightbox) set through POST /__double__/post_process."""

from __future__ import annotations

from bs4 import BeautifulSoup

BODY = "A first post that is long enough for Discourse."


def _post(forum, **data):
    r = forum.request("POST", "/posts.json", data=data)
    assert r.status_code == 200, r.text
    return r.json()


def test_quote_is_cooked_as_discourse_does(forum):
    topic = _post(forum, title="A topic about quoting each other", raw=BODY)
    reply = _post(forum, topic_id=topic["topic_id"],
                  raw=f'[quote="system, post:1, topic:{topic["topic_id"]}"]\nA first <post>\n[/quote]\n\nI agree.\nFully.')
    soup = BeautifulSoup(reply["cooked"], "html.parser")
    # frontend/discourse/tests/unit/lib/pretty-text-test.js "Quotes"
    aside = soup.select_one("aside.quote.no-group")
    assert aside["data-username"] == "system" and aside["data-post"] == "1"
    assert aside["data-topic"] == str(topic["topic_id"])
    assert aside.select_one("div.title img.avatar") is not None
    assert aside.select_one("div.title").get_text(strip=True) == "system:"
    assert aside.select_one("blockquote > p").get_text() == "A first <post>"
    assert str(soup.find_all("p")[-1]) == "<p>I agree.<br/>\nFully.</p>"


def test_post_process_sets_cooked_without_a_revision(forum):
    topic = _post(forum, title="A topic with a photo attached", raw=BODY)
    cooked = '<p><div class="lightbox-wrapper"><a class="lightbox" href="/uploads/x.png">x</a></div></p>'
    r = forum.request("POST", "/__double__/post_process", json={"post_id": topic["id"], "cooked": cooked}, auth=False)
    assert r.status_code == 200, r.text
    post = forum.request("GET", f"/posts/{topic['id']}.json").json()
    assert post["cooked"] == cooked and post["version"] == 1
    missing = forum.request("POST", "/__double__/post_process", json={"post_id": 999999, "cooked": cooked}, auth=False)
    assert missing.status_code == 404
