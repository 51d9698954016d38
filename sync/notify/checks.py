"""The doctor's check of the notify feature (bridge/doctor.py): the mail server members' emails leave
from, greeted and logged in to as sending does, with nothing sent (sync/relay/checks.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.doctor import Probe

if TYPE_CHECKING:
    from bridge.config import Settings


def probes(settings: "Settings") -> list[Probe]:
    """The notify feature's mail server, when members may choose email."""
    from sync.notify.settings import mail
    from sync.relay.checks import smtp_check

    server = mail(settings)
    if server is None or not settings.notify.enabled:
        return []
    return [Probe("notify.smtp", lambda: smtp_check("notify.smtp", server[0]))]
