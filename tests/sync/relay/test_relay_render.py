import html

from relay_helpers import event

from sync.relay.render import render


def test_wiki_entry_shows_member_text_as_typed_and_never_as_markup():
    m = render(event(title="[[Evil]] {{tpl}}", author="A|b"), "wiki", "en")
    assert html.unescape(m.title) == "A|b started a topic: [[Evil]] {{tpl}}"
    assert not set("[]{}|") & set(m.title)
    assert "&#91;&#91;Evil&#93;&#93; &#123;&#123;tpl&#125;&#125;" in m.text
    assert "[https://space.example/t/hello/1 Read more]" in m.text


def test_localized_spanish_and_arabic_and_fallback():
    assert render(event(language="es"), "irc", None).text.startswith("[news] Alice inició un tema: Hello world")
    assert "بدأ Alice موضوعًا" in render(event(), "irc", "ar").text
    assert render(event(language="xx"), "irc", None).text.startswith("[news] Alice started a topic")


def test_irc_line_bytes_limit_keeps_url():
    e = event(title="é" * 600, category=None)
    m = render(e, "irc", "en", {"prefix": "[Space] "})
    data = m.text.encode("utf-8")
    assert len(data) <= 400 and "\n" not in m.text and "\r" not in m.text
    assert m.text.startswith("[Space] Alice") and m.text.endswith(" https://space.example/t/hello/1")
    assert "…" in m.text


def test_irc_no_newlines_and_colours():
    m = render(event(title="a\r\nPRIVMSG #x :pwned"), "irc", "en")
    assert "\r" not in m.text and "\n" not in m.text
    c = render(event(), "irc", "en", {"colours": True})
    assert "\x02" in c.text and "\x0314" in c.text
    assert len(render(event(title="x" * 800), "irc", "en", {"colours": True}).text.encode()) <= 400


def test_markdown_html_and_email():
    md = render(event(title="a_b*c <i>"), "apprise", "en")
    assert "**a\\_b\\*c \\<i\\>**" in md.text
    assert "<b>a_b*c &lt;i&gt;</b>" in md.html
    assert md.title is None  # Apprise would put a title into the service's markup unescaped
    mail = render(event(title="<script>"), "email", "es")
    assert "&lt;script&gt;" in mail.html and "<script>" in mail.text
    assert mail.title.startswith("Alice inició")
    assert render(event(), "email", "ar").html.startswith('<html lang="ar" dir="rtl">')


def test_wiki_signature_never_starts_a_preformatted_line():
    for e in (event(excerpt=None, category=None, tags=()), event()):
        text = render(e, "wiki", "en").text
        assert text.endswith(" ~~~~~") and not any(line.startswith(" ") for line in text.splitlines())
