"""The IRC target against the REAL ngircd of the local stack (killed and restarted once)."""

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from relay_helpers import event, settings

from sync.relay.settings import RelayTarget
from sync.relay.render import render
from sync.relay.targets import irc as irc_target
from sync.relay.targets.irc import IrcTarget, split_line

REPO = Path(__file__).resolve().parents[3]


def test_split_line_fits_irc_limit_and_keeps_characters():
    parts = split_line("é" * 700 + "\r\nQUIT", "#space")
    assert len(parts) > 1 and all("\r" not in p and "\n" not in p for p in parts)
    assert all(len(f"PRIVMSG #space :{p}\r\n".encode()) + irc_target.SENDER_PREFIX_BUDGET <= 512 for p in parts)
    assert "".join(parts).replace(" ", "") == ("é" * 700 + "QUIT")


def test_token_bucket_paces_after_burst():
    b = irc_target.TokenBucket(1.0, 4)
    for _ in range(4):
        assert b.wait_time() == 0
        b.take()
    assert 0.9 < b.wait_time() <= 1.0


class Listener:
    """A plain-socket IRC client sitting in a channel, collecting PRIVMSG texts."""

    def __init__(self, host, port, channel):
        self.host, self.port, self.channel = host, port, channel
        self.nick = "l" + uuid.uuid4().hex[:8]
        self.connect()

    def connect(self, deadline=30.0):
        end = time.monotonic() + deadline
        while True:
            try:
                self.sock = socket.create_connection((self.host, self.port), timeout=5)
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.3)
        self.buf = b""
        self.sock.sendall(f"NICK {self.nick}\r\nUSER {self.nick} 0 * :listener\r\n".encode())
        self.wait_for(" 001 ")
        self.sock.sendall(f"JOIN {self.channel}\r\n".encode())
        self.wait_for(" 366 ")

    def lines(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sock.settimeout(max(0.05, end - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            if not data:
                return
            self.buf += data
            while b"\r\n" in self.buf:
                line, self.buf = self.buf.split(b"\r\n", 1)
                text = line.decode("utf-8", "replace")
                if text.startswith("PING"):
                    self.sock.sendall(("PONG" + text[4:] + "\r\n").encode())
                yield text

    def wait_for(self, needle, timeout=15):
        for line in self.lines(timeout):
            if needle in line:
                return line
        raise AssertionError(f"no {needle!r} from the IRC server")

    def privmsgs(self, count, timeout=20):
        got = []
        for line in self.lines(timeout):
            if f" PRIVMSG {self.channel} :" in line:
                got.append(line.split(f" PRIVMSG {self.channel} :", 1)[1])
                if len(got) >= count:
                    break
        return got


@pytest.fixture
def irc_info(stack):
    yield stack["irc"]
    irc_target.close_all()


def _target(info, channel, **opts):
    return RelayTarget(name="irc-test", kind="irc", options={
        "server": info["host"], "port": info["port"], "nick": "sb" + uuid.uuid4().hex[:6], "channel": channel,
        "reconnect_max_seconds": 2, "send_timeout_seconds": 30, "prefix": "[Space] ", **opts})


@pytest.mark.stack
def test_line_reaches_the_channel_then_survives_an_ngircd_restart(irc_info):
    channel = "#relay" + uuid.uuid4().hex[:6]
    listener = Listener(irc_info["host"], irc_info["port"], channel)
    cfg = _target(irc_info, channel)
    s = settings([cfg.model_dump()], [])
    target = IrcTarget(s, cfg)
    e = event(title="Hola ñandú")
    target.deliver(render(e, "irc", "es", cfg.options), e)
    [line] = listener.privmsgs(1)
    assert line == "[Space] [news] Alice inició un tema: Hola ñandú https://space.example/t/hello/1"
    target.deliver(render(e, "irc", "es", cfg.options), e)  # the same event again: not repeated
    assert listener.privmsgs(1, timeout=2) == []

    # a burst of 6: 4 at once, then paced (1 line/s)
    started = time.monotonic()
    for i in range(6):
        target.deliver(render(event(title=f"n{i}"), "irc", "en", cfg.options), event(id=f"burst-{i}"))
    got = listener.privmsgs(6)
    assert [g.split(": ")[1].split(" ")[0] for g in got] == [f"n{i}" for i in range(6)]
    assert time.monotonic() - started >= 1.5

    # kill the stack's ngircd and start it again
    pid = int((REPO / ".dev" / "run" / "ngircd.pid").read_text().strip())
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    subprocess.run(["bash", str(REPO / "deploy" / "dev" / "stack.sh"), "up"], check=True, capture_output=True)
    listener.connect()
    e2 = event(id="after-restart", title="after restart")
    target.deliver(render(e2, "irc", "en", cfg.options), e2)
    [line] = listener.privmsgs(1, timeout=30)
    assert "after restart" in line
    assert target.conn.connects >= 2


@pytest.mark.stack
def test_a_channel_asked_for_after_the_server_welcomed_the_bot_is_joined(irc_info):
    """A target built while its shared connection was registering adds its channel after the
    welcome (which joins the channels known then): the first line to it still goes out, the
    connection asking to join then."""
    channel = "#late" + uuid.uuid4().hex[:6]
    listener = Listener(irc_info["host"], irc_info["port"], channel)
    conn = irc_target.IrcConnection(server=irc_info["host"], port=irc_info["port"], nick="sb" + uuid.uuid4().hex[:6])
    try:
        deadline = time.monotonic() + 30
        while not conn.registered and time.monotonic() < deadline:
            time.sleep(0.05)
        assert conn.registered
        conn.add_channels([channel])
        assert conn.send(channel, ["joined after the welcome"], 30)
        assert listener.privmsgs(1) == ["joined after the welcome"]
    finally:
        conn.close()


HOSTILE_IRC = ("\x01ACTION slaps everyone\x01 \x02bold\x02 \x0304,01red\x0f \x16rev\x16 \x1ditalic\x1d "
               "\x1funder\x1f \x1estrike\x1e \x11mono\x11 \x1b[31mansi \x85nel \u202eevil\u202c "
               "x\r\nPRIVMSG {channel} :second line\r\nQUIT :bye\nJOIN #elsewhere")


@pytest.mark.stack
@pytest.mark.parametrize("colours", [False, True])
def test_hostile_title_is_one_privmsg_without_control_codes(irc_info, colours):
    channel = "#relay" + uuid.uuid4().hex[:6]
    listener = Listener(irc_info["host"], irc_info["port"], channel)
    cfg = _target(irc_info, channel, colours=colours)
    target = IrcTarget(settings([cfg.model_dump()], []), cfg)
    text = HOSTILE_IRC.format(channel=channel)
    e = event(id=f"irc-hostile-{uuid.uuid4().hex[:6]}", title=text, excerpt=text, author="\x01VERSION\x01",
              category="\x03news")
    target.deliver(render(e, "irc", "en", cfg.options), e)
    bot = f":{cfg.options['nick']}!"
    # everything the bridge's client did that the channel saw, but joining it: one PRIVMSG
    lines = [line for line in listener.lines(4) if line.startswith(bot) and f" JOIN :{channel}" not in line]
    assert len(lines) == 1 and " PRIVMSG " in lines[0], lines
    [line] = lines
    payload = line.split(f" PRIVMSG {channel} :", 1)[1]
    bridge_codes = {"\x02", "\x03", "\x0f"} if colours else set()
    assert {ch for ch in payload if ord(ch) < 32 or 0x7f <= ord(ch) <= 0x9f} <= bridge_codes, repr(payload)
    assert "\u202e" not in payload  # a right-to-left override would turn the bridge's words around
    if colours:  # the bridge's grey category and bold summary, nothing else
        assert payload.startswith("[Space] \x0314[news]\x0f \x02VERSION started a topic: ACTION slaps everyone")
        assert payload.count("\x03") == 1 and payload.count("\x02") == 2
    else:
        assert payload.startswith("[Space] [news] VERSION started a topic: ACTION slaps everyone bold red rev")
    assert "second line" in payload and payload.endswith(" https://space.example/t/hello/1")
