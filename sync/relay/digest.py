"""The digest feature: a scheduled email of new posts and the busiest topics to mailing lists.

Found through the `space_bridge.features` entry point (pyproject.toml); on when the configuration
has `relay.digest` (its settings live in the relay section: sync/relay/settings.py). The work
itself is in sync/relay/targets/email.py, which `email` relay targets share.
"""

from __future__ import annotations

from bridge import features

# The flow's modules are imported when the shell calls in (see sso/feature.py for why).


def _handlers(settings, engine):
    from sync.relay.targets import email

    return email.handlers(settings, engine)


def _schedule(scheduler, settings, engine) -> None:
    from sync.relay.targets import email

    email.schedule(scheduler, settings, engine)


FEATURE = features.Feature(
    name="digest",
    enabled=lambda settings: getattr(settings, "relay", None) is not None and settings.relay.digest is not None,
    handlers=_handlers,
    schedule=_schedule,
)
