"""Forum usernames (sso/usernames.py): wiki names in every script made valid by Discourse's rules,
with unicode_usernames on and off, stored once and never shared. Each mapped name is also judged
by the Discourse double's independent reading of Discourse's validator (the login round trip is in
test_usernames_login.py)."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from sso import usernames
from sso.usernames import Rules

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "dev"))
from discourse_double import usernames as discourse  # noqa: E402
from discourse_double.store import DEFAULT_SITE_SETTINGS  # noqa: E402

ON, OFF = Rules(unicode=True), Rules(unicode=False)


def forum_settings(rules: Rules):
    values = {**DEFAULT_SITE_SETTINGS, "unicode_usernames": rules.unicode, "allowed_unicode_username_characters": rules.allowed,
              "min_username_length": rules.min_length, "max_username_length": rules.max_length}
    return values.get


def forum_accepts(name: str, rules: Rules) -> bool:
    return discourse.errors(name, forum_settings(rules)) == [] and not discourse.reserved(name, forum_settings(rules))


# wiki name, forum name with unicode_usernames on, with it off
MAPPING = [
    ("محمد", "محمد", "mhmd"),                                        # Arabic
    ("عبد الرحمن بن عوف الأنصاري", "عبد_الرحمن_بن_عوف_ال", "bd_lrhmn_bn_wf_lnsry"),  # long: 20 clusters
    ("שלום", "שלום", "slvm"),                                        # Hebrew
    ("דוד בן-גוריון", "דוד_בן-גוריון", "dvd_vn-gvryvn"),
    ("राम", "राम1", "ram"),                                           # Devanagari: two clusters, padded
    ("स्वामी विवेकानन्द", "स्वामी_विवेकानन्द", "svami_vivekannd"),
    ("张伟", "张伟1", "ZhangWei"),                                     # Chinese
    ("李小龙", "李小龙", "LiXiaoLong"),
    ("さくら", "さくら", "sakura"),                                    # Japanese
    ("田中 太郎", "田中_太郎", "TianZhong_TaiLang"),
    ("Женя", "Женя", "Zhenya"),                                      # Cyrillic
    ("Евгения Петрова", "Евгения_Петрова", "Evgeniya_Petrova"),
    ("Ελένη", "Ελένη", "Eleni"),                                     # Greek
    ("ΟΔΥΣΣΕΥΣ", "οδυσσευς", "ODYSSEYS"),                            # capital sigma: lower-cased, as Discourse does
    ("Əliyev", "Əliyev", "Eliyev"),                                  # Azerbaijani
    ("Şəhriyar Məmmədov", "Şəhriyar_Məmmədov", "Sehriyar_Memmedov"),
    ("Nguyễn Văn An", "Nguyễn_Văn_An", "Nguyen_Van_An"),             # Vietnamese
    ("Ngô Bảo Châu", "Ngô_Bảo_Châu", "Ngo_Bao_Chau"),
    ("José Álvarez", "José_Álvarez", "Jose_Alvarez"),                # Latin with diacritics
    ("Łukasz Żółć", "Łukasz_Żółć", "Lukasz_Zolc"),
    ("Ziko van Dijk", "Ziko_van_Dijk", "Ziko_van_Dijk"),             # spaces
    ("Mr. Smith (WMF)", "Mr_Smith_WMF", "Mr_Smith_WMF"),
    ("x" * 40, "x" * 20, "x" * 20),                                  # cut to max_username_length
    ("Ab", "Ab1", "Ab1"),                                            # padded to min_username_length
    ("foo.json", "foo", "foo"),                                      # CONFUSING_EXTENSIONS: ".json" -> "_", then trimmed
    ("Photo.PNG", "Photo", "Photo"),
    ("abcdefghijklmno.jsonx", "abcdefghijklmno", "abcdefghijklmno"),  # the cut would end in ".json"
    ("a--b..c__d", "a_b_c_d", "a_b_c_d"),                            # no two of -_. in a row
    ("Zoe\u0308", "Zoë", "Zoe"),                                     # NFD in, NFC out
    ("🙂🙂", "user42", "user42"),                                    # nothing usable: user + central id
]


@pytest.mark.parametrize("wiki, on, off", MAPPING)
def test_wiki_names_map_to_readable_forum_names(wiki, on, off):
    assert usernames.base_name(wiki, "42", ON) == on
    assert usernames.base_name(wiki, "42", OFF) == off
    assert usernames.is_valid(on, ON) and usernames.is_valid(off, OFF)
    assert forum_accepts(on, ON) and forum_accepts(off, OFF)  # the double's reading of Discourse agrees
    assert off.isascii()


def test_names_that_were_lost_before_are_kept_in_their_script():
    for wiki in ("محمد", "张伟", "राम", "שלום"):
        assert not usernames.base_name(wiki, "7", ON).startswith("user")
    assert usernames.base_name("Əliyev", "7", OFF) == "Eliyev"  # not "liyev"


@pytest.mark.parametrize("name, on, off", [
    ("Ziko_van_Dijk", True, True), ("ab", False, False), ("a" * 21, False, False), ("_abc", True, True),
    (".abc", False, False), ("abc_", False, False), ("a..b", False, False), ("a-_b", False, False),
    ("abc.json", False, False), ("abc.jsonx", True, True), ("Женя", True, False), ("a b", False, False),
    ("محمد", True, False), ("abc\u200d", False, False), ("ab\ufe0fc", False, False), ("ᅟabc", False, False),
    ("ab\u0301c", True, False), ("٣٤٥", True, False),
])
def test_validator_follows_discourse(name, on, off):
    assert usernames.is_valid(name, ON) is on and usernames.is_valid(name, OFF) is off
    assert forum_accepts(name, ON) is on and forum_accepts(name, OFF) is off


def test_lengths_count_grapheme_clusters_and_code_points():
    assert usernames.is_valid("नमस्ते", ON)  # 6 code points, 3 clusters
    assert not usernames.is_valid("ab", ON)
    rules = Rules(min_length=3, max_length=60, unicode=True)
    combining = "e\u0301" * 31  # 31 clusters but 62 code points: over MAX_CHARS
    fixed = usernames.fix(combining, rules)
    assert len(fixed) <= 60 and usernames.is_valid(fixed, rules) and forum_accepts(fixed, rules)


def test_other_length_settings():
    assert usernames.fix("A", Rules(1, 60)) == "A"
    assert usernames.fix("Ziko van Dijk the Third of Many", Rules(3, 10)) == "Ziko_van_D"
    assert usernames.fix("Jo", Rules(4, 20)) == "Jo11"
    assert usernames.fix("Ελένη Παπαδοπούλου", Rules(3, 8)) == "Ελένη_Πα"


def test_reserved_names_follow_the_site_setting():
    assert usernames.is_reserved("admin") and usernames.is_reserved("ADMIN") and usernames.is_reserved("here")
    assert not usernames.is_reserved("admin1") and not usernames.is_reserved("Adminy")
    assert usernames.is_reserved("staff-alice", Rules(reserved=("staff*",)))


# config/site_settings.yml locale_default of allowed_unicode_username_characters for de and ja
GERMAN, JAPANESE = Rules(allowed="[äöüßÄÖÜẞ]"), Rules(allowed=r"[\p{Han}\p{Katakana}\p{Hiragana}]")


@pytest.mark.parametrize("rules, wiki, forum", [
    (GERMAN, "Jürgen Müller", "Jürgen_Müller"), (GERMAN, "Straße", "Straße"), (GERMAN, "Женя", "Zhenya"),
    (GERMAN, "José Álvarez", "Jose_Alvarez"), (GERMAN, "田中", "TianZhong"),
    (JAPANESE, "田中 太郎", "田中_太郎"), (JAPANESE, "さくら", "さくら"), (JAPANESE, "カタカナ", "カタカナ"),
    (JAPANESE, "Müller", "Muller"), (JAPANESE, "Ελένη", "Eleni"),
])
def test_a_forum_allowlist_is_respected_and_the_rest_transliterated(rules, wiki, forum):
    assert usernames.base_name(wiki, "42", rules) == forum
    assert forum_accepts(forum, rules)
    assert not forum_accepts("Женя", GERMAN) and not usernames.is_valid("Женя", GERMAN)


def test_numbered_alternatives_stay_within_the_length():
    numbered = list(usernames.candidates("x" * 20, ON))
    assert numbered[1] == "x" * 19 + "1" and numbered[12] == "x" * 18 + "12"
    assert list(usernames.candidates("张伟1", ON))[1] == "张伟11"
    cut = list(usernames.candidates("Μαρία-Ελένη_Παπαδοπο", ON))[3]
    assert cut == "Μαρία-Ελένη_Παπαδοπ3" and forum_accepts(cut, ON)


# -- in the database: distinct and stable ---------------------------------------------------------------
def test_colliding_names_get_distinct_stable_names(engine):
    assert usernames.assign(engine, "1", "Foo Bar") == "Foo_Bar"
    assert usernames.assign(engine, "2", "foo_bar") == "foo_bar1"  # case-insensitive, like username_lower
    assert usernames.assign(engine, "3", "Foo.Bar!") == "Foo.Bar"
    assert usernames.assign(engine, "4", "FOO BAR") == "FOO_BAR2"
    assert usernames.assign(engine, "2", "Something Else") == "foo_bar1"  # kept
    long = "x" * 40
    assert usernames.assign(engine, "5", long) == "x" * 20
    assert usernames.assign(engine, "6", long) == "x" * 19 + "1"
    # a name that no longer fits new length settings is chosen again
    assert usernames.assign(engine, "5", long, Rules(3, 15)) == "x" * 15


def test_unicode_collisions_are_found_in_any_case_or_normalisation(engine):
    nfc, nfd = "Zoë Ångström", unicodedata.normalize("NFD", "Zoë Ångström")
    assert usernames.assign(engine, "11", nfc) == "Zoë_Ångström"
    assert usernames.assign(engine, "12", nfd) == "Zoë_Ångström1"  # same name in NFD
    assert usernames.assign(engine, "13", "ZOË ÅNGSTRÖM") == "ZOË_ÅNGSTRÖM2"  # same name in capitals
    assert usernames.assign(engine, "14", "Admin") == "Admin1"  # reserved
    assert usernames.assign(engine, "15", "محمد") == "محمد"
    assert usernames.assign(engine, "16", "محمد") == "محمد1"
    assert usernames.assign(engine, "17", "🙂") == "user17"
    names = [usernames.stored(engine, str(sub)) for sub in range(11, 18)]
    assert len({usernames.normalize(n) for n in names}) == len(names)


def test_many_members_never_share_a_name(engine):
    subs = []
    for i, (wiki, _on, _off) in enumerate(MAPPING * 2):  # every name twice
        subs.append(str(100 + i))
        usernames.assign(engine, subs[-1], wiki, ON)
    names = [usernames.stored(engine, sub) for sub in subs]
    assert len({usernames.normalize(n) for n in names}) == len(names)
    assert all(forum_accepts(n, ON) for n in names)


def test_switching_unicode_off_gives_ascii_names_to_those_who_had_unicode_ones(engine):
    assert usernames.assign(engine, "21", "Женя", ON) == "Женя"
    assert usernames.assign(engine, "22", "Ziko van Dijk", ON) == "Ziko_van_Dijk"
    assert usernames.assign(engine, "21", "Женя", OFF) == "Zhenya"
    assert usernames.assign(engine, "22", "Ziko van Dijk", OFF) == "Ziko_van_Dijk"  # still valid: kept


# -- any wiki name at all --------------------------------------------------------------------------------
WIKI_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)


@settings(max_examples=200, deadline=None)
@given(WIKI_TEXT, st.booleans(), st.integers(1, 10), st.integers(0, 50), st.sampled_from(["", GERMAN.allowed,
                                                                                          JAPANESE.allowed]))
def test_any_wiki_name_maps_to_a_name_the_forum_accepts(wiki, unicode, lo, extra, allowed):
    rules = Rules(min_length=lo, max_length=max(lo + extra, 3), unicode=unicode, allowed=allowed)
    name = usernames.base_name(wiki, "1234", rules)
    assert usernames.is_valid(name, rules), (wiki, name, usernames.problems(name, rules))
    assert discourse.errors(name, forum_settings(rules)) == [], (wiki, name)
    for numbered in list(usernames.candidates(name, rules))[1:12]:
        assert discourse.errors(numbered, forum_settings(rules)) == [], (wiki, numbered)
