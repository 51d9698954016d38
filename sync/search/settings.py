"""The `search:` section of space.yaml, owned by the search feature (sync/search/feature.py).

It validates from nothing, with the three languages the Space is written in; an operator adds a
language by naming PostgreSQL's text-search configuration for it.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated

from pydantic import AfterValidator, Field

from bridge.config import Model

# The configurations PostgreSQL 15 ships (`\dF` in psql; "Text Search Configuration" in
# https://www.postgresql.org/docs/15/textsearch-intro.html#TEXTSEARCH-INTRO-CONFIGURATIONS).
# SQLite needs none: its unicode61 tokenizer does no stemming.
POSTGRESQL_CONFIGS = (
    "simple", "arabic", "armenian", "basque", "catalan", "danish", "dutch", "english", "finnish",
    "french", "german", "greek", "hindi", "hungarian", "indonesian", "irish", "italian", "lithuanian",
    "nepali", "norwegian", "portuguese", "romanian", "russian", "serbian", "spanish", "swedish",
    "tamil", "turkish", "yiddish",
)
LANGUAGE_CODE = r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$"


def _language_code(code: str) -> str:
    if not re.match(LANGUAGE_CODE, code):
        raise ValueError(f"'{code}' is not a language code like 'en' or 'pt-br'")
    return code


def _config(name: str) -> str:
    if name not in POSTGRESQL_CONFIGS:
        close = difflib.get_close_matches(name, POSTGRESQL_CONFIGS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(POSTGRESQL_CONFIGS)}"
        raise ValueError(f"'{name}' is not a PostgreSQL text-search configuration{hint}")
    return name


class SearchSettings(Model):
    enabled: bool = Field(True, description="serve /search, /search.json and /opensearch.xml and keep the index")
    page_size: int = Field(20, ge=1, le=100, description="results per page")
    max_page: int = Field(500, ge=1, le=10_000, description="deepest page a client may ask for")
    max_query_length: int = Field(500, ge=10, le=5000, description="characters of a query read; the rest is ignored")
    #: Language code of a document -> the PostgreSQL text-search configuration that stems it;
    #: a document in any other language is indexed with `simple` (no stemming, no stop words).
    #: (An error in a value is reported at search.languages.<code>.)
    languages: dict[Annotated[str, AfterValidator(_language_code)], Annotated[str, AfterValidator(_config)]] = Field(
        default_factory=lambda: {"en": "english", "es": "spanish", "ar": "arabic"})

    #: Site name (wordpress.sites[].name, or "forum") -> the language code of its documents that
    #: do not say their own (a blog without Polylang, a forum without content localization).
    site_languages: dict[str, Annotated[str, AfterValidator(_language_code)]] = Field(default_factory=dict)
    reconcile_interval_seconds: float = Field(300.0, ge=10, description="how often the blogs and the forum are "
                                              "asked what changed since the last look (lost web hooks)")
    reconcile_overlap_seconds: float = Field(120.0, ge=0, description="listed again before the checkpoint")
    views_interval_seconds: float = Field(3600.0, ge=60, description="how often the blogs' view counts are "
                                          "read (the mu-plugin's daily counter) for order:views")
    initial_lookback_days: float = Field(2.0, ge=0, description="first look at a site: what changed in these "
                                         "days; older content comes with `space-bridge search reindex`")

    def config_for(self, language: str | None) -> str:
        """The text-search configuration a document in `language` is indexed with."""
        return self.languages.get((language or "").lower(), "simple")

    def configs(self) -> list[str]:
        """Every configuration a document may be indexed with, in a fixed order."""
        return sorted(set(self.languages.values()) | {"simple"})
