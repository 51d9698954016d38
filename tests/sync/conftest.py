"""Fixtures of the mirror's tests: the Discourse double (one per module) and a MirrorEnv.

The double plays one Discourse release (deploy/dev/discourse_double/profiles.py). A module that
sets ``FORUM_PROFILES = PROFILES``, or a test decorated ``@on_every_profile`` (mirror_harness.py),
runs against each of them; the others against the double's default (``$DISCOURSE_DOUBLE_PROFILE``,
else main-2026), so only the suites that must hold on every release pay twice.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`
sys.path.insert(0, str(Path(__file__).resolve().parent))  # mirror_harness
from doubles.discourse import DiscourseDouble  # noqa: E402
from mirror_harness import MirrorEnv, ensure_categories, forum_profiles, write_wp_constants


def pytest_generate_tests(metafunc):
    profiles = forum_profiles(metafunc.function, metafunc.module)
    if profiles and "forum_profile" in metafunc.fixturenames:
        metafunc.parametrize("forum_profile", profiles, indirect=True, scope="module")


@pytest.fixture(scope="module")
def forum_profile(request):
    """The Discourse release the double plays (None: its default)."""
    return getattr(request, "param", None)


@pytest.fixture(scope="module")
def forum(forum_profile):
    with DiscourseDouble(profile=forum_profile) as double:
        ensure_categories(double)
        yield double


@pytest.fixture
def mirror_env(stack, forum, tmp_path):
    env = MirrorEnv(stack, forum, tmp_path)
    env.point_wordpress_here()
    yield env
    write_wp_constants(None, None)
    env.close()

