"""Fixtures for the Discourse double's tests: one double process per module, reset before each test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "dev"))  # discourse_double
sys.path.insert(0, str(Path(__file__).resolve().parent))  # discourse_double_helpers

from doubles.discourse import DiscourseDouble  # noqa: E402


@pytest.fixture(scope="module")
def discourse_double_process():
    with DiscourseDouble(config={"webhook_retry_unit_seconds": 0.05}) as forum:
        yield forum


@pytest.fixture
def forum(discourse_double_process):
    discourse_double_process.reset()
    discourse_double_process.set_rate_limit(10000, 60)
    yield discourse_double_process


@pytest.fixture(scope="module", params=["stable-2025", "main-2026"])
def profile_process(request):
    """One double per Discourse version profile (deploy/dev/discourse_double/profiles.py)."""
    with DiscourseDouble(config={"webhook_retry_unit_seconds": 0.05}, profile=request.param) as forum:
        yield forum


@pytest.fixture
def profile_forum(profile_process):
    """The double of one profile (`profile_forum.profile`), reset before each test."""
    profile_process.reset()
    profile_process.set_rate_limit(10000, 60)
    yield profile_process
