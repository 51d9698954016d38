"""Static checks of the Ansible playbook (ansible/): syntax, lint, and the two rendered files
the bridge and the forum depend on (the forum's role cannot run here). The real converge of the
other roles is test_converge.py."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "ansible"
INVENTORY = ANSIBLE / "inventories" / "example"
BIN = Path(sys.executable).parent
BRIDGE_HOST = "space.example.org"
FORUM_HOST = "discuss.space.example.org"

def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    })
    return env


def _run(args: list, tmp_path: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=_env(tmp_path), capture_output=True,
                          text=True, timeout=300)


def render(template: Path, host: str, tmp_path: Path, *extra_vars: str,
           inventory: Path = INVENTORY) -> Path:
    """Render a role's template with the inventory's variables for host (Ansible's own templating)."""
    dest = tmp_path / "rendered" / host / template.name.removesuffix(".j2")
    dest.parent.mkdir(parents=True, exist_ok=True)
    args = [BIN / "ansible", host, "-i", inventory, "-c", "local",
            "-e", f"ansible_python_interpreter={sys.executable}",
            "-m", "ansible.builtin.template", "-a", f"src={template} dest={dest}"]
    for item in extra_vars:
        args += ["-e", item]
    result = _run(args, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return dest


def config_check(path: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return _run([BIN / "space-bridge", "config", "check", path], tmp_path)


def consistency_problems(app: dict, bridge: dict) -> list[str]:
    """What in the forum's app.yml disagrees with the bridge's space.yaml."""
    problems = []
    missing = [k for k in ("templates", "expose", "params", "env", "volumes", "hooks") if k not in app]
    if missing:
        problems.append(f"app.yml lacks {missing}")
    env = app.get("env") or {}
    for key in ("DISCOURSE_HOSTNAME", "DISCOURSE_DEVELOPER_EMAILS", "DISCOURSE_SMTP_ADDRESS",
                "DISCOURSE_SMTP_PORT", "DISCOURSE_SMTP_USER_NAME", "DISCOURSE_SMTP_PASSWORD"):
        if not env.get(key):
            problems.append(f"env.{key} is missing or empty")
    public_url = bridge["bridge"]["public_url"].rstrip("/")
    if env.get("SPACE_DISCOURSE_CONNECT_SECRET") != bridge["discourse"]["connect_secret"]:
        problems.append("DiscourseConnect secrets differ")
    if env.get("SPACE_DISCOURSE_CONNECT_URL") != f"{public_url}/sso/discourse":
        problems.append(f"discourse_connect_url is not {public_url}/sso/discourse")
    # The values only reach Discourse through the run section's site settings.
    commands = " ".join(str(step.get("exec", "")) for step in app.get("run") or [])
    for name in ("SPACE_DISCOURSE_CONNECT_URL", "SPACE_DISCOURSE_CONNECT_SECRET"):
        if f"ENV.fetch('{name}')" not in commands:
            problems.append(f"no run command applies {name} as a site setting")
    for setting in ("discourse_connect_url", "discourse_connect_secret", "enable_discourse_connect"):
        if f"SiteSetting.{setting} =" not in commands:
            problems.append(f"no run command sets {setting}")
    if env.get("SPACE_BRIDGE_WEBHOOK_URL") != f"{public_url}/webhooks/discourse":
        problems.append(f"web hook URL is not {public_url}/webhooks/discourse")
    if env.get("DISCOURSE_HOSTNAME") != urlsplit(bridge["discourse"]["url"]).hostname:
        problems.append("DISCOURSE_HOSTNAME is not the host of the bridge's discourse.url")
    return problems


# -- (1) syntax ---------------------------------------------------------------------------
def test_playbook_syntax(tmp_path):
    result = _run([BIN / "ansible-playbook", "--syntax-check", "-i", INVENTORY, ANSIBLE / "site.yml"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_syntax_check_can_fail(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("- hosts: space\n  tasks:\n    - ansible.builtin.no_such_module: {}\n")
    result = _run([BIN / "ansible-playbook", "--syntax-check", "-i", INVENTORY, broken], tmp_path)
    assert result.returncode != 0


# -- (2) lint -----------------------------------------------------------------------------
def _lint(target: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    if not (BIN / "ansible-lint").exists():
        pytest.skip("ansible-lint is not installed (pip install -e .[test])")
    return _run([BIN / "ansible-lint", "--offline", "--nocolor", "--profile", "production", target],
                tmp_path, cwd=target.parent if target != ANSIBLE else ROOT)


def test_ansible_lint_production(tmp_path):
    result = _lint(ANSIBLE, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_can_fail(tmp_path):
    copy = tmp_path / "repo" / "ansible"
    shutil.copytree(ANSIBLE, copy)
    shutil.copy(ROOT / ".ansible-lint", copy.parent / ".ansible-lint")
    tasks = copy / "roles" / "common" / "tasks" / "main.yml"
    tasks.write_text(tasks.read_text() + "\n- name: unpinned shell\n  shell: echo hi\n")
    result = _lint(copy, tmp_path)
    assert result.returncode != 0, result.stdout


# -- (3) the forum's app.yml, consistent with the bridge ----------------------------------
@pytest.fixture
def rendered(tmp_path):
    def _render(*extra_vars):
        app = render(ANSIBLE / "roles/discourse/templates/app.yml.j2", FORUM_HOST, tmp_path, *extra_vars)
        space = render(ANSIBLE / "roles/bridge/templates/space.yaml.j2", BRIDGE_HOST, tmp_path, *extra_vars)
        return app, space
    return _render


def test_discourse_app_yml_valid_and_consistent(rendered):
    app_path, space_path = rendered()
    app = yaml.safe_load(app_path.read_text())
    bridge = yaml.safe_load(space_path.read_text())
    assert consistency_problems(app, bridge) == []
    env = app["env"]
    assert env["DISCOURSE_HOSTNAME"] == FORUM_HOST
    assert env["SPACE_DISCOURSE_CONNECT_SECRET"].startswith("vault-placeholder-")
    # the secret is read from the environment, never written into a command
    assert env["SPACE_DISCOURSE_CONNECT_SECRET"] not in yaml.safe_dump(app["run"])
    assert any("docker_manager" in cmd for cmd in app["hooks"]["after_code"][0]["exec"]["cmd"])
    assert {"volume": {"host": "/var/discourse/shared/standalone", "guest": "/shared"}} in app["volumes"]


def test_consistency_check_can_fail(rendered):
    app_path, space_path = rendered()
    app = yaml.safe_load(app_path.read_text())
    bridge = yaml.safe_load(space_path.read_text())
    bridge["discourse"]["connect_secret"] = "another-secret-entirely"
    bridge["bridge"]["public_url"] = "https://elsewhere.example.org/bridge"
    del app["hooks"]
    app["run"] = [step for step in app["run"] if "SiteSetting" not in str(step.get("exec", ""))]
    problems = consistency_problems(app, bridge)
    assert "no run command sets enable_discourse_connect" in problems
    assert "DiscourseConnect secrets differ" in problems
    assert any("discourse_connect_url" in p for p in problems)
    assert any("hooks" in p for p in problems)


def test_plugins_are_cloned(rendered):
    app_path, _ = rendered('{"space_discourse_plugins": ["https://github.com/discourse/discourse-solved.git"]}')
    cmds = yaml.safe_load(app_path.read_text())["hooks"]["after_code"][0]["exec"]["cmd"]
    assert "git clone https://github.com/discourse/discourse-solved.git" in cmds


# -- (4) the bridge's space.yaml passes `space-bridge config check` -----------------------
def test_bridge_space_yaml_passes_config_check(rendered, tmp_path):
    _, space_path = rendered()
    result = config_check(space_path, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


def test_bridge_space_yaml_with_mediawiki_passes_config_check(rendered, tmp_path):
    _, space_path = rendered("space_mediawiki_bot_username=SpaceBot@bridge")
    assert "mediawiki:" in space_path.read_text()
    result = config_check(space_path, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_config_check_can_fail(rendered, tmp_path):
    # A too-short DiscourseConnect secret: the bridge (and Discourse) refuse it.
    _, space_path = rendered("vault_discourse_connect_secret=short")
    result = config_check(space_path, tmp_path)
    assert result.returncode != 0
    assert "connect_secret" in result.stderr
