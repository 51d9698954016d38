"""A double run as a real HTTP server process: started on a free port, stopped after the test.

Each double prints `ready http://HOST:PORT` as its first line once it listens (it is given
`--port 0`), so there is no race for a port. Subclasses name the double and build its command.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests


class DoubleProcess:
    name = "double"

    def __init__(self, *, config: dict | None = None, env: dict | None = None, start_timeout: float = 30.0):
        self.config = config
        self.env = env
        self.start_timeout = start_timeout
        self.url: str | None = None
        self.proc: subprocess.Popen | None = None
        self._stderr_file = None
        self._config_file = None
        self._stdout_lines: list[str] = []

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self):
        cmd = self.command()
        prefix = self.name.lower().replace(" ", "-") + "-"
        if self.config:
            self._config_file = tempfile.NamedTemporaryFile("w", suffix=".json", prefix=prefix, delete=False)
            json.dump(self.config, self._config_file)
            self._config_file.close()
            cmd += ["--config", self._config_file.name]
        self._stderr_file = tempfile.NamedTemporaryFile("w+", suffix=".log", prefix=prefix, delete=False)
        env = {**os.environ, **(self.env or {})}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr_file, text=True, env=env)
        ready: list[str] = []

        def read_stdout():
            for line in self.proc.stdout:
                self._stdout_lines.append(line)
                if line.startswith("ready ") and not ready:
                    ready.append(line.split(None, 1)[1].strip())

        threading.Thread(target=read_stdout, daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        while not ready:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the {self.name} exited with {self.proc.returncode}:\n{self.stderr()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self.name} did not start in {self.start_timeout} s:\n{self.stderr()}")
            time.sleep(0.02)
        self.url = ready[0]
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._config_file:
            Path(self._config_file.name).unlink(missing_ok=True)
            self._config_file = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def stderr(self) -> str:
        return Path(self._stderr_file.name).read_text(errors="replace") if self._stderr_file else ""

    def _double(self, method: str, what: str, **kw) -> dict:
        """Call the double's own admin side (/__double__/...)."""
        r = requests.request(method, f"{self.url}/__double__/{what}", timeout=30, **kw)
        r.raise_for_status()
        return r.json()
