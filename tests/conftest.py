"""Shared fixtures: the local stack of real platforms, and databases for the store."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STACK_SCRIPT = REPO / "deploy" / "dev" / "stack.sh"


def _stack_state_dir() -> Path:
    return Path(os.environ.get("SPACE_DEV_STATE", REPO / ".dev"))


@pytest.fixture(scope="session")
def stack() -> dict:
    """The local stack of real WordPress, MediaWiki and ngircd, started once per test session.

    `stack.sh up` is idempotent, so a stack already running (from `make run`, or an earlier
    session) is reused, and only a stack this session started is stopped at the end.
    """
    was_running = subprocess.run(["bash", str(STACK_SCRIPT), "status"], capture_output=True).returncode == 0
    subprocess.run(["bash", str(STACK_SCRIPT), "up"], check=True)
    info = json.loads((_stack_state_dir() / "stack.json").read_text())
    yield info
    if not was_running and not os.environ.get("SPACE_KEEP_STACK"):
        subprocess.run(["bash", str(STACK_SCRIPT), "down"], check=False)
