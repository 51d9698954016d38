"""Relay target kind `irc`: one persistent connection per server and nick in each worker process.

options (IrcOptions):
  server, port (6697 with tls, else 6667), tls (false), nick, username, realname
  channel or channels: where the messages go (joined once, rejoined after a reconnect)
  password: server password (PASS); sasl_username + sasl_password: SASL PLAIN (Libera.Chat)
    secrets may be given as env:NAME
  lines_per_second (1), burst (4): flood pacing of this connection
  reconnect_max_seconds (60): cap of the reconnect backoff (1, 2, 4, ... seconds)
  send_timeout_seconds (30): how long a delivery waits for its lines to be sent before the
    job is retried later
  prefix, colours, max_bytes: the message's look

The message: one plain line, at most `max_bytes` (400) bytes in UTF-8 including the prefix, the
URL kept whole at the end; optional mIRC colours; member text carries no control character, so
the only formatting is the bridge's.

A background thread runs the irc library's reactor; deliveries hand their lines to it
through a queue and wait until they are written to the socket. Lines longer than IRC's
512-byte limit (with the "PRIVMSG #channel :" command, CRLF and the sender prefix the
server adds when relaying) are split at UTF-8 boundaries; control characters that would end
the line are removed. The connection remembers the last 10,000 (event, channel) pairs it sent,
so a job retried in the same process (one channel of several failed) does not repeat a line;
IRC keeps no history the bridge could check, so after a restart a retried job may.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import ssl
import threading
import time
from typing import Annotated, Any

import structlog
from pydantic import Field, PlainValidator, SecretStr

from sync.relay import escape
from sync.relay.targets import TargetKind, TargetOptions

# The irc library and bridge.outbox (metrics) are imported where used: this module is imported
# when the configuration is validated (sync/relay/targets/__init__.py).

log = structlog.get_logger(__name__)

IRC_MAX_BYTES = 400
IRC_LINE_BYTES = 512
# ":nick!~user@host " the server puts in front when relaying: nick 30 + user 10 + host 63 + 4
SENDER_PREFIX_BUDGET = 110
SENT_MEMORY = 10000
#: A JOIN left unanswered this long is sent again
JOIN_RETRY_SECONDS = 10.0


def _option_secret(value: Any) -> SecretStr | str | None:
    """A literal secret is held as SecretStr (never shown, and checked by bridge/secret_policy.py
    like every other secret); `env:NAME` stays the name, read when the target is built."""
    if value is None or isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise ValueError("must be text: the secret itself, or env:NAME")
    return value if value.startswith("env:") else SecretStr(value)


OptionSecret = Annotated[SecretStr | str | None, PlainValidator(_option_secret)]


class IrcOptions(TargetOptions):
    server: str | None = None
    port: int | None = Field(None, ge=1, le=65535, description="default: 6697 with tls, else 6667")
    tls: bool = False
    nick: str | None = None
    username: str | None = None
    realname: str | None = None
    channel: str | None = None
    channels: list[Annotated[str, Field(min_length=1)]] = []
    # Secrets, literal or env:NAME (read when the target is built).
    password: OptionSecret = Field(None, description="server password (PASS)")
    sasl_username: str | None = None
    sasl_password: OptionSecret = Field(None, description="SASL PLAIN (Libera.Chat)")
    lines_per_second: float = Field(1.0, gt=0)
    burst: int = Field(4, ge=1)
    reconnect_max_seconds: float = Field(60, gt=0)
    send_timeout_seconds: float = Field(30, gt=0)
    prefix: str = ""
    colours: bool = False
    max_bytes: int = Field(IRC_MAX_BYTES, ge=1)


def irc_line(event, lang: str, *, prefix: str = "", colours: bool = False, max_bytes: int = IRC_MAX_BYTES) -> str:
    from sync.relay import message as shared

    ctx = shared.context(event, lang)
    summary = ctx["summary_plain"]  # author and title without control characters
    category = escape.clean(event.category)
    if colours:
        # mIRC: \x02 bold, \x03NN colour, \x0f reset, the only control codes of the line.
        cat = f"\x0314[{category}]\x0f " if category else ""
        head = f"{prefix}{cat}\x02{summary}\x02"
    else:
        head = f"{prefix}[{category}] {summary}" if category else f"{prefix}{summary}"
    tail = f" {ctx['url']}" if ctx["url"] else ""
    room = max_bytes - len(tail.encode("utf-8"))
    if room < 20:  # an absurdly long URL: cut the whole line
        return shared.truncate_bytes(head + tail, max_bytes)
    line = shared.truncate_bytes(head, room) + tail
    if colours and "\x02" in line and line.count("\x02") % 2:
        line = shared.truncate_bytes(head, room - 1)
        line = line + "\x0f" + tail
    return line


def render(event, lang: str, options: IrcOptions):
    from sync.relay.message import Message

    return Message(text=irc_line(event, lang, prefix=options.prefix, colours=options.colours,
                                 max_bytes=options.max_bytes))


def _secret(value: Any) -> str | None:
    from bridge.outbox import PermanentFailure

    if value is None:
        return None
    text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    if text.startswith("env:"):
        name = text[4:]
        if name not in os.environ:
            raise PermanentFailure(f"environment variable {name} is not set")
        return os.environ[name]
    return text


def split_line(text: str, channel: str) -> list[str]:
    """`text` as PRIVMSG payloads that fit in one IRC line each (bytes, UTF-8 safe)."""
    clean = "".join(" " if ch in "\r\n\x00" else ch for ch in text).strip()
    room = IRC_LINE_BYTES - 2 - len(f"PRIVMSG {channel} :".encode()) - SENDER_PREFIX_BUDGET
    out = []
    data = clean.encode("utf-8")
    while data:
        if len(data) <= room:
            out.append(data.decode("utf-8"))
            break
        cut = room
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # do not split a character
            cut -= 1
        space = data.rfind(b" ", room // 2, cut)
        if space > 0:
            cut = space
        out.append(data[:cut].decode("utf-8").rstrip())
        data = data[cut:].lstrip(b" ")
    return out or [""]


@dataclasses.dataclass
class _Send:
    channel: str
    lines: list[str]
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    cancelled: bool = False


class TokenBucket:
    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def wait_time(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class IrcConnection:
    """The reactor thread of one server+nick: connects, joins, reconnects, sends paced lines."""

    def __init__(self, *, server: str, port: int, nick: str, tls: bool = False, username: str | None = None,
                 realname: str | None = None, password: str | None = None, sasl_username: str | None = None,
                 sasl_password: str | None = None, lines_per_second: float = 1.0, burst: int = 4,
                 reconnect_max_seconds: float = 60.0):
        self.server, self.port, self.nick, self.tls = server, port, nick, tls
        self.username, self.realname = username or nick, realname or "Wikimedia Space bridge"
        self.password, self.sasl_username, self.sasl_password = password, sasl_username, sasl_password
        self.bucket = TokenBucket(lines_per_second, burst)
        self.reconnect_max = reconnect_max_seconds
        self.channels: set[str] = set()
        self.joined: set[str] = set()
        # channel -> when this connection last asked to join it (reactor thread only)
        self._join_asked: dict[str, float] = {}
        self.registered = False
        self.queue: queue.Queue[_Send] = queue.Queue()
        self._pending: list[_Send] = []
        self.stopping = threading.Event()
        import irc.client

        self.reactor = irc.client.Reactor()
        self.conn = self.reactor.server()
        for name, fn in (("welcome", self._on_welcome), ("join", self._on_join), ("kick", self._on_kick),
                         ("disconnect", self._on_disconnect), ("nicknameinuse", self._on_nick_in_use),
                         ("erroneusnickname", self._on_nick_in_use)):
            self.reactor.add_global_handler(name, fn)
        self._backoff = 1.0
        self._next_connect = 0.0
        self.connects = 0
        # (event id, channel) recently sent by this process: a retried job does not repeat them
        self._sent: dict[tuple[str, str], None] = {}
        self._sent_lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name=f"irc-{server}-{nick}", daemon=True)
        self.thread.start()

    # -- reactor events (reactor thread) ---------------------------------------------------
    def _on_welcome(self, conn, event):
        self.registered = True
        self._backoff = 1.0
        log.info("relay.irc_registered", server=self.server, nick=conn.get_nickname())
        self._join_asked.clear()
        for channel in list(self.channels):  # add_channels may run in another thread meanwhile
            self._join(channel)

    def _join(self, channel: str) -> None:
        self._join_asked[channel.lower()] = time.monotonic()
        self.conn.join(channel)

    def _on_join(self, conn, event):
        import irc.client

        if irc.client.NickMask(event.source).nick == conn.get_nickname():
            self.joined.add(event.target.lower())

    def _on_kick(self, conn, event):
        if event.arguments and event.arguments[0] == conn.get_nickname():
            self.joined.discard(event.target.lower())
            conn.join(event.target)

    def _on_disconnect(self, conn, event):
        self.registered = False
        self.joined.clear()
        log.warning("relay.irc_disconnected", server=self.server, reason=" ".join(event.arguments or []))
        self._schedule_reconnect()

    def _on_nick_in_use(self, conn, event):
        conn.nick(conn.get_nickname() + "_")

    def _schedule_reconnect(self):
        self._next_connect = time.monotonic() + self._backoff
        self._backoff = min(self.reconnect_max, self._backoff * 2)

    def _connect(self):
        import irc.client
        import irc.connection

        try:
            if self.tls:
                context = ssl.create_default_context()
                factory = irc.connection.Factory(wrapper=lambda sock: context.wrap_socket(sock, server_hostname=self.server))
            else:
                factory = irc.connection.Factory()
            self.connects += 1
            kwargs: dict[str, Any] = {"username": self.username, "ircname": self.realname, "connect_factory": factory}
            if self.sasl_username:
                kwargs.update(sasl_login=self.sasl_username, password=self.sasl_password)
            elif self.password:
                kwargs["password"] = self.password
            self.conn.connect(self.server, self.port, self.nick, **kwargs)
        except (irc.client.ServerConnectionError, OSError) as exc:
            log.warning("relay.irc_connect_failed", server=self.server, port=self.port, error=str(exc),
                        retry_in=self._backoff)
            self._schedule_reconnect()

    def _send_due(self):
        while True:
            try:
                self._pending.append(self.queue.get_nowait())
            except queue.Empty:
                break
        if not self.registered:
            return
        while self._pending:
            item = self._pending[0]
            if item.cancelled:
                self._pending.pop(0)
                continue
            if item.channel.lower() not in self.joined:
                # Not joined yet: ask, unless asked lately. A channel added after the welcome
                # (the target built while the connection registered) is asked here, and a JOIN
                # the server ignored is asked again.
                self.channels.add(item.channel)
                asked = self._join_asked.get(item.channel.lower())
                if asked is None or time.monotonic() - asked >= JOIN_RETRY_SECONDS:
                    self._join(item.channel)
                return
            while item.lines:
                wait = self.bucket.wait_time()
                if wait > 0:
                    return
                self.bucket.take()
                self.conn.privmsg(item.channel, item.lines.pop(0))
            self._pending.pop(0)
            item.done.set()

    def _run(self):
        while not self.stopping.is_set():
            try:
                if not self.conn.is_connected() and time.monotonic() >= self._next_connect:
                    self.registered = False
                    self.joined.clear()
                    self._connect()
                self._send_due()
                self.reactor.process_once(0.05)
            except Exception:  # noqa: BLE001 - keep the reactor alive
                log.exception("relay.irc_loop_error", server=self.server)
                try:
                    self.conn.disconnect("error")
                except Exception:  # noqa: BLE001
                    pass
                self._schedule_reconnect()
                time.sleep(0.2)
        try:
            self.conn.disconnect("bye")
        except Exception:  # noqa: BLE001
            pass

    # -- callers (any thread) --------------------------------------------------------------
    def add_channels(self, channels):
        for c in channels:
            self.channels.add(c)

    def send(self, channel: str, lines: list[str], timeout: float) -> bool:
        item = _Send(channel, list(lines))
        self.queue.put(item)
        if item.done.wait(timeout):
            return True
        item.cancelled = True
        return item.done.is_set()

    def already_sent(self, event_id: str, channel: str) -> bool:
        with self._sent_lock:
            return (event_id, channel.lower()) in self._sent

    def mark_sent(self, event_id: str, channel: str) -> None:
        with self._sent_lock:
            self._sent[(event_id, channel.lower())] = None
            while len(self._sent) > SENT_MEMORY:
                self._sent.pop(next(iter(self._sent)))

    def close(self):
        self.stopping.set()
        self.thread.join(5)


_CONNECTIONS: dict[tuple, IrcConnection] = {}
_CONNECTIONS_LOCK = threading.Lock()


def connection(**kw) -> IrcConnection:
    key = (kw["server"], kw["port"], kw["nick"], kw.get("tls", False))
    with _CONNECTIONS_LOCK:
        conn = _CONNECTIONS.get(key)
        if conn is None or conn.stopping.is_set():
            conn = _CONNECTIONS[key] = IrcConnection(**kw)
        return conn


def close_all():
    with _CONNECTIONS_LOCK:
        for conn in _CONNECTIONS.values():
            conn.close()
        _CONNECTIONS.clear()


class IrcTarget:
    def __init__(self, settings, target):
        from bridge.outbox import PermanentFailure

        o = IrcOptions.of(target.options)
        self.name = target.name
        channels = o.channels or ([o.channel] if o.channel else [])
        if not channels or not o.server or not o.nick:
            raise PermanentFailure(f"irc target {self.name}: needs options.server, options.nick and options.channel(s)")
        self.channels = [c if c[0] in "#&+!" else "#" + c for c in channels]
        self.timeout = o.send_timeout_seconds
        self.conn = connection(
            server=o.server, port=o.port or (6697 if o.tls else 6667), nick=o.nick, tls=o.tls,
            username=o.username, realname=o.realname, password=_secret(o.password),
            sasl_username=o.sasl_username, sasl_password=_secret(o.sasl_password),
            lines_per_second=o.lines_per_second, burst=o.burst, reconnect_max_seconds=o.reconnect_max_seconds)
        self.conn.add_channels(self.channels)

    def deliver(self, message, event) -> None:
        from bridge.outbox import RetryLater

        for channel in self.channels:
            if self.conn.already_sent(event.id, channel):
                continue  # a retry after another channel failed, or a job run twice in this process
            lines = split_line(message.text, channel)
            if not self.conn.send(channel, lines, self.timeout):
                raise RetryLater(10, f"IRC {self.conn.server}: not connected to {channel} within {self.timeout:g} s")
            self.conn.mark_sent(event.id, channel)


KIND = TargetKind(name="irc", options=IrcOptions, render=render, build=IrcTarget)
