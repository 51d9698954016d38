"""The doctor's checks of the relay's targets (bridge/doctor.py): one function per target kind.

Each check does what a delivery needs short of delivering: IRC connects, registers and joins every
channel, then quits; an Apprise URL is parsed by Apprise (nothing is sent); a mail server is
greeted (EHLO), switched to TLS and logged in to as configured (no mail is sent). A wiki target
writes with the bridge's one bot account, which the mirror feature's `mediawiki` check covers.
A kind installed by a third party without a check here is reported as not checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bridge.doctor import Check, Probe, fail, ok, warn

if TYPE_CHECKING:
    from bridge.config import Settings
    from sync.relay.settings import RelayTarget
    from sync.relay.smtp import SmtpSettings

#: Seconds the IRC check waits for the server to register it and answer every JOIN.
IRC_WAIT_SECONDS = 15.0
#: Refusals of a JOIN (RFC 2812 5.2 numerics, as the irc library names them).
JOIN_REFUSALS = ("nosuchchannel", "channelisfull", "inviteonlychan", "bannedfromchan", "badchannelkey",
                 "badchanmask", "toomanychannels", "needreggednick")


# -- IRC -----------------------------------------------------------------------------------------
def irc_check(settings: "Settings", target: "RelayTarget", *, wait: float = IRC_WAIT_SECONDS) -> Check:
    import irc.client
    import irc.connection

    from bridge.outbox import PermanentFailure
    from sync.relay.targets.irc import IrcOptions, _secret

    name = f"relay.{target.name}"
    o = IrcOptions.of(target.options)
    channels = [c if c[0] in "#&+!" else "#" + c for c in (o.channels or ([o.channel] if o.channel else []))]
    if not channels or not o.server or not o.nick:
        return fail(name, "needs options.server, options.nick and options.channel(s)", "complete the target's options")
    port = o.port or (6697 if o.tls else 6667)
    where = f"{o.server}:{port}"
    try:
        password, sasl_password = _secret(o.password), _secret(o.sasl_password)
    except PermanentFailure as exc:
        return fail(name, str(exc), "set the environment variable the target's options name")
    reactor = irc.client.Reactor()
    conn = reactor.server()
    state: dict[str, Any] = {"welcome": False, "joined": set(), "refused": None, "closed": None}

    def on_welcome(c, event):
        state["welcome"] = True
        for channel in channels:
            c.join(channel)

    def on_join(c, event):
        if irc.client.NickMask(event.source).nick == c.get_nickname():
            state["joined"].add(event.target.lower())

    def on_nick_taken(c, event):
        # The relay's worker may hold the nick right now: take another for this visit.
        if not state["welcome"]:
            c.nick(c.get_nickname() + "_")

    def on_refusal(c, event):
        state["refused"] = f"{event.type} {' '.join(str(a) for a in event.arguments)}".strip()

    def on_closed(c, event):
        state["closed"] = " ".join(str(a) for a in event.arguments or ()) or "closed the connection"

    for event_name, fn in (("welcome", on_welcome), ("join", on_join), ("nicknameinuse", on_nick_taken),
                           ("nickcollision", on_nick_taken), ("passwdmismatch", on_refusal),
                           ("error", on_closed), ("disconnect", on_closed),
                           *((r, on_refusal) for r in JOIN_REFUSALS)):
        reactor.add_global_handler(event_name, fn)
    try:
        if o.tls:
            import ssl

            context = ssl.create_default_context()
            factory = irc.connection.Factory(wrapper=lambda sock: context.wrap_socket(sock, server_hostname=o.server))
        else:
            factory = irc.connection.Factory()
        kwargs: dict[str, Any] = {"username": o.username or o.nick, "ircname": o.realname or "Wikimedia Space bridge",
                                  "connect_factory": factory}
        if o.sasl_username:
            kwargs.update(sasl_login=o.sasl_username, password=sasl_password)
        elif password:
            kwargs["password"] = password
        try:
            conn.connect(o.server, port, o.nick, **kwargs)
        except (irc.client.ServerConnectionError, OSError) as exc:
            return fail(name, f"IRC {where}: cannot connect ({type(exc).__name__}: {exc})",
                        "check options.server and options.port, and that the IRC server runs")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            reactor.process_once(0.2)
            if state["refused"] or state["closed"] or len(state["joined"]) == len(channels):
                break
    finally:
        if conn.is_connected():
            try:
                conn.quit("space-bridge doctor")
                reactor.process_once(0.2)
            except irc.client.ServerNotConnectedError:
                pass
        conn.close()
    if state["refused"]:
        hint = ("check options.password / sasl_username and sasl_password" if state["refused"].startswith("passwd")
                else "the channel refuses the bot: its mode, key, ban list or a registered nick")
        return fail(name, f"IRC {where}: {state['refused']}", hint)
    if not state["welcome"]:
        why = f"the server {state['closed']}" if state["closed"] else f"no welcome within {wait:g} s"
        return fail(name, f"IRC {where}: not registered: {why}",
                    "check options.server, port, tls and password, and that the IRC server runs")
    missing = [c for c in channels if c.lower() not in state["joined"]]
    if missing:
        return fail(name, f"IRC {where}: not joined {', '.join(missing)} within {wait:g} s",
                    "the channel does not let the bot in; look at its modes")
    return ok(name, f"IRC {where}: registered and joined {', '.join(channels)}")


# -- Apprise -------------------------------------------------------------------------------------
def apprise_check(settings: "Settings", target: "RelayTarget") -> Check:
    from sync.relay.targets.apprise import AppriseOptions, AppriseTarget, resolve_url

    name = f"relay.{target.name}"
    try:
        url = resolve_url(AppriseOptions.of(target.options).url, target.name)
        made = AppriseTarget(target.name, url)  # parses only; its messages never hold the URL
    except ValueError as exc:
        return fail(name, str(exc), "fix options.url: see https://github.com/caronc/apprise/wiki for each service")
    return ok(name, f"Apprise {made.service}: the URL parses (nothing sent)")


# -- email ---------------------------------------------------------------------------------------
def smtp_check(name: str, smtp: "SmtpSettings", *, timeout: float = 10.0) -> Check:
    """EHLO, STARTTLS when configured (the certificate verified, as sending does), login when
    configured; then QUIT, without sending anything."""
    import smtplib
    import ssl

    where = f"{smtp.host}:{smtp.port}"
    steps = []
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=min(timeout, smtp.timeout_seconds)) as server:
            server.ehlo()
            steps.append("EHLO")
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context())
                server.ehlo()
                steps.append("STARTTLS")
            if smtp.username:
                server.login(smtp.username, smtp.password.get_secret_value() if smtp.password else "")
                steps.append(f"login as {smtp.username}")
    except smtplib.SMTPAuthenticationError as exc:
        return fail(name, f"SMTP {where}: login refused ({exc.smtp_code})", "check smtp.username and smtp.password")
    except smtplib.SMTPNotSupportedError as exc:
        return fail(name, f"SMTP {where}: {exc}",
                    "the server offers no STARTTLS (or no AUTH): fix the server, or set smtp.starttls false "
                    "for a server on this host only")
    except ssl.SSLCertVerificationError as exc:
        return fail(name, f"SMTP {where}: certificate not trusted: {exc.verify_message}",
                    "give the mail server a certificate this host trusts")
    except (smtplib.SMTPException, OSError) as exc:
        return fail(name, f"SMTP {where}: {type(exc).__name__}: {exc}",
                    "check smtp.host and smtp.port, and that the mail server runs")
    return ok(name, f"SMTP {where}: " + ", ".join(steps) + " (nothing sent)")


def email_check(settings: "Settings", target: "RelayTarget") -> Check:
    from sync.relay.targets.email import build

    try:
        made = build(settings, target)
    except ValueError as exc:
        return fail(f"relay.{target.name}", str(exc), "complete the target's options")
    return smtp_check(f"relay.{target.name}", made.smtp)


def wiki_check(settings: "Settings", target: "RelayTarget") -> Check:
    if settings.mediawiki is None:
        return fail(f"relay.{target.name}", "a wiki target needs the mediawiki section (the bot account)",
                    "add mediawiki: api_url, username, password")
    return ok(f"relay.{target.name}", "writes with the bot account checked as `mediawiki`")


#: Target kind -> its check; one place per kind.
CHECKS: dict[str, Callable[["Settings", "RelayTarget"], Check]] = {
    "irc": irc_check, "apprise": apprise_check, "email": email_check, "wiki": wiki_check}


def probes(settings: "Settings") -> list[Probe]:
    found = []
    for target in settings.relay.targets:
        check = CHECKS.get(target.kind)
        if check is None:
            found.append(Probe(f"relay.{target.name}", lambda t=target: warn(
                f"relay.{t.name}", f"not checked: the doctor has no check for kind '{t.kind}'")))
        else:
            found.append(Probe(f"relay.{target.name}", lambda c=check, t=target: c(settings, t)))
    if settings.relay.digest is not None:
        found.append(Probe("relay.digest.smtp", lambda: smtp_check("relay.digest.smtp", settings.relay.digest.smtp)))
    return found

