"""Static checks of the Ansible playbook (ansible/): syntax, lint, and the two rendered files
the bridge and the forum depend on (the forum's role cannot run here). The real converge of the
other roles is test_converge.py."""
from __future__ import annotations

import json
import os
import re
import secrets
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
BRIDGE_HOST = "space.example.org"  # the inventory host of the bridge group (the blog's too)
BRIDGE_NAME = "bridge.space.example.org"  # space_bridge_host: the bridge's own host name
FORUM_HOST = "discuss.space.example.org"
VAULT = INVENTORY / "group_vars" / "all" / "vault.yml"

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
def own_vault(tmp_path) -> str:
    """A vault an operator filled in: every example placeholder replaced by a random secret."""
    path = tmp_path / "own-vault.yml"
    names = yaml.safe_load(VAULT.read_text())
    path.write_text(yaml.safe_dump({name: secrets.token_hex(24) for name in names}))
    return f"@{path}"


# The discourse role's defaults and computed variables, and a forum host of 8 GB and 4 CPUs (ad-hoc
# templating gathers no facts).
FORUM_HOST_SIZE = ("discourse_host_memory_mb=7900", "discourse_host_swap_mb=0", "discourse_host_cpus=4")


def discourse_vars(*extra_vars: str) -> list[str]:
    return [*role_defaults("discourse"), f"@{ANSIBLE / 'roles/discourse/vars/main.yml'}", *FORUM_HOST_SIZE, *extra_vars]


@pytest.fixture
def rendered(tmp_path, own_vault):
    def _render(*extra_vars, vault=own_vault):
        extra = (vault, *extra_vars) if vault else extra_vars
        app = render(ANSIBLE / "roles/discourse/templates/app.yml.j2", FORUM_HOST, tmp_path, *discourse_vars(*extra))
        space = render(ANSIBLE / "roles/bridge/templates/space.yaml.j2", BRIDGE_HOST, tmp_path, *extra)
        return app, space
    return _render


def test_discourse_app_yml_valid_and_consistent(rendered):
    app_path, space_path = rendered(vault=None)
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
    assert "LETSENCRYPT_ACCOUNT_EMAIL" not in env


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
    app_path, _ = rendered('{"space_discourse_plugins": ["https://github.com/discourse/discourse-translator.git"]}')
    cmds = yaml.safe_load(app_path.read_text())["hooks"]["after_code"][0]["exec"]["cmd"]
    assert "git clone https://github.com/discourse/discourse-translator.git" in cmds


# -- (3b) the forum's host, sized and set up as discourse_docker's own tools do -----------------
def evaluate(tmp_path, expression: str, *extra_vars: str):
    """What a Jinja expression gives on the forum's host, with the discourse role's variables."""
    args = [BIN / "ansible", FORUM_HOST, "-i", INVENTORY, "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
            "-m", "ansible.builtin.debug", "-a", "msg={{ " + expression + " }}"]
    for item in discourse_vars(*extra_vars):
        args += ["-e", item]
    result = _run(args, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.split("=>", 1)[1])["msg"]


# (memory in MiB as Ansible reports it, CPUs) -> (db_shared_buffers, UNICORN_WORKERS), as
# discourse_docker's resource_scaler.rb sizes a host `free -g --si` reports in whole GB.
@pytest.mark.parametrize("memory_mb, cpus, buffers, workers", [
    (950, 1, "128MB", 2),      # a "1 GB" VM: 996 MB, counted as 1 GB
    (2000, 2, "256MB", 4),     # 2 GB (2.1 * 10^9 bytes)
    (3900, 2, "1024MB", 4),    # 4 GB: 256 MB a GB, 2 workers a CPU
    (7900, 4, "2048MB", 8),
    (64000, 16, "4096MB", 8),  # at most 4096 MB and 8 workers
])
def test_the_forum_is_sized_to_its_host_like_the_setup_wizard(tmp_path, memory_mb, cpus, buffers, workers):
    got = evaluate(tmp_path, "[discourse_db_shared_buffers | trim, discourse_unicorn_workers | int]",
                   f"discourse_host_memory_mb={memory_mb}", f"discourse_host_cpus={cpus}")
    assert got == [buffers, workers]


def test_sizes_set_in_the_inventory_win(rendered):
    app_path, _ = rendered("space_discourse_unicorn_workers=3", "space_discourse_db_shared_buffers=512MB")
    app = yaml.safe_load(app_path.read_text())
    assert app["env"]["UNICORN_WORKERS"] == 3 and app["params"]["db_shared_buffers"] == "512MB"


