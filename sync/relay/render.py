"""The message a target gets for an event: `render(event, kind, language, options)` -> Message.

The kind (sync/relay/targets/<kind>.py) renders it, with the helpers every kind shares
(sync/relay/message.py). The language is the target's (given) or else the event's; unknown
languages fall back to English message by message, as bridge/i18n.py does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from bridge import i18n
from sync.relay import targets
from sync.relay.events import Event
from sync.relay.message import Message

__all__ = ["Message", "render"]


def render(event: Event, kind: str, language: str | None = None,
           options: Mapping[str, Any] | BaseModel | None = None) -> Message:
    """The message a target of `kind` gets for `event`, in `language` (default: the event's).

    `options` are the target's (sync/relay/settings.py has validated them), or a mapping of them.
    """
    try:
        target_kind = targets.kind(kind)
    except targets.TargetKindError:
        raise ValueError(f"unknown target kind {kind!r}") from None
    lang = (language or event.language or i18n.DEFAULT_LANGUAGE)
    return target_kind.render(event, lang, targets.options(kind, options))
