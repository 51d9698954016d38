"""The mirror's configuration: the example file shows every key."""

from pathlib import Path

import yaml

from bridge import config
from sync.settings import MirrorSettings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "space.example.yaml"


def test_example_shows_every_mirror_key():
    data = yaml.safe_load(EXAMPLE.read_text())
    assert set(MirrorSettings.model_fields) <= set(data["mirror"])
    assert {"title", "mirror_as"} <= set(data["wordpress"]["sites"][0])
    settings = config.load(EXAMPLE, check_secrets=False)  # the published secrets are refused
    assert settings.mirror.title_padding == "{title} · {site}"
