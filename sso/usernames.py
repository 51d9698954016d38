"""Forum usernames for Wikimedia accounts: valid for Discourse, chosen once, then kept.

Discourse's rules (github.com/discourse/discourse), with ``unicode_usernames`` off (the default):

- app/models/username_validator.rb: characters ``[\\w.-]`` with Ruby's ASCII ``\\w`` (so
  ``A-Za-z0-9_.-``; ASCII_INVALID_CHAR_PATTERN ``/[^\\w.-]/``); first character alphanumeric or
  ``_`` (INVALID_LEADING_CHAR_PATTERN); last character alphanumeric (INVALID_TRAILING_CHAR_PATTERN);
  no two of ``-_.`` in a row (REPEATED_SPECIAL_CHAR_PATTERN ``/[-_.]{2,}/``); not ending in
  ``.js``, ``.json``, ``.css``, ``.htm(l)``, ``.xml`` or an image/font extension
  (CONFUSING_EXTENSIONS); length within ``User.username_length`` = site settings
  min_username_length..max_username_length (config/site_settings.yml: 3 and 20 by default).
- lib/user_name_suggester.rb: how Discourse itself repairs a name: transliterate, replace the
  confusing extension's dot and every refused character by ``_``, drop leading non-word and
  trailing non-alphanumeric characters, collapse runs of ``-_.`` into ``_``, cut to the maximum
  length, pad to the minimum with ``1``; a taken name gets a number (``name1``, ``name2``, ...,
  cut so that the whole stays within the maximum). Usernames are unique case-insensitively
  (``username_lower``).

The same steps are used here, with a transliteration that keeps Cyrillic and Greek names
readable ("Женя" -> "Zhenya") where Rails' would turn them into "?"; a name with nothing left
(Arabic or Chinese script, say) becomes "user" + the central id. The result is stored per
member (table ``sso_members``), so the forum name never changes when the wiki name does, and
two members whose names map alike get distinct names (the second one numbered).
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.store import reader, sso_members, utcnow

CONFUSING_EXTENSIONS = re.compile(r"\.(js|json|css|htm|html|xml|jpg|jpeg|png|gif|bmp|ico|tif|tiff|woff)\Z", re.I)
INVALID_CHAR = re.compile(r"[^A-Za-z0-9_.-]")
INVALID_LEADING = re.compile(r"\A[^A-Za-z0-9_]+")
INVALID_TRAILING = re.compile(r"[^A-Za-z0-9]+\Z")
REPEATED_SPECIAL = re.compile(r"[-_.]{2,}")

_CYRILLIC = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґўђјљњћџ",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u",
     "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya", "i", "yi", "ye", "g", "u", "dj", "j",
     "lj", "nj", "c", "dz"]))
_GREEK = dict(zip("αβγδεζηθικλμνξοπρσςτυφχψω",
                  ["a", "v", "g", "d", "e", "z", "i", "th", "i", "k", "l", "m", "n", "x", "o", "p", "r", "s", "s",
                   "t", "y", "f", "ch", "ps", "o"]))
_OTHER = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ð": "d", "þ": "th", "ł": "l", "đ": "d", "ı": "i",
          "ŋ": "ng", "ħ": "h"}
_TABLE = {**_CYRILLIC, **_GREEK, **_OTHER}


def transliterate(text: str) -> str:
    """ASCII letters for Latin (accents dropped), Cyrillic and Greek; anything else becomes '_'."""
    out = []
    for ch in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(ch):
            continue
        if ch.isascii():
            out.append(ch)
            continue
        low = ch.lower()
        rep = _TABLE.get(low)
        if rep is None:
            out.append("_")
        elif ch != low and rep:
            out.append(rep[0].upper() + rep[1:])
        else:
            out.append(rep)
    return "".join(out)


def is_valid(name: str, min_length: int = 3, max_length: int = 20) -> bool:
    """Whether Discourse's UsernameValidator (ASCII usernames) accepts `name`."""
    return (min_length <= len(name) <= max_length and not INVALID_CHAR.search(name)
            and not INVALID_LEADING.search(name) and not INVALID_TRAILING.search(name)
            and not REPEATED_SPECIAL.search(name) and not CONFUSING_EXTENSIONS.search(name))


def sanitize(name: str, min_length: int = 3, max_length: int = 20, *, fallback: str = "user") -> str:
    """A Discourse-valid username made from `name` (UserNameSuggester.fix_username's steps)."""
    name = transliterate(name or "")
    name = name.replace(" ", "_")
    m = CONFUSING_EXTENSIONS.search(name)
    if m:
        name = name[:m.start()] + "_" + name[m.start() + 1:]
    name = INVALID_CHAR.sub("_", name)
    name = INVALID_LEADING.sub("", name)
    name = INVALID_TRAILING.sub("", name)
    name = REPEATED_SPECIAL.sub("_", name)
    name = name.lstrip("_")  # Discourse allows a leading '_', but "_x" from "(x" reads badly
    if not re.search(r"[A-Za-z0-9]", name):
        name = fallback
    name = INVALID_TRAILING.sub("", name[:max_length])
    if not name:
        name = fallback[:max_length]
    name = name.ljust(min_length, "1")
    if CONFUSING_EXTENSIONS.search(name):  # cut to length, it may end in ".json" again
        name = name[:name.rindex(".")] + "_" + name[name.rindex(".") + 1:]
    assert is_valid(name, min_length, max_length), name
    return name


def numbered(name: str, i: int, max_length: int = 20) -> str:
    """The i-th alternative to a taken `name` (UserNameSuggester: name cut + number)."""
    suffix = str(i)
    base = INVALID_TRAILING.sub("", name[: max_length - len(suffix)])
    return (base or "u") + suffix


def base_name(wiki_username: str, sub: str, min_length: int = 3, max_length: int = 20) -> str:
    return sanitize(wiki_username, min_length, max_length, fallback=f"user{sub}")


def stored(engine: Engine, sub: str) -> str | None:
    with reader(engine) as conn:
        return conn.execute(sa.select(sso_members.c.username).where(sso_members.c.sub == str(sub))).scalar()


def assign(engine: Engine, sub: str, wiki_username: str, min_length: int = 3, max_length: int = 20) -> str:
    """The member's forum username: the stored one when it is still valid under the current
    length settings, else a fresh one (the first of base, base1, base2, ... no other member has)."""
    sub = str(sub)
    current = stored(engine, sub)
    if current is not None and is_valid(current, min_length, max_length):
        return current
    base = base_name(wiki_username, sub, min_length, max_length)
    for i in range(0, 10_000):
        candidate = base if i == 0 else numbered(base, i, max_length)
        if not is_valid(candidate, min_length, max_length):
            continue
        if _claim(engine, sub, candidate, exists=current is not None):
            return candidate
    raise RuntimeError(f"no free username for {wiki_username!r}")


def _claim(engine: Engine, sub: str, name: str, *, exists: bool) -> bool:
    now = utcnow()
    try:
        with engine.begin() as conn:
            taken = conn.execute(sa.select(sso_members.c.sub).where(sso_members.c.username_lower == name.lower())).scalar()
            if taken is not None and taken != sub:
                return False
            if exists:
                conn.execute(sa.update(sso_members).where(sso_members.c.sub == sub)
                             .values(username=name, username_lower=name.lower(), updated_at=now))
            else:
                conn.execute(sa.insert(sso_members).values(sub=sub, username=name, username_lower=name.lower(),
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

