"""A tiny feature: POST /greeting queues a greeting, the worker writes it to a file.

It uses every extension point a flow has (a configuration section, a route, a job kind, a
periodic job, a CLI command, a health check and a subscriber to another flow's event) and nothing
of the bridge but its public shell.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import Blueprint, current_app, jsonify, request
from pydantic import Field

from bridge import cli_support, features
from bridge.config import Model

KIND = "greeting.write"


class GreetingSettings(Model):
    text: str = Field(min_length=1)
    log_file: str
    every_seconds: float = Field(60, gt=0)


bp = Blueprint("greeting", __name__)


@bp.post("/greeting")
def greet():
    ext = current_app.extensions["space_bridge"]
    name = request.get_json(force=True)["name"]
    job_id, created = ext["outbox"].enqueue(KIND, {"name": name}, key=f"greeting:{name}")
    return jsonify(job=job_id, created=created), 202


def _write(settings):
    def handler(job):
        path = Path(settings.greeting.log_file)
        done = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        line = f"{settings.greeting.text}, {job.payload['name']}"
        if line not in done:  # a job may run twice
            with path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
    return handler


@click.group("greeting")
def greeting_group():
    """The greeting feature."""


@greeting_group.command("show")
@click.pass_context
def show(ctx):
    """Print the configured greeting."""
    settings = cli_support.load(ctx)
    if settings.greeting is None:
        raise click.ClickException("no greeting section")
    click.echo(settings.greeting.text)


def _health(ctx):
    folder = Path(ctx.settings.greeting.log_file).parent
    ok = folder.is_dir() and os.access(folder, os.W_OK)
    return {"log_file": features.Health(ok, "writable" if ok else f"{folder} is not a writable folder")}


def _heard_forum(settings, engine, *, event, data):
    """The mirror's web hook receiver publishes each signed forum delivery (bridge/events.py)."""
    with Path(settings.greeting.log_file).open("a", encoding="utf-8") as f:
        f.write(f"forum said {event}\n")


FEATURE = features.Feature(
    name="greeting",
    enabled=lambda settings: settings.greeting is not None,
    config_sections={"greeting": GreetingSettings},
    blueprints=lambda ctx: (bp,),
    handlers=lambda settings, engine: {KIND: _write(settings)},
    schedule=lambda scheduler, settings, engine: scheduler.every(settings.greeting.every_seconds, lambda: None,
                                                                  "greeting-tick"),
    commands=lambda: (greeting_group,),
    health=_health,
    subscribers={"forum.webhook": _heard_forum},
)
