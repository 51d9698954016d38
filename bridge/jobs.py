"""Which job kinds this bridge handles, and which periodic jobs it schedules.

The shell's own work is here (the probe, purging finished jobs); every flow adds its handlers and
periodic jobs through its feature (bridge/features.py), so `space-bridge worker` is the one process
that performs all deferred work without naming any flow.
"""

from __future__ import annotations

import datetime as dt

import structlog

from bridge import features
from bridge.outbox import Handler, Job, Outbox

log = structlog.get_logger(__name__)


def probe(job: Job) -> None:
    """A job that does nothing but prove the workers run (`space-bridge outbox probe`)."""
    log.info("outbox.probe", job_id=job.id, note=job.payload.get("note"))


def handlers(settings, engine) -> dict[str, Handler]:
    """Every job kind of the enabled features; one kind claimed by two features is refused."""
    found: dict[str, Handler] = {"bridge.probe": probe}
    owner = {"bridge.probe": "bridge"}
    for feature in features.enabled(settings):
        if feature.handlers is None:
            continue
        for kind, handler in feature.handlers(settings, engine).items():
            if kind in found:
                raise features.FeatureError(f"job kind '{kind}' is handled by both '{owner[kind]}' and "
                                            f"'{feature.name}'")
            found[kind], owner[kind] = handler, feature.name
    return found


def schedule(scheduler, settings, engine) -> None:
    outbox = Outbox(engine, settings.outbox)
    keep = settings.outbox.keep_done_days
    if keep:
        def purge():
            removed = outbox.purge_done(dt.timedelta(days=keep))
            if removed:
                log.info("outbox.purged", removed=removed, older_than_days=keep)

        scheduler.every(3600, purge, "outbox-purge")
    for feature in features.enabled(settings):
        if feature.schedule is not None:
            feature.schedule(scheduler, settings, engine)