def test_swap_is_needed_at_4_gb_of_ram_or_less_without_2_gb_of_swap(tmp_path):
    def needed(memory_mb, swap_mb):
        return evaluate(tmp_path, "discourse_swap_needed | bool", f"discourse_host_memory_mb={memory_mb}",
                        f"discourse_host_swap_mb={swap_mb}")
    assert needed(3815, 0) is True          # 4 GB, no swap
    assert needed(1907, 1024) is True       # 2 GB, 1 GB of swap
    assert needed(1907, 2048) is False      # 2 GB of swap (2.1 * 10^9 bytes)
    assert needed(7900, 0) is False         # 8 GB: no swap needed


def test_the_app_yml_follows_discourse_root_and_drops_what_discourse_docker_no_longer_reads(rendered):
    app_path, _ = rendered("discourse_root=/srv/forum")
    app = yaml.safe_load(app_path.read_text())
    assert [v["volume"]["host"] for v in app["volumes"]] == ["/srv/forum/shared/standalone",
                                                            "/srv/forum/shared/standalone/log/var-log"]
    assert "LETSENCRYPT_ACCOUNT_EMAIL" not in app["env"]  # discourse_docker commit 8fdaeb9
    assert app["expose"] == ["80:80", "443:443"]
    assert app["env"]["UNICORN_WORKERS"] == 8 and app["params"]["db_shared_buffers"] == "2048MB"


def test_a_plugin_bundled_with_discourse_is_named_and_refused(tmp_path):
    launcher = (ROOT / "tests/ansible/launcher_double/standin.py").read_text()
    plugins = ('{"space_discourse_plugins": ["https://github.com/discourse/discourse-solved.git", '
               '"https://github.com/discourse/discourse-translator"], "discourse_launcher_text": ' + json.dumps(launcher) + "}")
    assert evaluate(tmp_path, "discourse_bundled_plugins_used", plugins) == ["discourse-solved"]


def test_the_launcher_is_pinned_to_a_commit():
    """A branch would make `launcher rebuild` pull it (discourse_docker's launcher updates itself
    only on branch main); a commit checked out is a detached HEAD it leaves alone."""
    defaults = yaml.safe_load((ANSIBLE / "roles/discourse/defaults/main.yml").read_text())
    assert re.fullmatch(r"[0-9a-f]{40}", defaults["discourse_docker_version"])


def _carries_secret(task: dict) -> bool:
    """Runs the launcher (it prints the container's environment under set -x), hands a secret to a
    command through its environment, or writes app.yml (SMTP password, DiscourseConnect secret)."""
    command = task.get("ansible.builtin.shell") or task.get("ansible.builtin.command") or {}
    return ("./launcher " in str(command.get("cmd", ""))
            or any("vault_" in str(v) or "secret" in str(v) or "api_key" in str(v)
                   for v in (task.get("environment") or {}).values())
            or task.get("ansible.builtin.template", {}).get("src") == "app.yml.j2")


def test_every_discourse_task_that_carries_a_secret_has_no_log():
    tasks = yaml.safe_load((ANSIBLE / "roles/discourse/tasks/main.yml").read_text())
    flat = [t for task in tasks for t in task.get("block", [task])]
    carrying = [t for t in flat if _carries_secret(t)]
    assert len(carrying) >= 4
    assert [t["name"] for t in carrying if t.get("no_log") is not True] == []
    assert not (ANSIBLE / "roles/discourse/handlers/main.yml").exists()  # no rebuild handler left


def test_the_firewall_replaces_only_its_own_table(tmp_path, own_vault):
    text = render(ANSIBLE / "roles/common/templates/nftables.conf.j2", FORUM_HOST, tmp_path, own_vault).read_text()
    statements = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "flush ruleset" not in statements
    assert [s for s in statements if s.startswith(("table", "delete", "flush"))] == [
        "table inet space", "delete table inet space", "table inet space {"]
    assert "policy accept;" in text.split("chain forward")[1].split("}")[0]  # Docker's forwarding on the forum's host


