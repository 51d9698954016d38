"""Forum usernames for Wikimedia accounts: the wiki username made valid by Discourse's own rules,
chosen once, then kept.

A member's forum name should be the name they are known by on the wiki, in its own script
(محمد, 张伟, राम, Əliyev), so `space-bridge discourse setup` turns Discourse's ``unicode_usernames``
on and this module repairs a wiki name exactly as Discourse would (github.com/discourse/discourse):

- app/models/username_validator.rb: what a valid name is. Characters: with unicode on, letters
  and digits (``\\p{Alnum}``: Alphabetic and decimal digits) and marks (``\\p{M}``) of any script
  plus ``._-``, less a few invisible fillers and the variation selectors
  (UNICODE_INVALID_CHAR_PATTERN); with it off, ``[A-Za-z0-9_.-]`` (ASCII_INVALID_CHAR_PATTERN).
  First character alphanumeric, a mark or ``_``; last alphanumeric or a mark; no two of ``-_.``
  in a row; no ending such as ``.json`` or ``.png`` (CONFUSING_EXTENSIONS); between
  ``min_username_length`` and ``max_username_length`` grapheme clusters (config/site_settings.yml:
  3 and 20) and at most MAX_CHARS (60) code points. The name is NFC-normalised first.
- lib/user_name_suggester.rb: how Discourse repairs a name (sanitize_username, then
  rightsize_username): NFC (unicode on; a name with a capital sigma is lower-cased, as Discourse
  does through JavaScript) or transliteration (off), refused characters to ``_``, leading and
  trailing junk dropped, the confusing extension replaced by ``_``, runs of ``-_.`` to one ``_``,
  cut to the maximum in grapheme clusters, padded with ``1`` to the minimum; a name that is taken
  or reserved gets a number (find_available_username_based_on: the name cut to leave room, then
  1, 2, ...). app/models/user.rb: names are unique by ``normalize_username`` (NFC, then
  lower-case: the ``username_lower`` column), and ``reserved_username?`` refuses the site
  setting ``reserved_usernames`` (default list below; ``*`` is a wildcard) and ``here``.
- ``allowed_unicode_username_characters`` (a regular expression; empty by default, but a forum
  whose default locale is, say, German or Japanese gets ``[äöüßÄÖÜẞ]`` or
  ``[\\p{Han}\\p{Katakana}\\p{Hiragana}]`` from config/site_settings.yml's locale_default): with
  unicode on, every non-ASCII character must match it (UsernameValidator#username_char_allowed?);
  the suggester's apply_allowlist turns a grapheme cluster without an allowed character into ``_``.
  Here a cluster is kept only when each of its characters is allowed, so that the validator, which
  looks at characters, accepts the result too, and one that is not is transliterated (José stays
  readable as "Jose" on a forum that allows only German letters, where Discourse makes it "Jos").

Where this module differs, it is on the safe side: with unicode off it transliterates with
anyascii ("Əliyev" -> "Eliyev", "张伟" -> "ZhangWei") where Rails' table turns anything beyond
Latin into "?"; a cut that would end in ``.json`` again is repaired (Discourse's suggester would
produce a name its validator then refuses); lengths are counted so that the name fits whether
or not the forum's Ruby joins Indic conjuncts into one grapheme cluster (Unicode 15.1's GB9c
rule); a name with nothing usable left becomes "user" + the central id (Discourse: "user").

The result is stored per member (table ``sso_members``), so the forum name never changes when the
wiki name does, and two members never get the same one: the uniqueness check compares
``normalize``d names, as Discourse's ``username_lower`` does.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import regex
import sqlalchemy as sa
from anyascii import anyascii
from sqlalchemy.engine import Engine

from bridge.store import reader, sso_members, utcnow

MAX_CHARS = 60  # UsernameValidator::MAX_CHARS, and the width of sso_members.username
CONFUSING_EXTENSIONS = regex.compile(r"\.(js|json|css|htm|html|xml|jpg|jpeg|png|gif|bmp|ico|tif|tiff|woff)\Z",
                                     regex.IGNORECASE)
ASCII_INVALID_CHAR = regex.compile(r"[^A-Za-z0-9_.-]")
# letters and marks Discourse refuses all the same: combining grapheme joiner, Hangul fillers,
# Khmer inherent vowels, Mongolian free variation selectors, the variation selector blocks
UNICODE_INVALID_CHAR = regex.compile(
    r"[^\p{Alnum}\p{M}._-]|[\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180D\u3164\uFFA0\uFE00-\uFE0F"
    r"\U000E0100-\U000E01EF]")
INVALID_LEADING = regex.compile(r"\A[^\p{Alnum}\p{M}_]+")
INVALID_TRAILING = regex.compile(r"[^\p{Alnum}\p{M}]+\Z")
REPEATED_SPECIAL = regex.compile(r"[-_.]{2,}")
GRAPHEME = regex.compile(r"\X")
_ALNUM = regex.compile(r"\p{Alnum}")
# Indic_Conjunct_Break=Linker (the viramas GB9c joins across), for the narrower cluster count
_CONJUNCT_LINKERS = frozenset("\u094D\u09CD\u0ACD\u0B4D\u0C4D\u0D4D")

#: config/site_settings.yml reserved_usernames default (and here_mention: "here")
DISCOURSE_RESERVED = ("admin", "moderator", "administrator", "mod", "sys", "system", "community", "info", "you",
                      "name", "username", "user", "nickname", "discourse", "discourseorg", "discourseforum",
                      "support", "all", "here")


@dataclass(frozen=True)
class Rules:
    """The forum's username site settings the mapping must satisfy."""

    min_length: int = 3
    max_length: int = 20
    unicode: bool = True  # Discourse's unicode_usernames
    reserved: tuple[str, ...] = DISCOURSE_RESERVED
    allowed: str = ""  # Discourse's allowed_unicode_username_characters (used with unicode on)

    @classmethod
    def of(cls, sso) -> "Rules":
        """The rules `sso` (sso.settings.SsoSettings) describes."""
        return cls(sso.username_min_length, sso.username_max_length, sso.unicode_usernames,
                   allowed=sso.allowed_unicode_username_characters)

    def allows(self, ch: str) -> bool:
        """UsernameValidator.allowed_char? for one character (always true without an allowlist)."""
        if not (self.unicode and self.allowed) or ch.isascii():
            return True
        return _allowlist(self.allowed).search(ch) is not None


