"""Kinds of relay target: what every kind provides, and the registry that finds them.

A kind is one module that exports one `TargetKind`: its options model (the `options:` of a
`relay.targets` entry, checked by `space-bridge config check` like any other key), its renderer
(the message a target of the kind gets for an event) and its delivery (a factory
`(settings, target_config) -> Target`). The registry is the entry point group
`space_bridge.relay_targets`, so a new kind is one new module plus one line of packaging
metadata, in this distribution or in a third party's:

    [project.entry-points."space_bridge.relay_targets"]
    wiki = "sync.relay.targets.wiki:KIND"

The configuration is validated (and so every configured kind's module imported) before logging
and metrics are set up: a kind module imports its heavy libraries (the irc library, Apprise,
the MediaWiki client, bridge.outbox and its metrics) inside its functions, never at its top.

The relay.deliver handler (sync/relay/deliver.py) builds each configured target once per worker
process (a factory may keep connections) and calls `deliver(message, event)` for every job of
that target:

- return normally once the message is delivered (or already was: deliver must be idempotent,
  a job can run twice);
- raise bridge.outbox.RetryLater(seconds) for a temporary failure (the job runs again later),
  bridge.outbox.PermanentFailure for one retrying cannot fix (dead-lettered at once); any
  other exception is retried with the outbox's backoff and dead-lettered after max_attempts.

One failing target never blocks another: each event x target is its own job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bridge.config import Model

if TYPE_CHECKING:
    from bridge.config import Settings
    from sync.relay.events import Event
    from sync.relay.message import Message
    from sync.relay.settings import RelayTarget

ENTRY_POINT_GROUP = "space_bridge.relay_targets"


@runtime_checkable
class Target(Protocol):
    def deliver(self, message: "Message", event: "Event") -> None:
        """Deliver one rendered message; raise RetryLater / PermanentFailure on failure."""


TargetFactory = Callable[["Settings", "RelayTarget"], Target]


class TargetOptions(Model):
    """The base of every kind's options model: an unknown option is a configuration error.

    `options["nick"]` reads like the dict the options were before they had a model.
    """

    @classmethod
    def of(cls, value: Any) -> "TargetOptions":
        """`value` (a mapping, None, or already this model) as these options."""
        return value if isinstance(value, cls) else cls.model_validate(value if value is not None else {})

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)


@dataclass(frozen=True)
class TargetKind:
    """One kind of relay target, as its module exports it (`KIND`)."""

    name: str
    #: The `options:` of a target of this kind.
    options: type[TargetOptions]
    #: (event, language, options) -> the message a target of this kind gets; pure.
    render: Callable[["Event", str, Any], "Message"]
    #: (settings, target configuration) -> the object that delivers to it.
    build: TargetFactory


class TargetKindError(ValueError):
    """A relay target kind is unknown, or its entry point is broken."""


#: Factories put in place of a kind's own `build` by this process (tests' stand-in targets).
TARGET_KINDS: dict[str, TargetFactory] = {}


def register(kind: str, factory: TargetFactory) -> TargetFactory:
    """Deliver to targets of `kind` with `factory` instead of the kind's own (for tests)."""
    TARGET_KINDS[kind] = factory
    return factory


def _entry_points() -> dict[str, metadata.EntryPoint]:
    """Every installed kind's entry point by name, read afresh on each call (a distribution
    installed later, or a `sys.path` entry added later, is seen); a name claimed twice is refused."""
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found and found[ep.name].value != ep.value:
            raise TargetKindError(f"two installed relay target kinds are named '{ep.name}' "
                                  f"({found[ep.name].value}, {ep.value})")
        found[ep.name] = ep
    return found


def names() -> list[str]:
    """The names of the installed kinds, sorted."""
    return sorted(_entry_points())


def kind(name: str) -> TargetKind:
    """The installed kind `name`; TargetKindError (a ValueError) if there is none or it is broken.

    Only this kind's module is imported: a broken kind of another name does not stop the others.
    """
    eps = _entry_points()
    ep = eps.get(name)
    if ep is None:
        raise TargetKindError(f"unknown relay target kind '{name}'; known kinds: {', '.join(sorted(eps)) or 'none'}")
    try:
        found = ep.load()
    except Exception as exc:  # noqa: BLE001 - any import error of a plug-in is reported as its own
        raise TargetKindError(f"relay target kind entry point '{ep.name}' ({ep.value}) does not load: {exc}") from exc
    if not isinstance(found, TargetKind) or found.name != name:
        raise TargetKindError(f"relay target kind entry point '{ep.name}' ({ep.value}) is not a "
                              f"sync.relay.targets.TargetKind named '{name}'")
    return found


def options(name: str, value: Any) -> TargetOptions:
    """`value` (a mapping, None or already the model) as the options of kind `name`."""
    return kind(name).options.of(value)


def factory_for(name: str) -> TargetFactory:
    """The factory that builds targets of kind `name` (LookupError if there is no such kind)."""
    if name in TARGET_KINDS:
        return TARGET_KINDS[name]
    try:
        return kind(name).build
    except TargetKindError as exc:
        raise LookupError(f"no relay target kind '{name}' in this bridge ({exc})") from None


def build(settings: "Settings", target: "RelayTarget") -> Target:
    return factory_for(target.kind)(settings, target)
