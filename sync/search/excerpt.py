"""The excerpt of a result, with the member's words marked, cut from the document's own text.

Made in Python rather than with FTS5's snippet() or PostgreSQL's ts_headline(): both index the
normalised text (sync/search/text.py), and a member who searched for كتب must see كَتَبَ as
written. One function also gives the same excerpt on both databases.
"""

from __future__ import annotations

from html import escape

from sync.search.text import has_unspaced, is_word_char, normalise_mapped

LENGTH = 240


def _needles(terms: tuple[str, ...]) -> list[tuple[str, bool]]:
    """(folded needle, whole-word start required) for each word of each term."""
    out = []
    for term in terms:
        folded, _ = normalise_mapped(term)
        if has_unspaced(folded):
            out.extend((part, False) for part in folded.split() if part)
            continue
        word = []
        for char in folded + " ":
            if is_word_char(char):
                word.append(char)
            elif word:
                out.append(("".join(word), True))
                word = []
    return out


def _spans(norm: str, needles: list[tuple[str, bool]]) -> list[tuple[int, int]]:
    spans = []
    for needle, word_start in needles:
        at = norm.find(needle)
        while at >= 0 and len(spans) < 200:
            if not word_start or at == 0 or not is_word_char(norm[at - 1]):
                end = at + len(needle)
                if word_start:  # the rest of the word too: "run" marks "running", a stemmed match
                    while end < len(norm) and is_word_char(norm[end]):
                        end += 1
                spans.append((at, end))
            at = norm.find(needle, at + 1)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def excerpt(text: str, terms: tuple[str, ...], length: int = LENGTH) -> str:
    """HTML: up to `length` characters of `text` around its first match, escaped, matches in <mark>."""
    norm, origin = normalise_mapped(text)
    # a match ends where the next kept character starts: the marks folded away after it are in it
    marks = [(origin[s], origin[e] if e < len(origin) else len(text))
             for s, e in _spans(norm, _needles(terms))] if norm else []
    start = 0
    if len(text) > length and marks and marks[0][0] > length // 3:
        start = marks[0][0] - length // 3
        space = text.find(" ", start, marks[0][0])
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + length)
    if end < len(text):
        space = text.rfind(" ", start + length // 2, end)
        end = space if space > 0 else end
    out, at = [], start
    for mark_start, mark_end in marks:
        if mark_end <= start or mark_start >= end:
            continue
        mark_start, mark_end = max(mark_start, start), min(mark_end, end)
        out.append(escape(text[at:mark_start]) + "<mark>" + escape(text[mark_start:mark_end]) + "</mark>")
        at = mark_end
    out.append(escape(text[at:end]))
    return ("…" if start > 0 else "") + "".join(out).strip() + ("…" if end < len(text) else "")
