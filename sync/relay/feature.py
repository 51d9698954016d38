"""The relay feature: Space activity told to wiki pages, IRC, chats and mailing lists.

Found by the shell through the `space_bridge.features` entry point (pyproject.toml); on when the
configuration names at least one relay target. Events are emitted by the web hook receivers of the
mirror feature (sync/relay/emit.py); this feature delivers them, one outbox job per event and target.
"""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from bridge import cli_support, features
from sync.relay.settings import RelaySettings

# The flow's modules are imported when the shell calls in (see sso/feature.py for why).


def _handlers(settings, engine):
    from sync.relay.deliver import relay_handlers

    return relay_handlers(settings, engine)


@click.group("relay")
def relay_group():
    """Relay of Space activity to wiki pages, IRC and chats."""


@relay_group.command("test")
@click.argument("event_file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def relay_test(ctx, event_file):
    """Show which targets the event in EVENT-FILE (YAML or JSON) reaches, and the messages; sends nothing."""
    from sync.relay import rules
    from sync.relay.deliver import message_for
    from sync.relay.events import Event

    settings = cli_support.load(ctx)
    try:
        data = yaml.safe_load(Path(event_file).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("the file must hold one event (a mapping)")
        event = Event.from_dict(data)
    except (yaml.YAMLError, TypeError, ValueError) as exc:
        raise click.ClickException(f"{event_file}: {exc}") from None
    targets = rules.route(settings.relay, event)
    click.echo(f"event {event.id} ({event.type}{', private' if event.private else ''}) reaches "
               f"{len(targets)} target(s)" + (": " + ", ".join(t.name for t in targets) if targets else ""))
    for target in targets:
        message = message_for(target, event)
        click.echo(f"\n== {target.name} ({target.kind}, {target.language or event.language}) ==")
        if message.title:
            click.echo(f"title: {message.title}")
        click.echo(message.text)
        if message.html:
            click.echo(f"html: {message.html}")


FEATURE = features.Feature(
    name="relay",
    enabled=lambda settings: bool(settings.relay.targets),
    config_sections={"relay": RelaySettings},
    handlers=_handlers,
    commands=lambda: (relay_group,),
    checks=lambda settings: __import__("sync.relay.checks", fromlist=["probes"]).probes(settings),  # `space-bridge doctor`
)
