"""The `notify:` section: on by default with nothing sent unasked, limits an operator cannot get wrong,
and the feature found by the shell through its entry point."""

from __future__ import annotations

import pytest
from notify_helpers import settings_for
from bridge import features
from bridge.config import ConfigError
from sync.notify.settings import NotifySettings


def test_defaults_from_nothing():
    s = NotifySettings()
    assert (s.enabled, s.welcome_note, s.talk_edits_per_day, s.unsubscribe_link_days, s.digest_hour_utc,
            s.weekly_digest_weekday) == (True, False, 3, 365, 8, 0)


@pytest.mark.parametrize("field, value", [("talk_edits_per_day", 0), ("unsubscribe_link_days", 0),
                                          ("digest_hour_utc", 24), ("weekly_digest_weekday", 7), ("sends", 1)])
def test_impossible_values_are_refused_naming_the_key(field, value):
    with pytest.raises(ConfigError) as raised:
        settings_for("sqlite://", {field: value})
    assert f"notify.{field}" in str(raised.value)


def test_the_shell_finds_the_feature_and_its_section():
    notify = {f.name: f for f in features.installed()}["notify"]
    assert features.config_sections()["notify"] is NotifySettings
    assert notify.enabled(settings_for("sqlite://"))
    assert not notify.enabled(settings_for("sqlite://", {"enabled": False}))
