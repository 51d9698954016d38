"""A real Matrix homeserver for tests: Synapse (the `matrix-synapse` package of the test
extras, installed by `make test`'s `pip install -e .[test]`) on SQLite, listening on
127.0.0.1 only, started from a generated configuration in a temporary folder.

    with Synapse(tmp_dir) as hs:
        token = hs.register("reader", "reader-password")
        room_id = hs.create_room(token, alias="space")
        hs.messages(token, room_id)

Registration goes through the admin API with the shared secret (no open registration);
rate limits are lifted so tests can log in and send as fast as they like. Nothing leaves
the machine: no federation listener, no trusted key servers, no stats.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import requests
import yaml

SERVER_NAME = "localhost"
_NO_LIMIT = {"per_second": 1000, "burst_count": 1000}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available() -> bool:
    try:
        import synapse  # noqa: F401
    except ImportError:
        return False
    return True


class Synapse:
    def __init__(self, directory: Path, start_timeout: float = 90.0):
        self.dir = Path(directory)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.shared_secret = "test-registration-secret-" + os.urandom(8).hex()
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.log_path = self.dir / "homeserver.log"

    # -- lifecycle ----------------------------------------------------------------------------
    def _configure(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        cfg = self.dir / "homeserver.yaml"
        subprocess.run([sys.executable, "-m", "synapse.app.homeserver", "--server-name", SERVER_NAME,
                        "--config-path", str(cfg), "--generate-config", "--report-stats=no",
                        "--data-directory", str(self.dir)], check=True, capture_output=True, cwd=self.dir)
        data = yaml.safe_load(cfg.read_text())
        data.update({
            "listeners": [{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                           "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
            "database": {"name": "sqlite3", "args": {"database": str(self.dir / "homeserver.db")}},
            "registration_shared_secret": self.shared_secret,
            "enable_registration": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "report_stats": False,
            "log_config": str(self._log_config()),
            "rc_message": _NO_LIMIT, "rc_registration": _NO_LIMIT, "rc_joins": {"local": _NO_LIMIT, "remote": _NO_LIMIT},
            "rc_login": {"address": _NO_LIMIT, "account": _NO_LIMIT, "failed_attempts": _NO_LIMIT},
            "rc_invites": {"per_room": _NO_LIMIT, "per_user": _NO_LIMIT},
            "rc_admin_redaction": _NO_LIMIT,
        })
        cfg.write_text(yaml.safe_dump(data))
        return cfg

    def _log_config(self) -> Path:
        path = self.dir / "log.yaml"
        path.write_text(yaml.safe_dump({
            "version": 1,
            "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
            "handlers": {"file": {"class": "logging.FileHandler", "filename": str(self.log_path),
                                  "formatter": "plain"}},
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }))
        return path

    def start(self) -> Synapse:
        cfg = self._configure()
        self.proc = subprocess.Popen([sys.executable, "-m", "synapse.app.homeserver", "-c", str(cfg)],
                                     cwd=self.dir, stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "stderr.log", "wb"))
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Synapse exited ({self.proc.returncode}): "
                                   f"{(self.dir / 'stderr.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}/_matrix/client/versions", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Synapse did not answer on {self.url} within {self.start_timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> Synapse:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- client API -------------------------------------------------------------------------------
    def register(self, username: str, password: str, admin: bool = False) -> str:
        """Create a user through /_synapse/admin/v1/register (shared-secret HMAC); its access token."""
        api = f"{self.url}/_synapse/admin/v1/register"
        nonce = requests.get(api, timeout=10).json()["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), username.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        resp = requests.post(api, json={"nonce": nonce, "username": username, "password": password,
                                        "admin": admin, "mac": mac.hexdigest()}, timeout=30)
        resp.raise_for_status()
        return resp.json()["access_token"]

    def _call(self, method: str, path: str, token: str, **kw) -> dict:
        resp = requests.request(method, f"{self.url}/_matrix/client/v3{path}",
                                headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw)
        resp.raise_for_status()
        return resp.json()

    def create_room(self, token: str, alias: str, public: bool = True) -> str:
        body = {"room_alias_name": alias, "preset": "public_chat" if public else "private_chat",
                "visibility": "public" if public else "private", "name": alias}
        return self._call("POST", "/createRoom", token, json=body)["room_id"]

    def messages(self, token: str, room_id: str, limit: int = 50) -> list[dict]:
        """The room's latest m.room.message events, oldest first."""
        data = self._call("GET", f"/rooms/{quote(room_id)}/messages", token,
                          params={"dir": "b", "limit": limit})
        return [e for e in reversed(data.get("chunk", [])) if e.get("type") == "m.room.message"]

    def joined_members(self, token: str, room_id: str) -> list[str]:
        return list(self._call("GET", f"/rooms/{quote(room_id)}/joined_members", token)["joined"])