def test_forum_admins_reach_the_bridge(rendered, tmp_path):
    _, space_path = rendered('{"space_sso_discourse_admins": {"users": ["Alice Example"], "groups": []}}')
    assert yaml.safe_load(space_path.read_text())["sso"]["discourse_admins"] == {"users": ["Alice Example"], "groups": []}
    result = config_check(space_path, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


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



def test_the_example_vault_makes_a_space_yaml_the_bridge_refuses(rendered, tmp_path):
    _, space_path = rendered(vault=None)
    result = config_check(space_path, tmp_path)
    assert result.returncode == 1
    for key in ("bridge.secret_key", "discourse.connect_secret", "wordpress.sites[0].password", "bridge.metrics.token"):
        assert f"{key}: is a published example value" in result.stderr, key


# -- (5) placeholder and weak secrets stop the playbook before any host is touched ------------
def preflight(tmp_path, inventory: Path, *extra_vars: str) -> subprocess.CompletedProcess:
    """Only the preflight role, against the inventory's hosts, without connecting to them."""
    play = tmp_path / "preflight.yml"
    play.write_text(yaml.safe_dump([{"hosts": "space", "gather_facts": False,
                                     "roles": [{"role": str(ANSIBLE / "roles" / "preflight")}]}]))
    args = [BIN / "ansible-playbook", "-i", inventory, play, "-e", "ansible_connection=local",
            "-e", f"ansible_python_interpreter={sys.executable}"]
    for item in extra_vars:
        args += ["-e", item]
    return _run(args, tmp_path)


@pytest.fixture
def own_inventory(tmp_path) -> Path:
    """The example inventory with the operator's own names: no example.org host or address, an
    SSH key and OAuth client id of their own (the vault is still the example's)."""
    copy = tmp_path / "own-inventory"
    shutil.copytree(INVENTORY, copy)
    for path in (copy / "hosts.yml", copy / "group_vars" / "all" / "main.yml"):
        text = path.read_text().replace("example.org", "operator.test").replace("example-only", "own-key")
        path.write_text(text.replace("0123456789abcdef0123456789abcdef", secrets.token_hex(16)))
    return copy


# The example's non-secret values an operator must replace (hosts.yml, group_vars/all/main.yml).
EXAMPLE_NAMES = ("inventory host space.example.org", "inventory host discuss.space.example.org", "space_domain",
                 "space_forum_domain", "space_admin_email", "space_admins", "space_smtp_host", "space_smtp_username",
                 "space_smtp_from", "space_staging_wiki_domain", "space_wikimedia_client_id")


def test_the_playbook_refuses_the_example_vault_before_touching_a_host(tmp_path):
    result = _run([BIN / "ansible-playbook", "--check", "-i", INVENTORY, ANSIBLE / "site.yml"], tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    for name in yaml.safe_load(VAULT.read_text()):
        assert f"{name} is still the example's placeholder" in out, name
    # ... and names the example's host names, addresses and identifiers in the same run
    for name in EXAMPLE_NAMES:
        assert f"{name} is still the example's." in out, name
    # Derived ones (space_blog_url from space_domain) are fixed with their source, not named.
    assert "space_blog_url" not in out and "space_bridge_host is" not in out
    # nothing ran on (or even tried to reach) a host
    assert "UNREACHABLE" not in out and "Gathering Facts" not in out and "PLAY [Base system" not in out


def test_the_preflight_is_the_playbooks_first_play():
    first = yaml.safe_load((ANSIBLE / "site.yml").read_text())[0]
    assert first["roles"] == [{"role": "preflight"}] and first["hosts"] == "space"
    assert first["gather_facts"] is False and first["any_errors_fatal"] is True


def test_own_names_pass_the_preflight_and_each_example_name_left_is_named(tmp_path, own_vault, own_inventory):
    assert preflight(tmp_path, own_inventory, own_vault).returncode == 0
    left = preflight(tmp_path, own_inventory, own_vault, "space_smtp_host=smtp.example.org",
                     '{"space_admins": [{"name": "me", "ssh_key": "ssh-ed25519 AAAAC3Nza-example-only me@x"}]}')
    assert left.returncode != 0
    assert "space_smtp_host is still the example's." in left.stdout
    assert "space_admins is still the example's." in left.stdout
    assert "space_domain" not in left.stdout


def test_real_secrets_pass_the_preflight_and_a_weak_one_is_named(tmp_path, own_vault, own_inventory):
    assert preflight(tmp_path, own_inventory, own_vault).returncode == 0
    short = preflight(tmp_path, own_inventory, own_vault, "vault_wordpress_salt=0123456789abcdef0123456789abcde")
    assert short.returncode != 0 and "vault_wordpress_salt is shorter than 32 characters" in short.stdout
    same = preflight(tmp_path, own_inventory, own_vault, "vault_bridge_secret_key=" + "ab" * 20)
    assert same.returncode != 0 and "vault_bridge_secret_key has fewer than 5 different characters" in same.stdout
    # An Application Password counts its letters and digits only (the role strips the rest).
    spaced = preflight(tmp_path, own_inventory, own_vault, "vault_wordpress_app_password=" + " ".join(["a1b2c3"] * 6))
    assert spaced.returncode != 0 and "vault_wordpress_app_password is shorter" in spaced.stdout
    # The mail provider chooses the SMTP password: no length rule, but never the placeholder.
    assert preflight(tmp_path, own_inventory, own_vault, "vault_smtp_password=mail-pw-9").returncode == 0
    placeholder = preflight(tmp_path, own_inventory, own_vault, "vault_smtp_password=vault-placeholder-smtp-password")
    assert placeholder.returncode != 0 and "vault_smtp_password is still" in placeholder.stdout
    # The value itself is never shown.
    assert "0123456789abcdef0123456789abcde" not in short.stdout + short.stderr


def test_the_converge_inventory_passes_the_preflight(tmp_path):
    converge = ROOT / "tests" / "ansible" / "converge"
    result = preflight(tmp_path, converge)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_bridge_on_the_blogs_host_name_is_refused(tmp_path, own_vault, own_inventory):
    for same in ("space_bridge_host=space.operator.test", "space_bridge_host=Space.Operator.TEST",
                 "space_bridge_public_url=https://space.operator.test/bridge"):
        result = preflight(tmp_path, own_inventory, own_vault, same)
        assert result.returncode != 0 and "must be a host name of its own" in result.stdout, same


# -- (6) the bridge on its own host name; operator endpoints and big bodies stay out ----------
NGINX_DENIED = re.compile(r"location ~ (\S+) \{ deny all; \}")
BRIDGE_SITE = ANSIBLE / "roles/bridge/templates/nginx-bridge-site.conf.j2"


def role_defaults(*roles: str) -> list[str]:
    """The roles' defaults, as -e items (ad-hoc templating does not load a role)."""
    return [f"@{ANSIBLE / 'roles' / role / 'defaults' / 'main.yml'}" for role in roles]


def bridge_site(tmp_path, *extra_vars) -> str:
    return render(BRIDGE_SITE, BRIDGE_HOST, tmp_path, *role_defaults("bridge"), *extra_vars).read_text()


def test_the_bridge_has_its_own_host_name_and_the_blog_does_not_proxy_it(rendered, tmp_path, own_vault):
    _, space_path = rendered()
    assert urlsplit(yaml.safe_load(space_path.read_text())["bridge"]["public_url"]).hostname == BRIDGE_NAME
    text = bridge_site(tmp_path, own_vault)
    assert re.findall(r"server_name (\S+);", text) == [BRIDGE_NAME, BRIDGE_NAME]
    assert "proxy_pass http://127.0.0.1:8090;" in text
    blog = render(ANSIBLE / "roles/wordpress/templates/nginx-site.conf.j2", BRIDGE_HOST, tmp_path, own_vault,
                  *role_defaults("wordpress", "php_fpm")).read_text()
    assert re.findall(r"server_name (\S+);", blog) == ["space.example.org", "space.example.org"]
    assert "proxy_pass" not in blog and "space-bridge" not in blog


def test_nginx_serves_neither_healthz_nor_metrics_publicly(tmp_path, own_vault):
    patterns = NGINX_DENIED.findall(bridge_site(tmp_path, own_vault))
    # nginx matches locations on the decoded, slash-merged path; PCRE and Python agree on these
    def denied(path):
        return any(re.match(p, path) for p in patterns)
    for path in ("/healthz", "/metrics", "/healthz/", "//metrics", "/metrics/x"):
        assert denied(path), path
    for path in ("/healthzz", "/login", "/webhooks/discourse", "/whoami", "/sso/discourse"):
        assert not denied(path), path
    # Metrics for a Prometheus elsewhere: proxied (the bridge asks for its token); health never.
    public = bridge_site(tmp_path, own_vault, "space_bridge_metrics_public=true")
    assert [p for p in NGINX_DENIED.findall(public) if re.match(p, "/metrics")] == []
    assert [p for p in NGINX_DENIED.findall(public) if re.match(p, "/healthz")]


def test_nginx_and_the_bridge_share_one_body_limit(rendered, tmp_path, own_vault):
    _, space_path = rendered("space_bridge_max_body_bytes=32768")
    assert yaml.safe_load(space_path.read_text())["bridge"]["max_body_bytes"] == 32768
    assert "client_max_body_size 32768;" in bridge_site(tmp_path, own_vault, "space_bridge_max_body_bytes=32768")
    assert "client_max_body_size 65536;" in bridge_site(tmp_path, own_vault)


def test_the_certificate_covers_the_bridges_name(tmp_path):
    play = tmp_path / "tls-names.yml"
    play.write_text(yaml.safe_dump([{"hosts": "space", "gather_facts": False, "tasks": [
        {"ansible.builtin.include_vars": str(ANSIBLE / "roles/tls/defaults/main.yml")},
        {"ansible.builtin.debug": {"msg": "names={{ tls_domains | join(',') }}"}}]}]))
    result = _run([BIN / "ansible-playbook", "-i", INVENTORY, play, "-e", "ansible_connection=local"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"names=space.example.org,{BRIDGE_NAME}" in result.stdout
