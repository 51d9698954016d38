"""The normalisation index and query share: the spellings a member would call the same word meet."""

from __future__ import annotations

from sync.search.text import has_unspaced, has_word, normalise, normalise_mapped


def test_arabic_with_tashkeel_tatweel_or_hamza_forms_is_one_word():
    assert normalise("كَتَبَ") == normalise("كـتـب") == normalise("كتب") == "كتب"
    assert normalise("أحمد") == normalise("إحمد") == normalise("احمد")
    assert normalise("الرَّحْمٰن") == "الرحمن"  # shadda, sukun and the superscript alef go too


def test_latin_accents_and_case_fold():
    assert normalise("Café ÉTÉ Straße") == "cafe ete strasse"


def test_control_characters_go_and_the_mapping_points_into_the_original():
    folded, origin = normalise_mapped("A\x00é")
    assert folded == "ae" and origin == [0, 2]


def test_scripts_without_spaces_are_told_apart():
    assert has_unspaced("我们") and has_unspaced("カタカナ") and has_unspaced("ภาษาไทย")
    assert not has_unspaced("كتب Korean 한국어")
    assert has_word("ab") and not has_word("-- ، ؟ ...")
