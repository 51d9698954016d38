"""The `search:` section: on by default, and an error names the key that is wrong."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sync.search.settings import SearchSettings


def test_defaults_search_the_spaces_languages():
    s = SearchSettings()
    assert s.enabled and s.page_size == 20
    assert s.config_for("ar") == "arabic" and s.config_for("EN") == "english" and s.config_for("zh") == "simple"
    assert s.configs() == ["arabic", "english", "simple", "spanish"]


@pytest.mark.parametrize("section, words", [
    ({"languages": {"fr": "franch"}}, ["languages.fr", "did you mean 'french'"]),
    ({"languages": {"French": "french"}}, ["'French' is not a language code"]),
    ({"page_size": 0}, ["page_size"]),
    ({"pagesize": 10}, ["pagesize"]),
])
def test_errors_name_the_key(section, words):
    with pytest.raises(ValidationError) as err:
        SearchSettings(**section)
    for word in words:
        assert word in str(err.value)
