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


class Inbox:
    """What a real SMTP server (aiosmtpd on 127.0.0.1) received: (from, to, parsed message)."""

    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_inbox():
    import socket

    from aiosmtpd.controller import Controller

    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd's Controller cannot take port 0 (it connects to itself)
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()
