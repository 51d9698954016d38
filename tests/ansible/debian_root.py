"""A fresh Debian 12 host for the playbook's real converge: a debootstrap root entered with
Ansible's chroot connection (community.general.chroot).

Why a debootstrap root and not this machine (`-c local`): the converge then starts from what a
new Debian 12 server has (minbase + python3 + sudo, as a cloud image), so a package the roles
forget to install fails here instead of being found on the CI machine; and it never rewrites the
machine's own MariaDB, nginx or /etc/wordpress, which the local stack and the other tests use.
What a chroot shares with the machine is the network: the converge inventory
(tests/ansible/converge/) moves every listening port off the machine's own (MariaDB on its
socket only, nginx on 18080/18443, the bridge on 127.0.0.1:18090).

The debootstrap result is kept as a tarball under /var/cache/space-bridge (one minute saved per
run); everything else is made new for each test session and removed after it.

By hand:  python -m tests.ansible.debian_root up /var/tmp/space-root   (then ansible-playbook
-i tests/ansible/converge ansible/site.yml with SPACE_CONVERGE_ROOT=/var/tmp/space-root), and
python -m tests.ansible.debian_root down /var/tmp/space-root.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SUITE = "bookworm"
MIRROR = os.environ.get("SPACE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# What a fresh Debian 12 cloud server has that Ansible needs: python3 for modules, sudo for become.
INCLUDE = ("python3", "sudo", "ca-certificates")
CACHE = Path(os.environ.get("SPACE_DEBIAN_ROOT_CACHE", "/var/cache/space-bridge"))
# invoke-rc.d asks this before a package's maintainer scripts start a daemon: 101 = not now
# (Debian's policy-rc.d interface, as in Debian's container images). The roles start what they need.
POLICY_RC_D = "#!/bin/sh\nexit 101\n"


class RootError(RuntimeError):
    pass


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kwargs)


def base_tarball() -> Path:
    """The debootstrap minbase of SUITE with INCLUDE, made once per machine."""
    key = hashlib.sha256(f"{SUITE} {MIRROR} {' '.join(INCLUDE)}".encode()).hexdigest()[:12]
    tarball = CACHE / f"debian-{SUITE}-minbase-{key}.tar"
    if tarball.exists():
        return tarball
    if not shutil.which("debootstrap"):
        _run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "debootstrap",
             env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    CACHE.mkdir(parents=True, exist_ok=True)
    work = CACHE / f".debootstrap-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        result = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(INCLUDE)}",
                                 SUITE, str(work), MIRROR], capture_output=True, text=True)
        if result.returncode != 0:
            raise RootError(f"debootstrap failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        partial = tarball.with_suffix(".partial")
        _run("tar", "-C", str(work), "--numeric-owner", "-cf", str(partial), ".")
        partial.rename(tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tarball


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve())
    found = []
    with open("/proc/self/mounts") as f:
        for line in f:
            target = line.split()[1].replace("\\040", " ")
            if target == prefix or target.startswith(prefix + "/"):
                found.append(target)
    return found


def processes_in(root: Path) -> list[int]:
    """Processes whose root directory is this chroot (the daemons the converge started)."""
    wanted = str(root.resolve())
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "root") == wanted:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def up(root: Path) -> Path:
    """Unpack a fresh root at `root` and make it enterable (proc, resolver, no daemon autostart)."""
    if os.geteuid() != 0:
        raise RootError("the converge test needs root (debootstrap, chroot, mount)")
    root = root.resolve()
    if root.exists() and any(root.iterdir()):
        down(root)
    root.mkdir(parents=True, exist_ok=True)
    _run("tar", "-C", str(root), "--numeric-owner", "-xf", str(base_tarball()))
    (root / "usr/sbin/policy-rc.d").write_text(POLICY_RC_D)
    (root / "usr/sbin/policy-rc.d").chmod(0o755)
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
    _trust_local_cas(root)
    _run("mount", "-t", "proc", "proc", str(root / "proc"))
    return root


def _trust_local_cas(root: Path) -> None:
    """Give the root the certificate authorities this machine added locally (a network whose
    egress proxy re-signs TLS has one): a server on this network would be given them too, or pip
    could not reach PyPI from it."""
    local = Path("/usr/local/share/ca-certificates")
    certs = sorted(local.glob("*.crt")) if local.is_dir() else []
    if not certs:
        return
    target = root / "usr/local/share/ca-certificates"
    target.mkdir(parents=True, exist_ok=True)
    for cert in certs:
        shutil.copyfile(cert, target / cert.name)
    _run("chroot", str(root), "update-ca-certificates")


def stop_processes(root: Path, grace: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = processes_in(root)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while processes_in(root) and time.monotonic() < deadline:
            time.sleep(0.2)
    if processes_in(root):
        raise RootError(f"processes still running in {root}: {processes_in(root)}")


def down(root: Path) -> None:
    """Stop what runs in the root, unmount, and delete it (never while something is mounted)."""
    root = root.resolve()
    stop_processes(root)
    for target in sorted(_mounts_under(root), key=len, reverse=True):
        subprocess.run(["umount", target], check=False, capture_output=True)
    left = _mounts_under(root)
    if left:
        raise RootError(f"still mounted, not deleting {root}: {left}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("up", "down"):
        sys.exit("usage: python -m tests.ansible.debian_root up|down DIR")
    target = Path(sys.argv[2])
    up(target) if sys.argv[1] == "up" else down(target)
    print(f"{sys.argv[1]}: {target}")
