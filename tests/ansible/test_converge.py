"""The playbook applied for real: ansible/site.yml converges a fresh Debian 12 host (a debootstrap
root, see debian_root.py for why) with MariaDB, WordPress, the bridge and the staging wiki; the
blog, the bridge and the wiki then answer through nginx over TLS, and a second run changes nothing.
The forum's role runs too, against the launcher double (launcher_double/: stand-ins for
discourse_docker's launcher and Docker), with `space-bridge discourse setup` talking to the
Discourse double.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import urllib3
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.ansible import debian_root

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`
from doubles.discourse import DiscourseDouble  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
INVENTORY = ROOT / "tests" / "ansible" / "converge"
ARTIFACTS = ROOT / "test-artifacts"
HOST = "space.test"
WIKI = "wiki.space.test"
BRIDGE = "bridge.space.test"  # space_bridge_host: the bridge's own name, never a path on the blog's

pytestmark = [pytest.mark.converge, pytest.mark.timeout(3600)]


def _inventory_vars() -> dict:
    merged: dict = {}
    for f in sorted((INVENTORY / "group_vars" / "all").glob("*.yml")):
        merged.update(yaml.safe_load(f.read_text()) or {})
    return merged


VARS = _inventory_vars()
HTTPS_PORT = int(VARS["space_https_port"])
PORTS = (int(VARS["space_http_port"]), HTTPS_PORT, int(VARS["bridge_listen"].rsplit(":", 1)[1]),
         int(VARS["discourse_http_port"]))
LAUNCHER_DOUBLE = ROOT / "tests" / "ansible" / "launcher_double"
LAUNCHER_STATE = Path("var/lib/launcher-double")  # inside the root
SECRETS = {k: v for k, v in VARS.items() if k.startswith("vault_")}


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _playbook(env: dict, log: Path) -> tuple[subprocess.CompletedProcess, dict]:
    # -v: no secret may show even in the verbose output (no_log hides a task's results there too)
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-v", "-i", str(INVENTORY), str(ROOT / "ansible" / "site.yml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=3000)
    log.write_text(result.stdout + result.stderr)
    recap = re.search(rf"^{re.escape(HOST)}\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                      result.stdout, re.M)
    counts = dict(zip(("ok", "changed", "unreachable", "failed"), map(int, recap.groups()))) if recap else {}
    return result, counts


def _changed_tasks(output: str) -> list[str]:
    tasks, current = [], None
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            current = line.rstrip("* ")
        elif line.startswith("changed:") and current and current not in tasks:
            tasks.append(current)
    return tasks


def _self_signed(directory: Path) -> None:
    """The certificate a sysadmin would provide (space_tls_mode: provided), for every name."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in (HOST, WIKI, BRIDGE)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True)
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _install_launcher_double(root: Path) -> None:
    """What the forum's role finds on the converge host instead of Docker and discourse_docker: the
    stand-in `docker` on the PATH, and a git repository whose `launcher` is the stand-in."""
    shutil.copy(LAUNCHER_DOUBLE / "standin.py", root / "usr/local/bin/docker")
    repo = root / "srv/discourse_docker-stand-in"
    (repo / "containers").mkdir(parents=True)
    (repo / "containers/.gitkeep").touch()
    shutil.copy(LAUNCHER_DOUBLE / "standin.py", repo / "launcher")
    shutil.copy(LAUNCHER_DOUBLE / "README.md", repo / "README.md")
    (repo / ".gitignore").write_text("containers/*\nshared/*\n")  # as discourse_docker's
    git = ["git", "-C", str(repo), "-c", "user.name=converge", "-c", "user.email=converge@space.test"]
    for args in (["init", "-q"], ["add", "-A"], ["add", "-f", "containers/.gitkeep"],
                 ["commit", "-q", "-m", "launcher double"], ["tag", "stand-in"]):
        subprocess.run(git + args, check=True, capture_output=True)


def launcher_state(root: Path) -> dict:
    return json.loads((root / LAUNCHER_STATE / "state.json").read_text())


def status_requests(root: Path) -> int:
    path = root / LAUNCHER_STATE / "status.json"
    return json.loads(path.read_text())["requests"] if path.exists() else 0


