"""The import-linter contracts of pyproject.toml hold, and they catch each kind of wrong import.

`make test` runs `lint-imports` on the tree; these tests show the contracts would fail it: each
adds one wrong import to a copy of the product and runs the same command there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}  # ahead of the editable install's finder
    return subprocess.run([str(LINT)], cwd=root, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def copy(tmp_path) -> Path:
    for package in ("bridge", "sso", "sync"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def add_import(path: Path, line: str) -> None:
    text = path.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + sep + line + "\n" + rest)


def test_the_tree_keeps_every_contract():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


def test_the_copy_is_what_is_checked(copy):
    assert lint(copy).returncode == 0


@pytest.mark.parametrize("module, line, broken", [
    # the shell reaching up into a flow, even inside a function
    ("bridge/jobs.py", "def _f():\n    from sync import mirror  # noqa\n", "The shell is the ground floor"),
    ("bridge/app.py", "import sso.provider", "The shell is the ground floor"),
    # login reaching up into mirror and relay
    ("sso/accounts.py", "from sync.relay import rules", "The shell is the ground floor"),
    # the product depending on the tests' doubles
    ("sync/mirror.py", "from tests.doubles import discourse", "Tests, doubles and the dev stack"),
    ("bridge/store.py", "import deploy.dev.devconfig", "Tests, doubles and the dev stack"),
])
def test_a_wrong_way_import_breaks_a_contract(copy, module, line, broken):
    add_import(copy / module, line)
    result = lint(copy)
    assert result.returncode == 1, result.stdout
    assert f"{broken}" in result.stdout.replace("\n", " ") and "BROKEN" in result.stdout


def test_an_import_cycle_inside_a_package_breaks_a_contract(copy):
    add_import(copy / "sync" / "mapping.py", "from sync import mirror")
    result = lint(copy)
    assert result.returncode == 1
    assert "No cycles are allowed in sync" in result.stdout
