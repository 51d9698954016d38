"""Relayed text pings no room and makes no link in chat (issue 11, point 3): the exact
bodies Apprise posts to Discord, Slack and Telegram (fixed hosts, intercepted with
`responses`) and to a generic JSON endpoint (a real HTTP server on 127.0.0.1), for member
text full of mass mentions and chat markup."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import responses
from relay_helpers import event

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for `doubles`
from doubles.webhook_receiver import WebhookReceiver

from sync.relay.settings import RelayTarget
from sync.relay.render import render
from sync.relay.targets import apprise as target_mod

ZW = "\u200b"
DISCORD = "https://discord.com/api/webhooks/987654321012345678/DiscordSecretWebhookToken_abcdef"
SLACK = "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
TELEGRAM = "https://api.telegram.org/bot123456789:AAHsecretTelegramTokenXYZ/sendMessage"
HOSTILE = ("@everyone @here <!channel> <!here> <!everyone> <@U024BE7LH> <@&42> <#C123> @room @channel "
           "http://evil.example|Official notice> <a href=\"http://evil.example\">x</a> ||spoiler|| *b*")
MENTIONS = re.compile(r"@(everyone|here|room|channel)\b|<[!@#](?!\u200b)|<(https?|mailto)://[^>]*\|", re.I)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _deliver(url, ev):
    target = target_mod.build(None, RelayTarget(name="chat", kind="apprise", options={"url": url}))
    target.deliver(render(ev, "apprise", "en"), ev)


def _post(url, endpoint, ev, body="ok"):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, endpoint, body=body, status=200)
        _deliver(url, ev)
        [call] = rsps.calls
        return json.loads(call.request.body)


def _hostile():
    return event(title=HOSTILE, excerpt=HOSTILE, author="@here")


def test_discord_gets_exactly_the_neutralised_text_and_no_ping():
    ev = event(title="@everyone <@123> hi", excerpt="@here", author="@room")
    body = _post("discord://987654321012345678/DiscordSecretWebhookToken_abcdef", DISCORD, ev)
    assert body == {"tts": False, "wait": True, "avatar_url": body.get("avatar_url"),
                    "content": f"@{ZW}room started a topic: **@{ZW}everyone \\<@{ZW}123\\> hi**\n\n@{ZW}here\n\n"
                               "[Read more](https://space.example/t/hello/1)"}


@pytest.mark.parametrize("query", ["", "?format=markdown", "?format=text"])
def test_discord_hostile_text_pings_nobody_in_any_format(query):
    body = _post(f"discord://987654321012345678/DiscordSecretWebhookToken_abcdef{query}", DISCORD, _hostile())
    # Apprise's Discord plugin turns @word and <@id> of a Markdown body into real pings
    # (allow_mentions + a "👉 @everyone" content): none may come from member text.
    assert "allow_mentions" not in body and "allowed_mentions" not in body
    assert not any("👉" in s for s in _strings(body))
    for s in _strings(body):
        assert not MENTIONS.search(s.replace("\\", "")), s


@pytest.mark.parametrize("query", ["", "?blocks=yes"])
def test_slack_hostile_text_holds_no_special_mention_or_masked_link(query):
    body = _post(f"slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#space{query}", SLACK, _hostile())
    texts = list(_strings(body))
    assert any("started a topic" in s for s in texts)
    for s in texts:
        # <!here>, <!channel>, <@U...> and <url|label> are Slack's mention and link syntax
        # (rebuilt by Apprise even from "!here>"): only with the zero width space inside.
        assert not re.search(r"<[!@#](?!\u200b)|<(https?|mailto)://[^>]*\|", s.replace("\\", "")), s


@pytest.mark.parametrize("query", ["", "?format=markdown"])
def test_telegram_gets_escaped_html_or_markdown_with_only_the_bridges_link(query):
    body = _post(f"tgram://123456789:AAHsecretTelegramTokenXYZ/-1001234567/{query}", TELEGRAM, _hostile(),
                 body=json.dumps({"ok": True, "result": {}}))
    text = body["text"]
    if body["parse_mode"] == "HTML":
        assert re.findall(r"<[^>]+>", text) == ["<b>", "</b>", '<a href="https://space.example/t/hello/1">', "</a>"]
    else:
        assert text.count("](") == 1 and "[Read more](https://space.example/t/hello/1)" in text
    assert not MENTIONS.search(text.replace("\\", "").replace("&lt;", "<"))
    assert f"@{ZW}everyone" in text


def test_generic_json_endpoint_receives_the_neutralised_message():
    with WebhookReceiver() as hook:
        _deliver(f"json://{hook.url.split('://', 1)[1]}/hooks/space", _hostile())
        [request] = hook.received
    body = json.loads(request["body"])
    assert body["title"] == ""
    assert body["message"].startswith(f"@{ZW}here started a topic: **@{ZW}everyone @{ZW}here \\<\\!{ZW}channel\\>")
    assert not MENTIONS.search(body["message"].replace("\\", ""))
