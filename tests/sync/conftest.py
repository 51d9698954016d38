"""Fixtures of the mirror's tests: the Discourse double (one per module) and a MirrorEnv."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`
sys.path.insert(0, str(Path(__file__).resolve().parent))  # mirror_harness
from doubles.discourse import DiscourseDouble  # noqa: E402
from mirror_harness import MirrorEnv, ensure_categories, write_wp_constants


@pytest.fixture(scope="module")
def forum():
    with DiscourseDouble() as double:
        ensure_categories(double)
        yield double


@pytest.fixture
def mirror_env(stack, forum, tmp_path):
    env = MirrorEnv(stack, forum, tmp_path)
    env.point_wordpress_here()
    yield env
    write_wp_constants(None, None)
    env.close()
