"""Which targets an event reaches (pure), like discourse-chat-integration's rules.

A rule matches an event when the event's type is in `events` ("*" matches every type) and
each non-empty filter (categories, tags, languages, sites) contains the event's value (for
tags: any of the event's tags). A category is named by its name (any case), or by the forum's
category id (a number; a string of digits matches either). Matching rules name targets; matching `mute`
rules take targets away whatever other rules say. A private event (flags, suspensions, and
forum content from read-restricted categories, unlisted topics or whispers) only ever reaches
targets marked `private: true`: that is enforced here, not left to the rules, and again when
each delivery runs (sync/relay/deliver.py).
"""

from __future__ import annotations

from sync.relay.settings import RelayRule, RelaySettings, RelayTarget
from sync.relay.events import Event


def _in(values: list[str], value: str | None) -> bool:
    if not values:
        return True
    if value is None:
        return False
    return value.lower() in {v.lower() for v in values}


def _category_in(values: list[int | str], event: Event) -> bool:
    if not values:
        return True
    name = (event.category or "").casefold()
    for value in values:
        text = str(value).strip()
        if event.category_id is not None and text.isascii() and text.isdigit() and int(text) == event.category_id:
            return True
        if not isinstance(value, int) and name and text.casefold() == name:
            return True
    return False


def rule_matches(rule: RelayRule, event: Event) -> bool:
    if "*" not in rule.events and event.type not in rule.events:
        return False
    if not _category_in(rule.categories, event) or not _in(rule.sites, event.site):
        return False
    if rule.languages:
        lang = (event.language or "").lower()
        langs = {v.lower() for v in rule.languages}
        if lang not in langs and lang.split("-")[0] not in langs:
            return False
    if rule.tags and not ({t.lower() for t in rule.tags} & {t.lower() for t in event.tags}):
        return False
    return True


def may_receive(target: RelayTarget, event: Event) -> bool:
    """The privacy invariant: private events go to private targets only."""
    return target.private or not event.private


def route(relay: RelaySettings, event: Event) -> list[RelayTarget]:
    """The targets `event` reaches, in configuration order."""
    wanted: set[str] = set()
    muted: set[str] = set()
    for rule in relay.rules:
        if rule_matches(rule, event):
            (muted if rule.mute else wanted).update(rule.targets)
    return [t for t in relay.targets if t.name in wanted and t.name not in muted and may_receive(t, event)]
