"""Helpers shared by the relay tests: settings with relay targets and rules, events, a fake target kind."""

from __future__ import annotations

import threading
import time
from typing import Any

from bridge import config
from bridge.outbox import PermanentFailure, RetryLater
from sync.relay.events import Event
from sync.relay.targets import register

BASE = {
    "bridge": {"public_url": "http://127.0.0.1:8090", "secret_key": "test-secret-key-0123456789abcdef0123",
               "database_url": "sqlite:///:memory:", "state_dir": "/tmp/space-bridge-relay-tests"},
    "outbox": {"poll_interval_seconds": 0.05, "lease_seconds": 2, "backoff_base_seconds": 0.05,
               "backoff_max_seconds": 0.1, "max_attempts": 3},
}


def settings(targets: list[dict], rules: list[dict], **extra: Any) -> config.Settings:
    data = {**BASE, "relay": {"targets": targets, "rules": rules}, **extra}
    if "database_url" in extra:
        data["bridge"] = {**BASE["bridge"], "database_url": extra.pop("database_url")}
        data.pop("database_url", None)
    return config.parse(data)


def event(**kw: Any) -> Event:
    values = dict(id="discourse:topic:1", type="topic.created", language="en", category="news", tags=("wiki",),
                  site="discourse", author="Alice", url="https://space.example/t/hello/1", title="Hello world",
                  excerpt="First words")
    values.update(kw)
    return Event(**values)


class Recorder:
    """Target kind 'apprise' stand-in for tests: records deliveries; can be told to fail."""

    delivered: dict[str, list[tuple[str, str]]] = {}
    failing: dict[str, str] = {}
    lock = threading.Lock()

    def __init__(self, settings, target):
        self.name = target.name

    def deliver(self, message, event) -> None:
        mode = self.failing.get(self.name)
        if mode == "retry":
            raise RetryLater(0.01, "target down")
        if mode == "permanent":
            raise PermanentFailure("target refuses")
        with self.lock:
            self.delivered.setdefault(self.name, []).append((event.id, message.text))

    @classmethod
    def reset(cls):
        cls.delivered.clear()
        cls.failing.clear()


def use_recorder(kind: str = "apprise"):
    register(kind, Recorder)
    Recorder.reset()
    return Recorder


def drain(outbox, handler, seconds: float = 60.0) -> None:
    """Run relay deliveries in this thread until none is pending or running."""
    from bridge.outbox import Worker
    from sync.relay.deliver import DELIVER

    worker = Worker(outbox, {DELIVER: handler}, threads=1, name="t")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        worker.run_once()
        counts = outbox.counts()
        if not counts.get("pending") and not counts.get("running"):
            return
        time.sleep(0.05)
    raise AssertionError(f"jobs not finished: {outbox.counts()}")


# -- a real SMTP server for the relay's mail tests (aiosmtpd; fixtures in conftest.py) -----------------
SMTP_USER, SMTP_PASSWORD = "bridge", "s3cret-pass"


class Inbox:
    """What the test's SMTP server received: (from, recipients, raw message); `refuse` maps an
    address to the reply that refuses it."""

    def __init__(self, refuse: dict[str, str] | None = None):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse = refuse or {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def smtp_authenticator(server, session, envelope, mechanism, auth_data):
    """Accepts SMTP_USER with SMTP_PASSWORD only."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    """A port nothing listens on now (aiosmtpd's Controller cannot take port 0: it connects to itself)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