def _build_wheel(source: Path, dist: Path) -> Path:
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return next(dist.glob("space_bridge-*.whl"))


@pytest.fixture(scope="module")
def converged(tmp_path_factory):
    taken = [p for p in PORTS if _port_taken(p)]
    assert not taken, f"ports {taken} are in use; the converge host's nginx and bridge need them"
    work = tmp_path_factory.mktemp("converge")
    ARTIFACTS.mkdir(exist_ok=True)

    wheel = _build_wheel(ROOT, work / "dist")
    tls = work / "tls"
    _self_signed(tls)

    root = debian_root.up(Path("/var/tmp") / f"space-converge-{os.getpid()}")
    _install_launcher_double(root)
    # The forum the bridge's `discourse setup` talks to: the Discourse double, whose API key is the
    # vault's (the launcher double only records that the role installed it). The bridge's name has
    # no public address here: allowed as Discourse's allowed_internal_hosts would allow it.
    forum = DiscourseDouble(api_key=VARS["vault_discourse_api_key"], config={
        "allowed_internal_hosts": [BRIDGE, "127.0.0.1", "localhost", "::1"]}).start()
    # The controller's pip settings must not reach the host (the chroot connection passes the
    # environment through; a remote host would not see them).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update({
        "SPACE_CONVERGE_ROOT": str(root),
        "SPACE_CONVERGE_TLS_DIR": str(tls),
        "SPACE_CONVERGE_WHEEL": str(wheel),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOME": str(work / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-local"),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "SPACE_CONVERGE_DISCOURSE_URL": forum.url,
    })
    try:
        first = _playbook(env, ARTIFACTS / "ansible-converge-1.log")
        after_first = {"launcher": launcher_state(root) if (root / LAUNCHER_STATE).exists() else None,
                       "status_requests": status_requests(root)}
        second = _playbook(env, ARTIFACTS / "ansible-converge-2.log") if first[1].get("failed") == 0 else None
        yield {"root": root, "first": first, "second": second, "ca": tls / "fullchain.pem", "env": env,
               "work": work, "wheel": wheel, "forum": forum, "after_first": after_first, "outputs": []}
    finally:
        forum.stop()
        debian_root.down(root)


def _get(converged, host: str, path: str, headers: dict | None = None, method: str = "GET", body=None):
    """A request over TLS to nginx on the converge host, checking its certificate for `host`."""
    pool = urllib3.HTTPSConnectionPool("127.0.0.1", HTTPS_PORT, server_hostname=host, assert_hostname=host,
                                       cert_reqs="CERT_REQUIRED", ca_certs=str(converged["ca"]), retries=False,
                                       timeout=30)
    return pool.request(method, path, body=body, redirect=False,
                        headers={"Host": f"{host}:{HTTPS_PORT}", **(headers or {})})


def _direct(path: str, headers: dict | None = None):
    """A request to the bridge's own port, as monitoring on the host itself makes it."""
    return urllib3.request("GET", f"http://{VARS['bridge_listen']}{path}", headers=headers, retries=False,
                           timeout=30, redirect=False)


def test_first_run_converges_a_bare_host(converged):
    result, counts = converged["first"]
    assert counts.get("failed") == 0 and counts.get("unreachable") == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert counts["changed"] > 0


def test_second_run_changes_nothing(converged):
    assert converged["second"] is not None, "the first run failed"
    result, counts = converged["second"]
    assert counts.get("failed") == 0, result.stdout[-6000:]
    assert counts["changed"] == 0, f"changed on the second run: {_changed_tasks(result.stdout)}"


def test_wordpress_answers_its_rest_api_with_the_bridges_application_password(converged):
    index = _get(converged, HOST, "/wp-json/")
    assert index.status == 200
    site = json.loads(index.data)
    assert site["name"] == VARS["space_wordpress_title"]
    assert "space-bridge/v1" in site["namespaces"]  # the project's mu-plugin is loaded

    token = base64.b64encode(f"{VARS['space_wordpress_username']}:{VARS['vault_wordpress_app_password']}".encode()).decode()
    me = _get(converged, HOST, "/wp-json/wp/v2/users/me?context=edit", {"Authorization": f"Basic {token}"})
    assert me.status == 200, me.data[:500]
    assert "editor" in json.loads(me.data)["roles"]
    wrong = _get(converged, HOST, "/wp-json/wp/v2/users/me", {"Authorization": "Basic " + base64.b64encode(b"space-bridge:wrong").decode()})
    assert wrong.status == 401


