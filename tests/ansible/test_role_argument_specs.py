"""Every role of ansible/roles/ has meta/argument_specs.yml and a README.md, and the argument
spec describes exactly the variables of the role's defaults/main.yml.

Ansible checks a role's variables against meta/argument_specs.yml before the role's first task
(role argument validation: ansible-core adds a task `ansible.builtin.validate_argument_spec`
tagged `always` in front of the role's tasks, ansible/playbook/role/__init__.py), so a wrong type
in an inventory now stops the play. The inventories the project ships (the example, and the
converge test's) must therefore pass it: the playbook is run with a tag no task has, which leaves
only those always-tagged checks (and fact gathering, on this machine: the discourse role's
defaults read the host's memory from the facts).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "ansible"
ROLES = sorted(p for p in (ANSIBLE / "roles").iterdir() if (p / "tasks" / "main.yml").is_file())
BIN = Path(sys.executable).parent
NO_SUCH_TAG = "space-argument-specs-only"
CHECK_TASK = re.compile(r"^TASK \[(\w+) : Validating arguments against arg spec 'main'", re.M)


def _spec(role: Path) -> dict:
    return yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]


def _defaults(role: Path) -> dict:
    path = role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def test_the_roles_are_found():
    assert {r.name for r in ROLES} >= {"bridge", "common", "discourse", "mariadb", "mediawiki", "nginx",
                                       "php_fpm", "preflight", "tls", "wordpress"}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_role_has_an_argument_spec_and_a_readme(role):
    assert (role / "meta" / "argument_specs.yml").is_file()
    readme = role / "README.md"
    assert readme.is_file()
    assert readme.read_text().startswith(f"# Role `{role.name}`")
    assert "argument_specs.yml" in readme.read_text()


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_the_argument_spec_lists_exactly_the_roles_defaults(role):
    spec = _spec(role)
    assert spec.get("short_description")
    options = spec.get("options") or {}
    defaults = _defaults(role)
    missing = sorted(set(defaults) - set(options))
    assert not missing, f"{role.name}: defaults/main.yml variables not in meta/argument_specs.yml: {missing}"
    # an option without a default is only right when the role requires it from the inventory
    stale = sorted(name for name in set(options) - set(defaults) if not options[name].get("required"))
    assert not stale, f"{role.name}: argument spec options with no default that are not required: {stale}"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_option_has_a_type_and_a_description(role):
    for name, option in (_spec(role).get("options") or {}).items():
        assert option.get("type"), f"{role.name}: {name} has no type"
        assert option.get("description"), f"{role.name}: {name} has no description"
        if option["type"] == "list":
            assert option.get("elements"), f"{role.name}: {name} is a list without elements"


def _play(inventory: Path, tmp_path: Path, *extra: str, list_tasks: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path / "local"), ANSIBLE_HOME=str(tmp_path / "home"),
               ANSIBLE_NOCOLOR="1", PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    args = [BIN / "ansible-playbook", "-i", inventory, ANSIBLE / "site.yml", "--tags", NO_SUCH_TAG,
            # every host is this machine, without sudo; only facts are gathered (see the module's doc)
            "-e", "ansible_connection=local", "-e", "ansible_become=false",
            "-e", f"ansible_python_interpreter={sys.executable}"]
    if list_tasks:
        args.append("--list-tasks")
    for item in extra:
        args += ["-e", item]
    return subprocess.run([str(a) for a in args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


INVENTORIES = {
    "example": (ANSIBLE / "inventories" / "example",
                {"preflight", "common", "tls", "mariadb", "nginx", "php_fpm", "wordpress", "bridge", "discourse"}),
    "converge": (ROOT / "tests" / "ansible" / "converge", {r.name for r in ROLES}),
}


@pytest.fixture(scope="module")
def only_checks_run(tmp_path_factory):
    """The tag leaves no task of the roles, only the checks: otherwise this test would run them here."""
    tmp = tmp_path_factory.mktemp("list")
    for inventory, _ in INVENTORIES.values():
        result = _play(inventory, tmp, list_tasks=True)
        assert result.returncode == 0, result.stdout + result.stderr
        tasks = [line.strip() for line in result.stdout.splitlines() if line.startswith("      ")]
        assert tasks and all("Validating arguments against arg spec" in t for t in tasks), tasks


@pytest.mark.parametrize("name", sorted(INVENTORIES))
def test_the_inventories_pass_every_roles_argument_spec(name, only_checks_run, tmp_path):
    inventory, roles = INVENTORIES[name]
    result = _play(inventory, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(CHECK_TASK.findall(result.stdout)) == roles


@pytest.mark.parametrize("extra, role, error", [
    ("mariadb_port=three-three-o-six", "mariadb", "argument 'mariadb_port' is of type str and we were unable to convert to int"),
    ('{"bridge_services": ["serve", "cron"]}', "bridge", "value of bridge_services must be one or more of: serve, worker"),
    ('{"wordpress_pages": [{"slug": "about"}]}', "wordpress", "missing required arguments: template, title found in wordpress_pages"),
    ("wordpress_search_scope=forum", "wordpress", "value of wordpress_search_scope must be one of"),
])
def test_a_wrong_value_stops_the_play_at_the_roles_check(extra, role, error, only_checks_run, tmp_path):
    result = _play(INVENTORIES["converge"][0], tmp_path, extra)
    assert result.returncode != 0
    assert "fatal: [space.test]: FAILED!" in result.stdout
    assert error in result.stdout
    assert f'"name": "{role}"' in result.stdout  # validate_args_context names the role
