"""Fixtures of the notify tests: the bridge app with login configured, two members (notify_helpers.py)."""

from __future__ import annotations

import pytest
from notify_helpers import add_members, settings_for

from bridge.app import create_app


@pytest.fixture
def app(engine, db_url):
    settings = settings_for(db_url)
    add_members(engine)
    application = create_app(settings, engine)
    application.testing = False  # an exception is a 500, as a member would get it
    return application


@pytest.fixture
def client(app):
    return app.test_client()
