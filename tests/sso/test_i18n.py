"""Message files (banana JSON in bridge/i18n/) and the loader."""

from __future__ import annotations

import json
import re

import pytest
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from bridge import i18n

#: keys a language deliberately leaves to its fallback (none so far)
DELIBERATE_FALLBACKS: dict[str, set[str]] = {}


def keys(lang):
    return set(i18n.catalogue()[lang])


def params(text):
    return set(re.findall(r"\$\d+", text))


def test_files_are_banana_json_and_qqq_documents_every_key():
    for path in i18n.MESSAGES_DIR.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert "@metadata" in data and isinstance(data["@metadata"].get("authors"), list), path.name
        assert all(isinstance(v, str) and v.strip() for k, v in data.items() if k != "@metadata"), path.name
    assert set(i18n.documentation()) == keys("en")


@pytest.mark.parametrize("lang", sorted(set(i18n.available_languages()) - {"en"}))
def test_translations_cover_english_with_the_same_parameters(lang):
    english = i18n.catalogue()["en"]
    translated = i18n.catalogue()[lang]
    assert keys(lang) <= keys("en"), f"{lang} has keys English does not: {keys(lang) - keys('en')}"
    missing = keys("en") - keys(lang) - DELIBERATE_FALLBACKS.get(lang, set())
    assert not missing, f"{lang} lacks {sorted(missing)}"
    for key, text in translated.items():
        assert params(text) == params(english[key]), (lang, key)
        assert text.count("{{") == text.count("}}"), (lang, key)


def test_required_languages_exist():
    assert {"en", "es", "ar"} <= set(i18n.available_languages())


def test_parameters_and_plural():
    assert i18n.message("en", "spacebridge-refusal-edit-count", 100, 1, "meta.wikimedia.org") == (
        "The Wikimedia Space is open to accounts with at least 100 edits on meta.wikimedia.org; "
        "yours has 1 edit there so far.")
    assert i18n.message("es", "spacebridge-refusal-edit-count-help", 1, "meta.wikimedia.org").endswith(
        "tenga 1 edición en meta.wikimedia.org.")
    assert "less than a day ago" in i18n.message("en", "spacebridge-refusal-account-age", 30, 0)
    assert "registered 2 days ago" in i18n.message("en", "spacebridge-refusal-account-age", 30, 2)
    assert i18n.message("en", "spacebridge-refusal-deny-list", "Женя") == (
        "The account Женя may not log in to the Wikimedia Space.")


@pytest.mark.parametrize("n, form", [(0, "صفر تعديل"), (1, "تعديل واحد"), (2, "تعديلين"), (3, "3 تعديلات"),
                                     (10, "10 تعديلات"), (11, "11 تعديلًا"), (99, "99 تعديلًا"), (100, "100 تعديل"),
                                     (103, "103 تعديلات")])
def test_arabic_has_six_plural_forms(n, form):
    assert f"ما لا يقل عن {form}،" in i18n.message("ar", "spacebridge-refusal-edit-count", n, 5, "meta.wikimedia.org")


# -- plural rules: CLDR's (Babel), forms in MediaWiki's order -------------------------------------------
RU = "{{PLURAL:$1|$1 правка|$1 правки|$1 правок|$1 правки}}"  # one|few|many|other
HE = "{{PLURAL:$1|עריכה אחת|שתי עריכות|$1 עריכות}}"  # one|two|other


@pytest.mark.parametrize("n, text", [(1, "1 правка"), (2, "2 правки"), (5, "5 правок"), (11, "11 правок"),
                                     (21, "21 правка"), (22, "22 правки"), (25, "25 правок"), (111, "111 правок"),
                                     (101, "101 правка"), ("1.5", "1.5 правки"), ("1,021", "1,021 правка")])
def test_russian_plural_is_one_few_many_other(n, text):
    assert i18n.plural_categories("ru") == ("one", "few", "many", "other")
    assert i18n.format_message("ru", RU, n) == text


@pytest.mark.parametrize("n, text", [(1, "עריכה אחת"), (2, "שתי עריכות"), (3, "3 עריכות"), (20, "20 עריכות"),
                                     (102, "102 עריכות")])
def test_hebrew_has_a_dual_and_no_few(n, text):
    # CLDR 42 dropped Hebrew's "many" (Babel >= 2.12); MediaWiki's plurals-mediawiki.xml has one|two too
    assert i18n.plural_categories("he") == ("one", "two", "other")
    assert i18n.format_message("he", HE, n) == text


