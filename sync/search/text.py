"""The one normalisation the index and the query both go through, so that they meet.

Case is folded and diacritics are removed: Latin accents (café = cafe, as SQLite's
`remove_diacritics 2` does) and Arabic tashkeel, the superscript alef and the tatweel (كَتَبَ =
كتب = كـتـب), which no tokenizer of either database removes: SQLite's unicode61 folds only
Latin-script diacritics (https://www.sqlite.org/fts5.html#unicode61_tokenizer) and PostgreSQL's
`simple` configuration none. Done in Python, the rule is the same on both databases, and
`normalise_mapped` keeps where each character came from, so an excerpt can highlight the
member's own text rather than its folded copy.

Control characters and NUL are dropped too: PostgreSQL refuses NUL in text.
"""

from __future__ import annotations

import functools
import re
import unicodedata

# Arabic: fathatan .. sukun and the other marks U+064B-U+065F, superscript alef U+0670, tatweel U+0640
# (Unicode's Arabic block chart); Latin and other combining diacritics U+0300-U+036F.
_DROPPED = {*range(0x064B, 0x0660), 0x0670, 0x0640, *range(0x0300, 0x0370)}

# Scripts written without spaces between words: a word cannot be told from a substring, so they
# are searched by substring (SQLite's trigram tokenizer; PostgreSQL `strpos`).
_UNSPACED = (
    (0x0E00, 0x0EFF),    # Thai, Lao
    (0x1000, 0x109F),    # Myanmar
    (0x1780, 0x17FF),    # Khmer
    (0x3040, 0x30FF),    # Hiragana, Katakana
    (0x3400, 0x4DBF),    # CJK Extension A
    (0x4E00, 0x9FFF),    # CJK Unified Ideographs
    (0xF900, 0xFAFF),    # CJK Compatibility Ideographs
    (0xFF66, 0xFF9F),    # half-width Katakana
    (0x20000, 0x3134F),  # CJK Extensions B-G
)


# ASCII characters _fold changes other than by lower(): the control characters (\t and \n stay)
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@functools.lru_cache(maxsize=65536)  # a text repeats its characters; the cache is bounded
def _fold(char: str) -> str:
    if unicodedata.category(char) in ("Cc", "Cs") and char not in "\t\n":
        return " " if char in "\r\x0b\x0c\x85" else ""
    decomposed = unicodedata.normalize("NFD", char)
    if any(ord(c) in _DROPPED for c in decomposed):
        char = "".join(c for c in decomposed if ord(c) not in _DROPPED)
    return char.casefold()


def normalise(text: str) -> str:
    """`text` as indexed and searched: folded case, no diacritics, no control characters."""
    return unicodedata.normalize("NFC", "".join(_fold(c) for c in text))


def normalise_mapped(text: str) -> tuple[str, list[int]]:
    """`normalise(text)` without the final NFC step, and for each of its characters the index
    in `text` of the character it came from (for highlighting in the original)."""
    if text.isascii() and not _ASCII_CONTROL.search(text):  # the common case, 20 times faster
        return text.lower(), list(range(len(text)))
    folded = [_fold(char) for char in text]
    if all(len(f) == 1 for f in folded):
        return "".join(folded), list(range(len(text)))
    origin: list[int] = []
    for i, f in enumerate(folded):
        origin.extend([i] * len(f))
    return "".join(folded), origin


def clean(text: str) -> str:
    """`text` as stored: without NUL, which PostgreSQL refuses in text, and without lone surrogates,
    which no driver can encode."""
    return "".join(c for c in text if c != "\x00" and unicodedata.category(c) != "Cs")


def is_unspaced(char: str) -> bool:
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in _UNSPACED)


def has_unspaced(text: str) -> bool:
    """Whether `text` holds a character of a script written without spaces (Chinese, Japanese, Thai...)."""
    return any(is_unspaced(c) for c in text)


def is_word_char(char: str) -> bool:
    """A character the index keeps in a token: categories L*, N*, Co (unicode61's default,
    https://www.sqlite.org/fts5.html#unicode61_tokenizer, option "categories") and the marks
    Mn, Mc the index adds, so that Devanagari or Thai vowel signs do not split words."""
    category = unicodedata.category(char)
    return category[0] in "LN" or category in ("Co", "Mn", "Mc")


def has_word(text: str) -> bool:
    """Whether `text` yields at least one token: a term without one matches nothing and is dropped."""
    return any(is_word_char(c) for c in text)
