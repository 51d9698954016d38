"""Discourse's username rules, reproduced for the double from Discourse's source, so that a forum
name the bridge sends is judged as the real forum would judge it (with the site settings
unicode_usernames, min_username_length, max_username_length, reserved_usernames and
allowed_unicode_username_characters):

- app/models/username_validator.rb — valid_format? and its patterns;
- lib/user_name_suggester.rb — suggest / fix_username / sanitize_username / rightsize_username /
  truncate / find_available_username_based_on;
- app/models/user.rb — normalize_username (NFC, then lower case: username_lower),
  username_available?, reserved_username? (plus here_mention);
- ActiveSupport::Inflector.transliterate (unicode off): i18n's default approximations cover
  Latin-1 and Latin Extended-A only; every other non-ASCII character becomes "?".

Kept apart from the bridge's sso/usernames.py on purpose: the double judges the bridge's names,
it must not share the bridge's code.
"""

from __future__ import annotations

import secrets
import unicodedata

import regex
from anyascii import anyascii

MAX_CHARS = 60
CONFUSING_EXTENSIONS = regex.compile(r"\.(js|json|css|htm|html|xml|jpg|jpeg|png|gif|bmp|ico|tif|tiff|woff)\Z",
                                     regex.IGNORECASE)
ASCII_INVALID = regex.compile(r"[^\w.-]", regex.ASCII)
UNICODE_INVALID = regex.compile(r"[^\p{Alnum}\p{M}._-]|[\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180D\u3164\uFFA0"
                                r"\p{Block=Variation_Selectors}\p{Block=Variation_Selectors_Supplement}]")
