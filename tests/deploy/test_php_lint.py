"""`make test` runs deploy/dev/php-lint.sh before pytest: `php -l` on the PHP files git knows of.

A mu-plugin with a syntax error takes the whole blog down (WordPress requires every file of
mu-plugins/ on every request, wp-settings.php), and nothing in the Python tests parses PHP
unless the stack is up. The script is run here on a scratch git repository, so that a broken file
can be shown to fail it without touching the checkout the other tests share.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "dev" / "php-lint.sh"

pytestmark = pytest.mark.skipif(shutil.which("php") is None or shutil.which("git") is None,
                                reason="php-lint.sh installs php-cli itself; this test needs php and git")


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    (repo / "deploy" / "dev").mkdir(parents=True)
    shutil.copy(SCRIPT, repo / "deploy" / "dev" / "php-lint.sh")
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def _lint(repo: Path) -> subprocess.CompletedProcess:
    # run from outside the repository: the script finds its checkout from its own path
    return subprocess.run(["bash", str(repo / "deploy" / "dev" / "php-lint.sh")], cwd=repo.parent,
                          capture_output=True, text=True, timeout=120)


GOOD = "<?php\nfunction ok() { return 1; }\n"
BROKEN = "<?php\nfunction broken( { return 1; }\n"


def test_the_projects_php_files_have_no_syntax_error():
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no syntax errors" in result.stdout


def test_a_syntax_error_in_a_new_file_fails_and_is_named(tmp_path):
    repo = _repo(tmp_path, {"deploy/wordpress/good.php": GOOD, "deploy/wordpress/sub/broken.php": BROKEN})
    result = _lint(repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "sub/broken.php" in result.stderr
    assert "good.php" not in result.stderr
    assert "1 of 2 PHP files" in result.stderr


def test_ignored_files_are_not_linted(tmp_path):
    """Vendored or generated PHP the repository ignores (and anything outside it) is not ours to lint."""
    repo = _repo(tmp_path, {"good.php": GOOD, "vendor/broken.php": BROKEN, ".gitignore": "vendor/\n"})
    result = _lint(repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 PHP files" in result.stdout