@pytest.mark.parametrize("n, form", [(0, "لا ردود"), (1, "رد واحد"), (2, "ردان"), (3, "3 ردود"), (10, "10 ردود"),
                                     (11, "11 ردًا"), (99, "99 ردًا"), (100, "100 رد"), (102, "102 رد"),
                                     (103, "103 ردود"), (111, "111 ردًا"), ("2.5", "2.5 رد")])
def test_arabic_forms_through_a_real_message(n, form):
    assert i18n.plural_categories("ar") == ("zero", "one", "two", "few", "many", "other")
    assert i18n.message("ar", "spacebridge-digest-replies", n) == form


@pytest.mark.parametrize("n, text", [(1, "1 respuesta"), (2, "2 respuestas"), (0, "0 respuestas"),
                                     (1000000, "1000000 respuestas"), ("1.5", "1.5 respuestas")])
def test_spanish_two_written_forms_cover_one_many_other(n, text):
    assert i18n.message("es", "spacebridge-digest-replies", n) == text


@pytest.mark.parametrize("n, form", [(1, "uno"), (2, "otro"), (1000000, "millón"), (2000000, "millón"),
                                     (1000001, "otro")])
def test_spanish_has_a_many_form_for_millions(n, form):
    assert i18n.plural_categories("es") == ("one", "many", "other")
    assert i18n.format_message("es", "{{PLURAL:$1|uno|millón|otro}}", n) == form


@pytest.mark.parametrize("n, text", [(0, "0 replies"), (1, "1 reply"), (2, "2 replies"), (21, "21 replies"),
                                     ("1.0", "1.0 replies"), ("1,000", "1,000 replies")])
def test_english_one_is_exactly_one_without_visible_decimals(n, text):
    assert i18n.message("en", "spacebridge-digest-replies", n) == text


def test_plural_of_an_unknown_language_or_a_non_number_does_not_fail():
    assert i18n.format_message("xx-unknown", "{{PLURAL:$1|one|other}}", 1) == "one"  # English's rules
    assert i18n.format_message("en", "{{PLURAL:$1|one|other}}", "many") == "other"  # not a number: 0
    assert i18n.format_message("en", "{{PLURAL:$1|one|other}}", "1e999999") == "other"


def test_fallback_to_base_language_then_english_and_unknown_keys():
    assert i18n.message("es-mx", "spacebridge-refusal-try-again") == "Iniciar sesión de nuevo"
    assert i18n.message("de", "spacebridge-refusal-try-again") == "Log in again"
    assert i18n.message("es", "spacebridge-no-such-message") == "⧼spacebridge-no-such-message⧽"
    assert i18n.format_message("en", "$1 and $3", "a") == "a and $3"


def accept(header):
    return parse_accept_header(header, LanguageAccept)


@pytest.mark.parametrize("uselang, header, expected", [
    (None, None, "en"),
    ("ar", "es", "ar"),
    ("AR", None, "ar"),
    ("es_MX", None, "es"),
    ("xx", "es-ES,es;q=0.9", "es"),
    (None, "de-DE,es;q=0.5,en;q=0.4", "es"),
    (None, "es-AR", "es"),
    (None, "fr, de", "en"),
    (None, "en;q=0.9,ar", "ar"),
])
def test_negotiation(uselang, header, expected):
    assert i18n.negotiate(uselang, accept(header) if header else None) == expected


def test_direction():
    assert i18n.direction("ar") == "rtl" and i18n.direction("he") == "rtl" and i18n.direction("fa-IR") == "rtl"
    assert i18n.direction("es") == "ltr" and i18n.direction("en") == "ltr"


@pytest.mark.parametrize("member_text", ["{{PLURAL:2|one|two}}", "$2", "{{plural:$1|a|b}}", "$1$1"])
def test_a_parameter_is_never_read_as_message_syntax(member_text):
    # A topic titled "{{PLURAL:2|one|two}}" or "$2" shows as typed, whatever the message does with it.
    text = "“$1”: {{PLURAL:$2|one reply|$2 replies}}"
    assert i18n.format_message("en", text, member_text, 3) == f"“{member_text}”: 3 replies"
    assert i18n.format_message("en", text, member_text, 1) == f"“{member_text}”: one reply"
