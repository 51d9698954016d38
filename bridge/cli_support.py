"""What every `space-bridge` command shares, the features' own commands included: loading the
configuration once per process (with logging and shared metrics set up) and the database engine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from bridge import config as config_mod


def load(ctx: click.Context) -> config_mod.Settings:
    path = ctx.find_root().params.get("config_path")
    try:
        settings = config_mod.load(path)
    except config_mod.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    prepare_process(settings)
    return settings


def prepare_process(settings: config_mod.Settings) -> None:
    """Logging, and the shared metrics directory before prometheus_client is first imported."""
    if "prometheus_client" not in sys.modules and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        metrics_dir = Path(settings.bridge.state_dir) / "metrics"
        try:
            metrics_dir.mkdir(parents=True, exist_ok=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        except OSError as exc:
            click.echo(f"warning: metrics of other processes are not shared: cannot create {metrics_dir}: "
                       f"{exc.strerror}", err=True)
    from bridge import logs

    logs.configure(settings.bridge.log_format, settings.bridge.log_level)


def engine(settings):
    from bridge import store

    return store.make_engine(settings.bridge.database_url)
