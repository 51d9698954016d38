"""What every `space-bridge` command shares, the features' own commands included: loading the
configuration once per process (with logging and shared metrics set up) and the database engine."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

import click

from bridge import config as config_mod


#: The long-running commands whose metrics `/metrics` reports (bridge/metrics.py): the only ones
#: that count anything (HTTP requests; job attempts). Other commands keep theirs in memory.
SERVICES = ("serve", "worker")

#: The lock on this process's metrics directory, held (shared) for the life of the process.
_metrics_lock = None


def load(ctx: click.Context) -> config_mod.Settings:
    path = ctx.find_root().params.get("config_path")
    try:
        settings = config_mod.load(path)
    except config_mod.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    top_level = ctx.parent is not None and ctx.parent.parent is None
    prepare_process(settings, service=ctx.info_name if top_level and ctx.info_name in SERVICES else None)
    return settings


def prepare_process(settings: config_mod.Settings, service: str | None = None) -> None:
    """Logging, and for a service its metrics directory before prometheus_client is first imported."""
    global _metrics_lock
    if service and "prometheus_client" not in sys.modules and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        root = Path(settings.bridge.state_dir) / "metrics"
        try:
            directory, _metrics_lock = claim_metrics_directory(root, service)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
            os.environ["SPACE_BRIDGE_METRICS_DIR"] = str(root)  # bridge.metrics.SHARED_DIR_ENV
        except OSError as exc:
            click.echo(f"warning: metrics of other processes are not shared: cannot use {root / service}: "
                       f"{exc.strerror}", err=True)
    from bridge import logs

    logs.configure(settings.bridge.log_format, settings.bridge.log_level)


def claim_metrics_directory(root: Path, service: str):
    """`root/service`, emptied when no other process of this service uses it; and the open lock
    file that says this process does, to keep open as long as the process runs.

    prometheus_client's multiprocess mode keeps one file per process and metric type (named by
    pid) and sums them all, the dead processes' included, so its documentation asks for the
    directory to be wiped between runs, before startup. Each service has a directory of its own:
    `serve` and `worker` are separate processes (systemd units) started and restarted apart, and
    wiping a shared directory when one starts would drop the other's counts while it runs (its
    files, open and mapped, would be written on unlinked). Here a service's start empties only its
    own directory, and only if no process of the same service still holds it (a second `worker`
    beside the first, or gunicorn's re-executed master during a USR2 upgrade): flock(2) shared by
    every holder; the exclusive lock, tried without waiting, succeeds for the first one only.
    gunicorn's workers are forks of the master and share its lock, so they never wipe.
    Files left directly in `root` by versions before one directory per service are removed too;
    nothing reads them any more.
    """
    directory = root / service
    directory.mkdir(parents=True, exist_ok=True)
    lock = open(directory / ".lock", "a+b")  # noqa: SIM115 - held open for the process's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pass  # another process of this service is running: its files stay
    else:
        for stale in [*directory.glob("*.db"), *root.glob("*.db")]:
            stale.unlink(missing_ok=True)
    fcntl.flock(lock, fcntl.LOCK_SH)  # waits while a starting one is wiping
    return directory, lock


def engine(settings):
    from bridge import store

    return store.make_engine(settings.bridge.database_url)