INVALID_LEADING = regex.compile(r"\A[^\p{Alnum}\p{M}_]+")
INVALID_TRAILING = regex.compile(r"[^\p{Alnum}\p{M}]+\Z")
REPEATED_SPECIAL = regex.compile(r"[-_.]{2,}")
EMAIL = regex.compile(r"\A[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
                      r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\Z")
GENERIC_NAMES = {"i", "me", "info", "support", "admin", "webmaster", "hello", "mail", "office", "contact", "team"}

# config/locales/server.en.yml, user.username.*
MESSAGES = {
    "blank": "must be present",
    "short": "must be at least {n} characters",
    "long": "must be no more than {n} characters",
    "too_long": "is too long",
    "characters": "must only include numbers, letters, dashes, dots, and underscores",
    "leading": "must begin with a letter, a number or an underscore",
    "trailing": "must end with a letter or a number",
    "double_special": "must not contain a sequence of 2 or more special chars (.-_)",
    "confusing": "must not end with a confusing suffix like .json or .png etc.",
}


def clusters(name: str) -> list[str]:
    return regex.findall(r"\X", name)


def normalize(name: str | None) -> str:
    """User.normalize_username."""
    return unicodedata.normalize("NFC", name or "").lower()


def _allowlist(settings) -> regex.Pattern | None:
    pattern = settings("allowed_unicode_username_characters") if settings("unicode_usernames") else ""
    return regex.compile(pattern) if pattern else None


def _allowed_char(c: str, allow: regex.Pattern) -> bool:
    """UsernameValidator.allowed_char?"""
    return bool(regex.search(r"[\w.-]", c, regex.ASCII) or allow.search(c))


def errors(name: str | None, settings) -> list[str]:
    """UsernameValidator#valid_format?: the first problem, as Discourse reports only that one."""
    name = unicodedata.normalize("NFC", name or "")
    lo, hi = int(settings("min_username_length")), int(settings("max_username_length"))
    parts = clusters(name)
    allow = _allowlist(settings)
    checks = [
        (not name.strip(), MESSAGES["blank"]),
        (len(parts) < lo, MESSAGES["short"].format(n=lo)),
        (len(parts) > hi, MESSAGES["long"].format(n=hi)),
        (len(name) > MAX_CHARS, MESSAGES["too_long"]),
        (bool((UNICODE_INVALID if settings("unicode_usernames") else ASCII_INVALID).search(name)), MESSAGES["characters"]),
        (allow is not None and not all(_allowed_char(c, allow) for c in name), MESSAGES["characters"]),
        (bool(parts) and bool(INVALID_LEADING.search(parts[0])), MESSAGES["leading"]),
        (bool(parts) and bool(INVALID_TRAILING.search(parts[-1])), MESSAGES["trailing"]),
        (bool(REPEATED_SPECIAL.search(name)), MESSAGES["double_special"]),
        (bool(CONFUSING_EXTENSIONS.search(name)), MESSAGES["confusing"]),
    ]
    for failed, message in checks:
        if failed:
            return [message]
    return []


def reserved(name: str, settings) -> bool:
    """User.reserved_username?"""
    low = normalize(name)
    if low == normalize(settings("here_mention")):
        return True
    for entry in str(settings("reserved_usernames") or "").split("|"):
        if entry and regex.fullmatch(".*".join(regex.escape(normalize(p)) for p in entry.split("*")), low):
            return True
    return False


def transliterate(name: str) -> str:
    """ActiveSupport::Inflector.transliterate with i18n's default approximations."""
    out = []
    for ch in unicodedata.normalize("NFC", name):
        if ch.isascii():
            out.append(ch)
        elif "\u00c0" <= ch <= "\u017f" or ch == "\u1e9e":
            out.append(anyascii(ch) or "?")
        else:
            out.append("?")
    return "".join(out)


def sanitize(name: str | None, settings) -> str:
    name = str(name or "")
    if settings("unicode_usernames"):
        name = unicodedata.normalize("NFC", name)
        if "Σ" in name:
            name = name.lower()
    else:
        name = transliterate(name)
    name = (UNICODE_INVALID if settings("unicode_usernames") else ASCII_INVALID).sub("_", name)
    allow = _allowlist(settings)
    if allow is not None:
        name = "".join(c if _allowed_char(c, allow) else "_" for c in clusters(name))
    name = INVALID_LEADING.sub("", name)
    name = CONFUSING_EXTENSIONS.sub("_", name)
    name = INVALID_TRAILING.sub("", name)
    return REPEATED_SPECIAL.sub("_", name)


def truncate(name: str, max_clusters: int) -> str:
    parts = clusters(name)
    if len(parts) > max_clusters:
        parts = parts[:max_clusters]
        name = "".join(parts)
    while len(name) > MAX_CHARS:
        parts.pop()
        name = "".join(parts)
    return name


def fix(name: str | None, settings) -> str:
    fixed = sanitize(name, settings) or sanitize("user", settings) or "user"
    fixed = INVALID_TRAILING.sub("", truncate(fixed, int(settings("max_username_length"))))
    missing = int(settings("min_username_length")) - len(clusters(fixed))
    return fixed + "1" * max(missing, 0)


def _from_email(item: str | None) -> str | None:
    if item and EMAIL.match(item):
        local, _, domain = item.partition("@")
        return domain.split(".")[0] if local in GENERIC_NAMES else local
    return item


def suggest(inputs: list[str | None], settings, available, current_username: str | None = None) -> str:
    """UserNameSuggester.suggest(*input, current_username:): the first input that leaves anything
    after sanitizing, fixed, then numbered until `available(name)` (or it is the current name)."""
    name = None
    for item in inputs:
        parsed = _from_email(item)
        if sanitize(parsed, settings):
            name = parsed
            break
    name = fix(name, settings)
    current = normalize(current_username) if current_username else None
    attempt, i = name, 1
    while not (normalize(attempt) == current or available(attempt)) and i <= 100:
        suffix = str(i)
        attempt = truncate(name, int(settings("max_username_length")) - len(suffix)) + suffix
        i += 1
    while not (normalize(attempt) == current or available(attempt)) and i <= 200:
        attempt = secrets.token_hex(16)[1:int(settings("max_username_length")) + 1]
        i += 1
    return current_username if current is not None and normalize(attempt) == current else attempt