def test_wordpress_has_the_code_of_conduct_and_editorial_guidelines(converged):
    for slug in ("code-of-conduct", "editorial-guidelines"):
        pages = json.loads(_get(converged, HOST, f"/wp-json/wp/v2/pages?slug={slug}").data)
        assert len(pages) == 1 and pages[0]["status"] == "publish", slug
    conduct = json.loads(_get(converged, HOST, "/wp-json/wp/v2/pages?slug=code-of-conduct").data)[0]
    assert "Universal_Code_of_Conduct" in conduct["content"]["rendered"]


def test_the_bridge_answers_on_its_own_host_name_and_not_on_the_blogs(converged):
    hook = _get(converged, BRIDGE, "/webhooks/discourse", method="POST", body=b"{}",
                headers={"Content-Type": "application/json"})
    assert hook.status == 401 and json.loads(hook.data)["error"] == "invalid signature", hook.data[:500]
    # The blog's host serves WordPress only: no page of the blog's origin can read the bridge.
    for path in ("/bridge/healthz", "/healthz", "/whoami", "/bridge/whoami"):
        on_blog = _get(converged, HOST, path)
        assert not on_blog.headers.get("Content-Type", "").startswith("application/json"), path


def test_operator_endpoints_answer_on_the_host_only(converged):
    """nginx serves neither /healthz nor /metrics; monitoring on the host reads the bridge's port."""
    for path in ("/healthz", "/metrics", "/metrics/", "/%68ealthz"):
        assert _get(converged, BRIDGE, path).status == 403, path
    health = _direct("/healthz")
    assert health.status == 200, health.data[:500]
    assert json.loads(health.data)["status"] == "ok"
    assert b"space_bridge_outbox_jobs" in _direct("/metrics").data
    # Through a proxy on the host the client is the address the proxy saw, not the proxy itself.
    assert _direct("/metrics", {"X-Forwarded-For": "198.51.100.7"}).status == 401
    token = VARS["vault_bridge_metrics_token"]
    assert _direct("/metrics", {"X-Forwarded-For": "198.51.100.7", "Authorization": f"Bearer {token}"}).status == 200


def test_nginx_refuses_a_body_over_the_bridges_limit(converged):
    big = _get(converged, BRIDGE, "/webhooks/discourse", method="POST", body=b"x" * (65 * 1024),
               headers={"Content-Type": "application/json"})
    assert big.status == 413


def test_plain_http_redirects_to_https(converged):
    pool = urllib3.HTTPConnectionPool("127.0.0.1", int(VARS["space_http_port"]), retries=False, timeout=30)
    response = pool.request("GET", "/wp-json/", headers={"Host": HOST}, redirect=False)
    assert response.status == 301
    assert response.headers["Location"] == f"https://{HOST}:{HTTPS_PORT}/wp-json/"


def _bridge_processes(root: Path) -> dict[int, tuple[int, str]]:
    """The bridge's processes in the root: pid -> (uid, service), service being serve or worker."""
    found = {}
    for pid in debian_root.processes_in(root):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            uid = int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])
        except (OSError, IndexError):
            continue
        if any(part.endswith(b"/space-bridge") for part in cmdline):
            found[pid] = (uid, cmdline[-2].decode())
    return found


def test_bridge_runs_as_its_own_user(converged):
    root = converged["root"]
    passwd = {line.split(":")[0]: int(line.split(":")[2]) for line in (root / "etc/passwd").read_text().splitlines()}
    processes = _bridge_processes(root).values()
    assert {service for _, service in processes} == {"serve", "worker"}
    assert {uid for uid, _ in processes} == {passwd["space-bridge"]}


def test_staging_wiki_answers_its_api(converged):
    response = _get(converged, WIKI, "/api.php?action=query&meta=siteinfo&format=json")
    assert response.status == 200, response.data[:500]
    assert json.loads(response.data)["query"]["general"]["sitename"] == "Space staging wiki"


