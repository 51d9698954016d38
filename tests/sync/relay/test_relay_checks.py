"""The doctor's relay target checks: a real SMTP server (aiosmtpd, STARTTLS and login), Apprise's own
URL parser, IRC on a closed port here and on the stack's real ngircd; nothing is ever delivered."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from relay_helpers import SMTP_PASSWORD, Inbox, free_port
from relay_helpers import settings as relay_settings

from bridge import doctor
from sync.relay import checks
from sync.relay.smtp import SmtpSettings


def smtp(port, **kw) -> SmtpSettings:
    return SmtpSettings.model_validate({"host": "127.0.0.1", "port": port, "starttls": True, "username": "bridge",
                                        "password": SMTP_PASSWORD, "timeout_seconds": 5, **kw})


def test_smtp_greets_switches_to_tls_and_logs_in_without_sending(tls_smtp_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_smtp_server.cert))
    check = checks.smtp_check("relay.digest.smtp", smtp(tls_smtp_server.port))
    assert check.status == "ok", check
    assert "EHLO, STARTTLS, login as bridge" in check.detail
    assert tls_smtp_server.messages == []


def test_smtp_wrong_password_fails_with_its_hint(tls_smtp_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_smtp_server.cert))
    check = checks.smtp_check("relay.digest.smtp", smtp(tls_smtp_server.port, password="not-the-password"))
    assert check.status == "fail" and "login refused" in check.detail
    assert check.hint == "check smtp.username and smtp.password"
    assert "not-the-password" not in check.line()


def test_smtp_untrusted_certificate_fails(tls_smtp_server):
    check = checks.smtp_check("relay.digest.smtp", smtp(tls_smtp_server.port))
    assert check.status == "fail" and "certificate not trusted" in check.detail


def test_smtp_without_starttls_offered_fails(monkeypatch):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        check = checks.smtp_check("x", smtp(port))
    finally:
        controller.stop()
    assert check.status == "fail" and "STARTTLS" in check.hint


def test_smtp_closed_port_fails():
    check = checks.smtp_check("x", smtp(free_port()))
    assert check.status == "fail" and "that the mail server runs" in check.hint


def test_an_email_target_is_checked_through_its_own_server(tls_smtp_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_smtp_server.cert))
    s = relay_settings([{"name": "list", "kind": "email", "options": {
        "to": "space@lists.example.org", "sender": "bridge@example.org",
        "smtp": {"host": "127.0.0.1", "port": tls_smtp_server.port, "username": "bridge", "password": SMTP_PASSWORD}}}],
        [{"events": ["blog.post_published"], "targets": ["list"]}])
    [check] = doctor.run(checks.probes(s))
    assert (check.name, check.status) == ("relay.list", "ok"), check
    assert tls_smtp_server.messages == []


def test_apprise_urls_are_parsed_and_nothing_is_sent():
    token = "123456789:AAtelegram-bot-token-secret"
    s = relay_settings([{"name": "chat", "kind": "apprise", "options": {"url": f"tgram://{token}/-1001234"}},
                        {"name": "broken", "kind": "apprise", "options": {"url": "nosuchservice://x/y"}}],
                       [{"events": ["blog.post_published"], "targets": ["chat", "broken"]}])
    good, bad = doctor.run(checks.probes(s))
    assert good.status == "ok" and "Telegram" in good.detail and "nothing sent" in good.detail
    assert bad.status == "fail" and "not a usable Apprise URL" in bad.detail and bad.hint
    assert token not in good.line() + bad.line()


def test_irc_on_a_closed_port_fails_with_its_hint():
    s = relay_settings([{"name": "irc", "kind": "irc", "options": {
        "server": "127.0.0.1", "port": free_port(), "nick": "spacebot", "channel": "#space"}}],
        [{"events": ["blog.post_published"], "targets": ["irc"]}])
    [check] = doctor.run(checks.probes(s))
    assert (check.name, check.status) == ("relay.irc", "fail")
    assert "cannot connect" in check.detail and "that the IRC server runs" in check.hint


def test_a_kind_without_a_check_is_a_warning(monkeypatch):
    monkeypatch.delitem(checks.CHECKS, "apprise")
    s = relay_settings([{"name": "chat", "kind": "apprise", "options": {"url": "json://127.0.0.1/x"}}],
                       [{"events": ["blog.post_published"], "targets": ["chat"]}])
    [check] = doctor.run(checks.probes(s))
    assert check.status == "warn" and "no check for kind 'apprise'" in check.detail


@pytest.mark.stack
def test_irc_registers_and_joins_on_the_real_ngircd_then_quits(stack):
    irc = stack["irc"]
    s = relay_settings([{"name": "irc", "kind": "irc", "options": {
        "server": irc["host"], "port": irc["port"], "nick": "doctorbot", "channels": ["#space-doctor", "other"]}}],
        [{"events": ["blog.post_published"], "targets": ["irc"]}])
    [check] = doctor.run(checks.probes(s))
    assert check.status == "ok", check
    assert "joined #space-doctor, #other" in check.detail
