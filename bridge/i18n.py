"""Messages of the bridge's pages, in MediaWiki's "banana" JSON format (bridge/i18n/*.json).

Each language is one file named by its code (`en.json`, `es.json`, `ar.json`, ...), mapping
message keys to text; `@metadata` holds the authors. `qqq.json` documents every key for
translators (as on translatewiki.net) and is not a language. Text may use:

- `$1`, `$2`, ...: parameters, in order;
- `{{PLURAL:$1|one|other}}`: forms chosen by the number in `$1` by CLDR's plural rules (from
  Babel), listed in MediaWiki's order: the categories the language has among zero, one, two,
  few, many, then other (Arabic: zero|one|two|few|many|other; Russian: one|few|many|other;
  Hebrew: one|two|other; English: one|other; Spanish: one|many|other, where a message giving
  two forms uses its last for "many" too); a form written `N=text` applies to exactly N.

    lang = negotiate(request.args.get("uselang"), request.accept_languages)
    msg = message(lang, "spacebridge-refusal-edit-count", 100, 3)
    direction(lang)  # "rtl" for Arabic, Hebrew, Persian, Urdu, ...

A key missing in a language falls back to its base language (pt-br -> pt) and then English.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.plural import PluralRule
from werkzeug.datastructures import LanguageAccept

MESSAGES_DIR = Path(__file__).with_name("i18n")
DEFAULT_LANGUAGE = "en"
DOCUMENTATION = "qqq"  # message documentation, not a language

#: languages written right to left (MediaWiki's languages/messages/Messages*.php: $rtl = true)
RTL_LANGUAGES = frozenset({"ar", "arc", "arz", "azb", "bcc", "bqi", "ckb", "dv", "fa", "glk", "he", "khw", "ks",
                           "lrc", "mzn", "nqo", "pnb", "ps", "sd", "ug", "ur", "yi"})

_PARAM = re.compile(r"\$(\d+)")
_PLURAL = re.compile(r"\{\{PLURAL:\s*([^|}]*)\|([^{}]*)\}\}", re.IGNORECASE)


@functools.cache
def catalogue() -> dict[str, dict[str, str]]:
    """language code -> key -> text, for every language file (not qqq)."""
    result = {}
    for path in sorted(MESSAGES_DIR.glob("*.json")):
        if path.stem == DOCUMENTATION:
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        result[path.stem.lower()] = {k: v for k, v in data.items() if not k.startswith("@")}
    return result


def documentation() -> dict[str, str]:
    data = json.loads((MESSAGES_DIR / f"{DOCUMENTATION}.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("@")}


def available_languages() -> list[str]:
    return sorted(catalogue())


def _base(lang: str) -> str:
    return lang.split("-", 1)[0]


def _supported(lang: str | None) -> str | None:
    if not lang:
        return None
    lang = lang.strip().lower().replace("_", "-")
    cat = catalogue()
    if lang in cat:
        return lang
    return _base(lang) if _base(lang) in cat else None


def negotiate(uselang: str | None = None, accept: LanguageAccept | None = None) -> str:
    """The language to answer in: `?uselang=` when supported, then Accept-Language, then English."""
    chosen = _supported(uselang)
    if chosen:
        return chosen
    if accept:
        # werkzeug matches "es-MX" to "es" (primary subtag) and honours q-values
        best = accept.best_match(available_languages())
        if best:
            return best
    return DEFAULT_LANGUAGE


def direction(lang: str) -> str:
    return "rtl" if _base(lang.lower()) in RTL_LANGUAGES else "ltr"


#: CLDR plural categories in the order MediaWiki expects PLURAL forms: Language::convertPlural
#: takes the rules of languages/data/plurals.xml (CLDR's supplemental plurals, whose rules are
#: listed zero, one, two, few, many) and plurals-mediawiki.xml, and the form after the last rule
#: is "other". (plurals-mediawiki.xml also overrides a few languages, e.g. ja and vi get a "one"
#: form; none of them has a message file here, so Babel's CLDR data is used as it is.)
_CATEGORY_ORDER = ("zero", "one", "two", "few", "many", "other")
_SEPARATORS = re.compile(r"[\s,\u00a0\u202f']")  # group separators written inside numbers
_NUMBER = re.compile(r"-?\d{1,30}(\.\d{1,30})?")


@functools.cache
def _plural_rule(lang: str) -> PluralRule:
    """The CLDR plural rule of `lang`, else of its base language, else English's."""
    for candidate in (lang, _base(lang), DEFAULT_LANGUAGE):
        try:
            return Locale.parse(candidate.replace("-", "_")).plural_form
        except (UnknownLocaleError, ValueError):
            continue
    raise LookupError(lang)  # pragma: no cover - English is always known


def plural_categories(lang: str) -> tuple[str, ...]:
    """The PLURAL forms `lang` has, in the order messages list them."""
    tags = _plural_rule(lang.lower()).tags
    return tuple(c for c in _CATEGORY_ORDER if c in tags or c == "other")


def _plural_index(lang: str, n: Decimal) -> int:
    """Index of the form for `n` among the language's PLURAL forms."""
    lang = lang.lower()
    return plural_categories(lang).index(_plural_rule(lang)(n))


def _parse_number(text: str) -> Decimal:
    """The number as written ("1.0" keeps its visible fraction digit, which CLDR's rules read)."""
    text = _SEPARATORS.sub("", str(text))
    return Decimal(text) if _NUMBER.fullmatch(text) else Decimal(0)


def _choose_plural(lang: str, number: str, forms: list[str]) -> str:
    n = _parse_number(number)
    explicit = {}
    plain = []
    for form in forms:
        m = re.match(r"^\s*(\d+)=(.*)$", form, re.DOTALL)
        if m:
            explicit[Decimal(m.group(1))] = m.group(2)
        else:
            plain.append(form)
    if n in explicit:
        return explicit[n]
    if not plain:
        return ""
    return plain[min(_plural_index(lang, abs(n)), len(plain) - 1)]


def format_message(lang: str, text: str, *params) -> str:
    """`text` with PLURAL chosen and `$N` replaced.

    PLURAL is read in the catalogue's text only (its number may be a `$N`), and parameters go in
    last, in one pass: a parameter is member text (a title, a username) and is never read as
    message syntax, as MediaWiki's Message::plaintextParams keeps it.
    """
    values = [str(p) for p in params]

    def param(m: re.Match) -> str:
        i = int(m.group(1)) - 1
        return values[i] if 0 <= i < len(values) else m.group(0)

    def plural(m: re.Match) -> str:
        return _choose_plural(lang, _PARAM.sub(param, m.group(1)), m.group(2).split("|"))

    return _PARAM.sub(param, _PLURAL.sub(plural, text))


def lookup(lang: str, key: str) -> tuple[str, str] | None:
    """(language the text is in, text) following the fallback chain, or None if unknown."""
    cat = catalogue()
    for candidate in dict.fromkeys((lang.lower(), _base(lang.lower()), DEFAULT_LANGUAGE)):
        text = cat.get(candidate, {}).get(key)
        if text is not None:
            return candidate, text
    return None


def message(lang: str, key: str, *params) -> str:
    """The text of `key` in `lang` (or its fallback), with parameters substituted.

    An unknown key gives "⧼key⧽", as MediaWiki shows it, rather than failing the page.
    """
    found = lookup(lang, key)
    if found is None:
        return f"⧼{key}⧽"
    text_lang, text = found
    return format_message(text_lang, text, *params)


def translator(lang: str) -> Callable[..., str]:
    """`t("key", param1, ...)` for templates."""
    return functools.partial(message, lang)