@functools.cache
def _allowlist(pattern: str) -> regex.Pattern:
    return regex.compile(pattern)


def normalize(name: str) -> str:
    """User.normalize_username: the form two names are compared in (username_lower)."""
    return unicodedata.normalize("NFC", name).lower()


def clusters(name: str) -> list[str]:
    """Extended grapheme clusters (Ruby's String#grapheme_clusters)."""
    return GRAPHEME.findall(name)


def _narrow_clusters(name: str) -> list[str]:
    """Grapheme clusters without Unicode 15.1's conjunct rule: a virama followed by a letter ends
    a cluster. Never fewer than clusters(), so a name this many long fits an older Ruby too."""
    out: list[str] = []
    for cluster in clusters(name):
        start, after_linker = 0, False
        for i, ch in enumerate(cluster):
            if after_linker and unicodedata.category(ch).startswith("L"):
                out.append(cluster[start:i])
                start = i
            if ch in _CONJUNCT_LINKERS:
                after_linker = True
            elif not unicodedata.category(ch).startswith("M") and ch not in "\u200c\u200d":
                after_linker = False
        out.append(cluster[start:])
    return out


def problems(name: str, rules: Rules = Rules()) -> list[str]:
    """Why Discourse's UsernameValidator would refuse `name` (empty: it is valid)."""
    name = unicodedata.normalize("NFC", name or "")
    found = []
    if not name.strip():
        return ["blank"]
    if len(clusters(name)) < rules.min_length:
        found.append(f"shorter than {rules.min_length}")
    if len(_narrow_clusters(name)) > rules.max_length or len(name) > MAX_CHARS:
        found.append(f"longer than {rules.max_length}")
    if (UNICODE_INVALID_CHAR if rules.unicode else ASCII_INVALID_CHAR).search(name):
        found.append("a character that is not allowed")
    elif not all(rules.allows(ch) for ch in name):
        found.append("a character allowed_unicode_username_characters does not allow")
    if INVALID_LEADING.search(name):
        found.append("must begin with a letter, digit or _")
    if INVALID_TRAILING.search(name):
        found.append("must end with a letter or digit")
    if REPEATED_SPECIAL.search(name):
        found.append("two of - _ . in a row")
    if CONFUSING_EXTENSIONS.search(name):
        found.append("ends like a file name")
    return found


def is_valid(name: str, rules: Rules = Rules()) -> bool:
    return not problems(name, rules)


def is_reserved(name: str, rules: Rules = Rules()) -> bool:
    """User.reserved_username?: a reserved name, `*` matching anything, compared normalised."""
    low = normalize(name)
    for reserved in rules.reserved:
        pattern = ".*".join(regex.escape(normalize(part)) for part in reserved.split("*"))
        if regex.fullmatch(pattern, low):
            return True
    return False