def test_the_forum_is_built_once_its_api_key_installed_and_set_up_after_it_answers(converged):
    """First run: one rebuild, the vault's API key installed (as its SHA-256 only), /srv/status
    asked until it said ok, then `space-bridge discourse setup` configured the forum."""
    state = converged["after_first"]["launcher"]
    assert state is not None, "the discourse role never ran the launcher"
    launcher_calls = [c["args"] for c in state["calls"] if c["tool"] == "launcher"]
    assert launcher_calls == [["rebuild", "app"]]
    assert state["containers"]["app"]["state"] == "running"
    key = VARS["vault_discourse_api_key"]
    assert state["api_key_hashes"] == [hashlib.sha256(key.encode()).hexdigest()]
    assert key not in json.dumps(state)  # the double keeps what Discourse keeps, no more
    # the double's /srv/status answers 502 twice (booting) before ok: the role waited
    assert converged["after_first"]["status_requests"] >= 3
    forum = converged["forum"]
    hooks = forum.request("GET", "/admin/api/web_hooks.json").json()["web_hooks"]
    assert any(h["payload_url"] == f"https://{BRIDGE}:{HTTPS_PORT}/webhooks/discourse" for h in hooks), hooks
    slugs = {c["slug"] for c in forum.request("GET", "/categories.json").json()["category_list"]["categories"]}
    assert {c["slug"] for c in VARS["space_discourse_categories"]} <= slugs


def test_the_second_run_leaves_the_forum_alone(converged):
    assert converged["second"] is not None, "the first run failed"
    state = launcher_state(converged["root"])
    assert [c["args"] for c in state["calls"] if c["tool"] == "launcher"] == [["rebuild", "app"]]
    assert len(state["api_key_hashes"]) == 1


def test_a_failed_bootstrap_is_retried_by_the_next_run(converged):
    """The container is missing (a first bootstrap that failed) and the next bootstrap fails too:
    the run fails saying where the launcher's output is; the run after it rebuilds, with app.yml
    unchanged all along."""
    assert converged["second"] is not None, "the first run failed"
    root = converged["root"]
    state = launcher_state(root)
    state["fail_bootstraps"] = 1
    state["containers"].pop("app")
    (root / LAUNCHER_STATE / "state.json").write_text(json.dumps(state))

    failed, counts = _playbook(converged["env"], ARTIFACTS / "ansible-converge-bootstrap-failed.log")
    converged["outputs"].append(failed)
    assert counts.get("failed") == 1, failed.stdout[-4000:]
    assert "launcher rebuild app failed" in failed.stdout and "/var/discourse/launcher-app.log" in failed.stdout
    assert "app" not in launcher_state(root)["containers"]

    retried, counts = _playbook(converged["env"], ARTIFACTS / "ansible-converge-bootstrap-retried.log")
    converged["outputs"].append(retried)
    assert counts.get("failed") == 0, retried.stdout[-6000:]
    assert any("Rebuild the container" in task for task in _changed_tasks(retried.stdout))
    state = launcher_state(root)
    assert state["containers"]["app"]["state"] == "running"
    assert [c["args"] for c in state["calls"] if c["tool"] == "launcher"] == [["rebuild", "app"]] * 3
    assert len(state["api_key_hashes"]) == 1  # already there: not installed twice


def test_the_launcher_log_keeps_the_secrets_the_output_does_not_show(converged):
    """The launcher's own `set -x` output goes to a root-only file, not to Ansible's output."""
    log = converged["root"] / "var/discourse/launcher-app.log"
    assert log.stat().st_mode & 0o077 == 0
    assert VARS["vault_smtp_password"] in log.read_text()


