"""The shell's one extension point for flows: a feature, found through an entry point.

Login, mirror, relay and digest are features, and so is every later flow (search, members'
notification choices, the operators' console). Each exports one `Feature` under the entry point
group `space_bridge.features`; the shell (`bridge/app.py`, `bridge/jobs.py`, `bridge/cli.py`,
`bridge/config.py`) loops over what it finds and never imports a flow, the way pytest finds its
plugins (`pytest11`) and Flask its CLI commands (`flask.commands`). A third party adds a flow from
its own distribution with one line of packaging metadata:

    [project.entry-points."space_bridge.features"]
    search = "space_search.feature:FEATURE"

What the flow brings is all optional: its configuration sections (top-level keys of space.yaml,
validated with the rest of the file), its web routes, job handlers, periodic jobs, CLI commands,
health checks, the doctor's checks of its platforms (bridge/doctor.py) and subscribers to the
events other flows publish (bridge/events.py). Everything but `config_sections` and `commands`
is only used when the loaded configuration enables the feature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click
    import sqlalchemy as sa
    from flask import Blueprint, Flask
    from pydantic import BaseModel

    from bridge.config import Settings
    from bridge.outbox import Handler, Outbox

ENTRY_POINT_GROUP = "space_bridge.features"


@dataclass(frozen=True)
class Context:
    """What a feature is given when the shell wires it: the loaded settings and the shared resources."""

    settings: "Settings"
    engine: "sa.Engine"
    outbox: "Outbox"


@dataclass(frozen=True)
class Health:
    """One health check's answer; `ok=False` makes /healthz answer 503 and name the check."""

    ok: bool
    detail: str = "ok"


@dataclass(frozen=True)
class Feature:
    """One flow of the Space, as the shell sees it.

    `enabled(settings)` decides from the loaded configuration whether the flow runs at all; the
    other callables take the `Context` (or the settings and engine for jobs, which the worker's
    processes build themselves) so that a feature module stays cheap to import.
    """

    name: str
    enabled: Callable[["Settings"], bool] = lambda settings: True
    #: Top-level configuration keys this feature owns -> their pydantic model. A model that
    #: validates from nothing ({}) is the default; any other section is optional (None).
    config_sections: Mapping[str, type["BaseModel"]] = field(default_factory=dict)
    #: Blueprints registered on the app, in order.
    blueprints: Callable[[Context], Iterable["Blueprint"]] | None = None
    #: Per-app set-up beyond blueprints (extension state, before_request hooks).
    init_app: Callable[["Flask", Context], None] | None = None
    #: Job kind -> handler, for `space-bridge worker`.
    handlers: Callable[["Settings", "sa.Engine"], Mapping[str, "Handler"]] | None = None
    #: Adds periodic jobs: `scheduler.every(seconds, function, name)`.
    schedule: Callable[[Any, "Settings", "sa.Engine"], None] | None = None
    #: Click commands added to `space-bridge` (each loads the configuration itself when run).
    commands: Callable[[], Sequence["click.Command"]] | None = None
    #: Named checks shown by /healthz; they must be local and quick (no platform calls).
    health: Callable[[Context], Mapping[str, Health]] | None = None
    #: The checks `space-bridge doctor` runs against the platforms this flow talks to: a list of
    #: `bridge.doctor.Probe` built from the settings. Apart from `health` because they are the
    #: opposite: slow, remote, run on an operator's demand (each with a time limit), while
    #: /healthz must answer at once from local facts. Here, and not in the shell, because only
    #: the flow knows what it needs of a platform (a meta key, a web hook's events, a channel).
    checks: Callable[["Settings"], Iterable[Any]] | None = None
    #: Event name -> `subscriber(settings, engine, **data)`, for what other flows publish
    #: (bridge/events.py lists the events); quick and local, like a health check.
    subscribers: Mapping[str, Callable[..., None]] = field(default_factory=dict)


class FeatureError(Exception):
    """An installed feature is broken: its entry point does not load or is not a Feature."""


def installed() -> list[Feature]:
    """Every feature installed in this Python environment, in name order.

    Read afresh on each call (it is cheap), so a distribution installed into a running test or
    a `sys.path` entry added later is seen; two features with the same name are refused.
    """
    found: dict[str, Feature] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            feature = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import error of a plug-in is reported as its own
            raise FeatureError(f"feature entry point '{ep.name}' ({ep.value}) does not load: {exc}") from exc
        if not isinstance(feature, Feature):
            raise FeatureError(f"feature entry point '{ep.name}' ({ep.value}) is not a bridge.features.Feature")
        if feature.name in found and found[feature.name] is not feature:
            raise FeatureError(f"two installed features are named '{feature.name}'")
        found[feature.name] = feature
    return [found[name] for name in sorted(found)]


def enabled(settings: "Settings") -> list[Feature]:
    """The installed features the configuration turns on."""
    return [f for f in installed() if f.enabled(settings)]


def config_sections() -> dict[str, type["BaseModel"]]:
    """Every configuration section the installed features own; a key owned twice is refused."""
    sections: dict[str, type[BaseModel]] = {}
    owners: dict[str, str] = {}
    for feature in installed():
        for key, model in feature.config_sections.items():
            if key in sections and sections[key] is not model:
                raise FeatureError(f"features '{owners[key]}' and '{feature.name}' both own the "
                                   f"configuration section '{key}'")
            sections[key], owners[key] = model, feature.name
    return sections
