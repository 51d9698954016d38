"""Relayed text made inert for each kind of target (pure functions).

Titles, excerpts, author and category names come from members; they must read on every
target as the member typed them and never act as markup, a mention or a command:

- `clean`: one line without control characters (C0, DEL, C1: IRC colours and CTCP, terminal
  escapes, CR/LF that would start another IRC command) or bidi embeddings/overrides/isolates;
- `wikitext`: every character wikitext gives a meaning to becomes a numeric character
  reference, which MediaWiki shows as the character but never parses as markup;
- `chat`: mentions of a whole room and chat link syntax broken by an invisible character;
- `url`: an http(s) link the bridge made, with every character that could end or alter the
  link on a target percent-encoded (None for anything else).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

# C0 and C1 controls and DEL: mIRC formatting (\x02 bold, \x03 colour, \x0f reset, \x16,
# \x1d, \x1e, \x1f, \x11), \x01 CTCP, \x1b terminal escapes, CR/LF.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MIRC_COLOUR = re.compile(r"\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?")  # with its colour numbers
# LRE, RLE, PDF, LRO, RLO and the isolates LRI, RLI, FSI, PDI: they reorder the text around
# them (a title could make the bridge's own words read backwards); LRM/RLM stay.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_SPACE = re.compile(r"\s+")


def clean(value: Any) -> str:
    """`value` as one line of text without control or bidi-override characters."""
    text = _MIRC_COLOUR.sub("", _BIDI.sub("", str(value if value is not None else "")))
    return _SPACE.sub(" ", _CONTROLS.sub(" ", text)).strip()


# -- wikitext ----------------------------------------------------------------------------------
# Each character below starts or ends markup somewhere in MediaWiki's parser
# (includes/parser/Parser.php, Preprocessor_Hash.php, BlockLevelPass.php):
#   [ ]      internal links [[...]] (categories, files, interwiki), external links [url text]
#   { } |    templates, parser functions ({{subst:}}, {{!}}), template parameters, tables;
#            -{ }- is the language converter (includes/language/LanguageConverter.php)
#   < > &    tags (<nowiki> in any case or spacing, <ref>, <script> shown as text), comments,
#            entities (a literal "&amp;" must stay "&amp;")
#   ~        signatures ~~~ ~~~~ ~~~~~ (pre-save transform, Parser::pstPass2)
#   '        bold and italic ('' ''')
#   = - _    headings (Parser::handleHeadings), ---- rules, __NOTOC__ and the other
#            double-underscore words (Parser::handleDoubleUnderscore)
#   * # : ;  lists and indents at the start of a line, #REDIRECT; ":" also ends the protocol
#            of free external links (http://, mailto:, tel:, ...: Parser::handleMagicLinks)
#   !        table header cells (!!)
# A numeric character reference survives the preprocessor and the parser untouched and is
# only normalised (Sanitizer::normalizeCharReferences) then decoded by the browser.
_WIKI_SPECIAL = frozenset("[]{}|<>&~'=-_*#:;!\"")
# ISBN, RFC and PMID followed by a number become links when $wgEnableMagicLinks allows
# (Parser::handleMagicLinks, which matches the keyword itself): encode its first letter.
_MAGIC_LINK_WORD = re.compile(r"(ISBN|RFC|PMID)", re.IGNORECASE)


def _entity(ch: str) -> str:
    return f"&#{ord(ch)};"


def wikitext(value: Any) -> str:
    """`value` as wikitext that renders as exactly this text, on one line, anywhere in a line
    or a section heading (no <nowiki>, which a heading may not hold in every MediaWiki
    version and which "</NOWIKI >" and friends close early)."""
    text = clean(value)
    text = "".join(_entity(ch) if ch in _WIKI_SPECIAL else ch for ch in text)
    return _MAGIC_LINK_WORD.sub(lambda m: _entity(m.group(1)[0]) + m.group(1)[1:], text)


# -- chat (Apprise: Discord, Slack, Matrix, Telegram, Mattermost, ...) ---------------------------
ZWSP = "\u200b"  # zero width space: invisible, but no platform reads a mention through it
# "@" before a name: @everyone @here (Discord; its webhooks' allowed_mentions guard can't be
# set through Apprise, caronc/apprise#989, whose Discord plugin even turns any @word or <@id>
# of a Markdown body into a real ping, apprise/plugins/discord.py ping_payload),
# @room (Matrix's .m.rule.roomnotif push rule), @channel, <@U123> (Slack), @user (Telegram).
# "!" after "<": Slack's <!here> <!channel> <!everyone> (Apprise's Slack plugin rebuilds them
# from "!here>" even without the "<", apprise/plugins/slack.py _re_channel_support), and
# "<#": Slack's and Discord's channel links.
_MENTION = re.compile(r"([@!\uff20]|(?<=<)#)(?=\S)")
# "://": Slack's <url|label> shows `label` as a link to `url` (and Apprise's Slack plugin
# builds one from "http://x|label>", _re_url_support); member text never makes a link.
_SCHEME = re.compile(r"(?<=\w):(?=//)")


def chat(value: Any) -> str:
    """`value` as one line a chat room shows as typed, without pinging anyone or linking."""
    text = _MENTION.sub(lambda m: m.group(1) + ZWSP, clean(value))
    return _SCHEME.sub(":" + ZWSP, text)


# -- links the bridge makes ----------------------------------------------------------------------
# Kept as they are in an http(s) URL; anything else is percent-encoded, so a link can't
# end early on any target (space, ], |, >, ), ") nor carry markup into a wiki page (~~~~,
# {{, '', __NOTOC__): RFC 3986 gives percent-encoded and plain characters the same meaning.
_URL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                      ":/?#@!$&+,;=%.-")
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def url(value: Any) -> str | None:
    """`value` as a link the bridge may print, or None unless it is an absolute http(s) URL."""
    text = str(value or "").strip()
    if not text or _CONTROLS.search(text) or any(ch.isspace() for ch in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    host = parts.netloc
    if not host.isascii():
        try:
            name, _, port = host.partition(":")
            host = name.encode("idna").decode("ascii") + (":" + port if port else "")
        except UnicodeError:
            return None
    if not _HOST.fullmatch(host):
        return None
    rest = text[len(parts.scheme) + 3 + len(parts.netloc):]
    encoded = "".join(ch if ch in _URL_SAFE else "".join(f"%{b:02X}" for b in ch.encode("utf-8"))
                      for ch in rest)
    return f"{parts.scheme.lower()}://{host}{encoded}"