def test_reloading_the_firewall_keeps_dockers_chains(converged, tmp_path):
    """The common role's nftables.conf, loaded twice in a network namespace of its own (the
    converge host's network is the machine's) next to Docker's iptables-nft tables."""
    root = converged["root"]
    rules = root / "tmp/space-nftables.conf"
    render = subprocess.run(
        [str(BIN / "ansible"), HOST, "-i", str(INVENTORY), "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
         "-e", "ansible_connection=local", "-e", "space_firewall_enabled=true", "-m", "ansible.builtin.template",
         "-a", f"src={ROOT / 'ansible/roles/common/templates/nftables.conf.j2'} dest={rules}"],
        env=converged["env"], capture_output=True, text=True, timeout=300)
    assert render.returncode == 0, render.stdout + render.stderr
    script = ("set -e; nft add table ip nat; nft add chain ip nat DOCKER; nft add table ip filter; "
              "nft add chain ip filter DOCKER; nft add chain ip filter DOCKER-USER; "
              "nft -f /tmp/space-nftables.conf; nft -f /tmp/space-nftables.conf; nft list ruleset")
    listed = subprocess.run(["unshare", "--net", "chroot", str(root), "/bin/sh", "-c", script],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    for chain in ("table ip nat", "table ip filter", "chain DOCKER {", "chain DOCKER-USER {"):
        assert chain in listed.stdout, chain
    assert listed.stdout.count("table inet space {") == 1


def test_no_secret_reaches_the_playbook_output(converged):
    output = converged["first"][0].stdout + converged["first"][0].stderr
    if converged["second"]:
        output += converged["second"][0].stdout
    for result in converged["outputs"]:  # the runs of later tests (a failed rebuild among them)
        output += result.stdout + result.stderr
    leaked = [name for name, value in SECRETS.items() if value and str(value) in output]
    assert not leaked, f"secrets in the Ansible output: {leaked}"


def test_the_bridge_logs_in_to_the_blog_with_what_ansible_gave_it(converged):
    """End to end on the converged host: the bridge, with the space.yaml the role rendered, logs in
    to the WordPress the role set up, with the vault's Application Password, through nginx."""
    root = converged["root"]
    # What DNS and a certificate authority would give a real host (the forum has no address here).
    hosts = root / "etc/hosts"
    text = hosts.read_text() if hosts.exists() else ""
    if HOST not in text:
        hosts.write_text(text + f"127.0.0.1 {HOST} {WIKI} {BRIDGE}\n")
    shutil.copy(converged["ca"], root / "tmp/space-test-ca.pem")
    result = subprocess.run(
        ["chroot", "--userspec=space-bridge:space-bridge", str(root), "/usr/bin/env",
         "REQUESTS_CA_BUNDLE=/tmp/space-test-ca.pem", "/opt/space-bridge/venv/bin/space-bridge",
         "--config", "/etc/space-bridge/space.yaml", "platforms", "check"],
        capture_output=True, text=True, timeout=300)
    out = result.stdout + result.stderr
    site = VARS["space_wordpress_site_name"]
    assert f"ok   wordpress:{site}: https://{HOST}:{HTTPS_PORT} via rest as" in result.stdout, out
    # the forum is the Discourse double here, with the key the discourse role installed
    assert f"ok   discourse: {converged['forum'].url}" in result.stdout, out




def test_a_rebuilt_wheel_of_the_same_version_is_installed_and_the_bridge_restarted(converged):
    """A fix shipped without a version bump must not be skipped as "already installed"."""
    assert converged["second"] is not None, "the first run failed"
    root, work = converged["root"], converged["work"]
    source = work / "fixed-source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("bridge", "sso", "sync"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    marker = "# converge test: a fix without a version bump\n"
    with open(source / "bridge" / "__init__.py", "a") as f:
        f.write(marker)
    fixed = _build_wheel(source, work / "dist-fixed")
    assert fixed.name == converged["wheel"].name
    shutil.copy(fixed, converged["wheel"])  # the inventory names this file
    before = set(_bridge_processes(root))

    result, counts = _playbook(converged["env"], ARTIFACTS / "ansible-converge-3.log")

    assert counts.get("failed") == 0, result.stdout[-6000:]
    changed = " ".join(_changed_tasks(result.stdout))
    assert "Upload the space-bridge wheel" in changed and "Restart the bridge" in changed, changed
    installed = next((root / "opt/space-bridge/venv/lib").glob("python3*/site-packages/bridge/__init__.py"))
    assert installed.read_text().endswith(marker)
    after = set(_bridge_processes(root))
    assert after and not (after & before), "the bridge's processes were not restarted"
    deadline = time.monotonic() + 60  # the restarted bridge takes a moment to listen again
    while True:
        try:
            if _direct("/healthz").status == 200:
                break
        except urllib3.exceptions.HTTPError:
            pass
        assert time.monotonic() < deadline, "the restarted bridge does not answer /healthz"
        time.sleep(1)