def transliterate(text: str) -> str:
    """ASCII for the letters and digits of any script ("Женя" -> "Zhenya", "محمد" -> "mhmd"), for
    forums without unicode_usernames. anyascii's marks for ayn and hamza (` and ') are left out,
    and so are symbols (it spells emoji as ":name:"), which Discourse would turn into "_" anyway."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch.isascii():
            out.append(ch)
        elif _ALNUM.match(ch) or unicodedata.category(ch) == "Nd":
            out.append(anyascii(ch).strip("'`"))
        elif unicodedata.category(ch)[0] != "M":
            out.append(" ")
    return "".join(out)


def sanitize(name: str, rules: Rules = Rules()) -> str:
    """UserNameSuggester.sanitize_username: the name with every refused character repaired."""
    if rules.unicode:
        name = unicodedata.normalize("NFC", name)
        if "Σ" in name:  # Discourse lower-cases these (final sigma) so that username_lower agrees
            name = name.lower()
    else:
        name = transliterate(name)
    invalid = UNICODE_INVALID_CHAR if rules.unicode else ASCII_INVALID_CHAR
    name = invalid.sub("_", name)
    if rules.unicode and rules.allowed:
        kept = (c if all(rules.allows(ch) for ch in c) else (transliterate(c) or "_") for c in clusters(name))
        name = invalid.sub("_", "".join(kept))
    name = INVALID_LEADING.sub("", name)
    name = CONFUSING_EXTENSIONS.sub("_", name)
    name = INVALID_TRAILING.sub("", name)
    return REPEATED_SPECIAL.sub("_", name)


def truncate(name: str, max_clusters: int) -> str:
    """UserNameSuggester.truncate: at most `max_clusters` clusters and MAX_CHARS code points."""
    parts = _narrow_clusters(name)[:max(max_clusters, 0)]
    while len("".join(parts)) > MAX_CHARS:
        parts.pop()
    return "".join(parts)


def fix(name: str, rules: Rules = Rules(), *, fallback: str = "user") -> str:
    """UserNameSuggester.fix_username: sanitized, cut to the maximum, padded to the minimum."""
    name = sanitize(name or "", rules) or sanitize(fallback, rules) or "user"
    name = INVALID_TRAILING.sub("", truncate(name, rules.max_length))
    if CONFUSING_EXTENSIONS.search(name):  # the cut made it end in ".json" again
        name = INVALID_TRAILING.sub("", CONFUSING_EXTENSIONS.sub("_", name))
    missing = rules.min_length - len(clusters(name))
    return name + "1" * max(missing, 0)


def candidates(name: str, rules: Rules = Rules()):
    """find_available_username_based_on's attempts: `name`, then name cut + 1, 2, 3, ..."""
    yield name
    for i in range(1, 10_000):
        suffix = str(i)
        yield truncate(name, rules.max_length - len(suffix)) + suffix


def base_name(wiki_username: str, sub: str, rules: Rules = Rules()) -> str:
    """The forum name `wiki_username` maps to when no other member has it."""
    return fix(wiki_username, rules, fallback=f"user{sub}")


def stored(engine: Engine, sub: str) -> str | None:
    with reader(engine) as conn:
        return conn.execute(sa.select(sso_members.c.username).where(sso_members.c.sub == str(sub))).scalar()


def assign(engine: Engine, sub: str, wiki_username: str, rules: Rules = Rules()) -> str:
    """The member's forum username: the stored one while the forum's rules still accept it, else
    the first of base, base1, base2, ... that is valid, not reserved and no other member's."""
    sub = str(sub)
    current = stored(engine, sub)
    if current is not None and is_valid(current, rules):
        return current
    for candidate in candidates(base_name(wiki_username, sub, rules), rules):
        if not is_valid(candidate, rules) or is_reserved(candidate, rules) or len(normalize(candidate)) > MAX_CHARS:
            continue
        if _claim(engine, sub, candidate, exists=current is not None):
            return candidate
        if current is None and (parallel := stored(engine, sub)) is not None:
            return parallel  # a parallel login of this member chose it
    raise RuntimeError(f"no free username for {wiki_username!r}")


def adopt(engine: Engine, sub: str, name: str) -> bool:
    """Store `name`, the one the forum itself gave the member, in place of the bridge's choice
    (sso/members.py learns it by external id); False when another member of this bridge holds
    it (the bridge's record of that member is then the stale one, and stays until they log in)."""
    sub = str(sub)
    current = stored(engine, sub)
    if current == name:
        return True
    return _claim(engine, sub, name, exists=current is not None)


def _claim(engine: Engine, sub: str, name: str, *, exists: bool) -> bool:
    now = utcnow()
    lower = normalize(name)
    try:
        with engine.begin() as conn:
            taken = conn.execute(sa.select(sso_members.c.sub).where(sso_members.c.username_lower == lower)).scalar()
            if taken is not None and taken != sub:
                return False
            if exists:
                conn.execute(sa.update(sso_members).where(sso_members.c.sub == sub)
                             .values(username=name, username_lower=lower, updated_at=now))
            else:
                conn.execute(sa.insert(sso_members).values(sub=sub, username=name, username_lower=lower,
                                                           created_at=now, updated_at=now))
        return True
    except sa.exc.IntegrityError:
        # another member took the name at the same moment, or this member's row was just
        # written by a parallel login: read what is there
        return stored(engine, sub) == name


def fields_hash(engine: Engine, sub: str) -> str | None:
    with reader(engine) as conn:
        return conn.execute(sa.select(sso_members.c.discourse_fields_hash)
                            .where(sso_members.c.sub == str(sub))).scalar()


def set_fields_hash(engine: Engine, sub: str, value: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(sso_members).where(sso_members.c.sub == str(sub))
                     .values(discourse_fields_hash=value, updated_at=utcnow()))
