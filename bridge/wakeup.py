"""Workers wake when a job is queued instead of at their next poll.

A web hook's job used to wait for a worker's next poll (up to `outbox.poll_interval_seconds`,
a second by default) before anything happened. Now the enqueuing transaction sends a wake-up
and idle worker threads claim at once; polling stays as the safety net, so a lost wake-up only
costs the old delay.

- PostgreSQL: ``pg_notify`` inside the enqueuing transaction (delivered only when it commits)
  and one ``LISTEN`` connection per worker process.
- SQLite: the database has no notifications, so each worker process binds a Unix datagram
  socket in ``<database file>.wake/`` and the enqueuer (the web process, or any other) sends
  one byte to each. It is sent before the enqueuing transaction commits, which is harmless:
  the woken worker's claim begins with ``BEGIN IMMEDIATE`` and so waits for that commit.

Everything here is best effort: a failure is logged once at debug level and polling goes on.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
import structlog

log = structlog.get_logger(__name__)

CHANNEL = "space_bridge_outbox"


def _sqlite_folder(url: sa.URL) -> Path | None:
    """`<database file>.wake`, or None for an in-memory database."""
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return None
    return Path(url.database).resolve().with_name(Path(url.database).name + ".wake")


def notify(conn: sa.Connection) -> None:
    """Wake the workers of this database once the caller's transaction commits (PostgreSQL), or
    now (SQLite: see the module's docstring)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
    elif dialect == "sqlite":
        folder = _sqlite_folder(conn.engine.url)
        if folder is not None:
            _poke(folder)


def _poke(folder: Path) -> None:
    try:
        names = os.listdir(folder)
    except OSError:
        return  # no worker has ever listened here
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for name in names:
            if name.endswith(".sock"):
                with contextlib.suppress(OSError):  # a worker gone, or its queue full: it polls
                    sock.sendto(b"!", str(folder / name))


class Listener:
    """Calls `wake()` whenever a job is queued on `engine`'s database, from a thread of its own."""

    def __init__(self, engine: sa.Engine, wake: Callable[[], None]):
        self.engine = engine
        self.wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Listener":
        target = {"postgresql": self._listen_postgresql, "sqlite": self._listen_sqlite}.get(self.engine.dialect.name)
        if target is not None:
            self._thread = threading.Thread(target=self._guarded, args=(target,), name="outbox-wakeup", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _guarded(self, listen: Callable[[], None]) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                listen()
            except Exception as exc:  # noqa: BLE001 - wake-ups are an optimisation; polling goes on
                log.debug("outbox.wakeup_unavailable", error=str(exc).splitlines()[0] if str(exc) else repr(exc))
            self._stop.wait(delay)
            delay = min(delay * 2, 60.0)

    def _listen_postgresql(self) -> None:
        import psycopg

        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=1.0, stop_after=1):
                    self.wake()

    def _listen_sqlite(self) -> None:
        folder = _sqlite_folder(self.engine.url)
        if folder is None:
            self._stop.wait()
            return
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(path))
            sock.settimeout(1.0)
            try:
                while not self._stop.is_set():
                    try:
                        sock.recv(64)
                    except TimeoutError:
                        continue
                    self.wake()
            finally:
                with contextlib.suppress(OSError):
                    path.unlink()
