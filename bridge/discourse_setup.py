"""`space-bridge discourse setup`: configure a Discourse forum for the Space through its API.

What it makes true, in this order, each step only if it is not already so:

1. **DiscourseConnect** pointing at the bridge: the site settings ``discourse_connect_url``
   (``<bridge.public_url>/sso/discourse``), ``discourse_connect_secret``
   (``discourse.connect_secret``) and ``enable_discourse_connect`` (last: Discourse refuses to
   enable it without a URL, lib/validators/enable_sso_validator.rb); and ``unicode_usernames`` as
   ``sso.unicode_usernames`` says, because the forum names logins carry are made for that
   setting (sso/usernames.py): with it off, Discourse would turn محمد into "user1" (likewise
   ``allowed_unicode_username_characters``, which a forum's locale may have filled). Discourse
   refuses to turn it on while the forum uses its internal letter avatars
   (lib/validators/unicode_username_validator.rb: external_system_avatars_url must be set);
   that refusal is reported as an error with Discourse's message. ``embed_unlisted`` off: a blog
   post's discussion is listed from the start (the mirror then needs no read-back to list it).
2. **The bridge's web hook**: one web hook to ``<bridge.public_url>/webhooks/discourse``, JSON,
   active, signed with ``discourse.webhook_secret``, for every event type of the groups the
   bridge handles (:data:`WEB_HOOK_EVENT_GROUPS`). It is found by its URL; a second hook with
   the same URL is reported and left alone.
3. **Categories** of ``discourse.categories``, created when no category has the slug (an
   existing one is left as it is: moderators own it once it exists), and the slugs of
   ``discourse.preexisting_categories`` checked to exist.
4. **Groups** named in ``sso.discourse_groups``, created when missing (logins add members to
   them; Discourse would skip a group it does not have).

Every item is reported as ``created``, ``updated`` or ``unchanged`` (``would create`` /
``would update`` with ``--dry-run``, which sends only reads), so a second run says
``unchanged`` everywhere and writes nothing.

Secrets are compared, never shown. Discourse returns secret site settings' values to admins
(lib/site_setting_extension.rb ``all_settings`` serializes ``value`` for every setting and only
adds ``secret: true``; app/controllers/admin/site_settings_controller.rb#index renders that
list; only the staff action log writes "[FILTERED]"), and web hook secrets too
(app/serializers/admin_web_hook_serializer.rb lists ``secret``), so both are compared in
constant time. Two cases are handled honestly rather than guessed:

* a setting missing from the list is *hidden* from the API (``hidden: true`` in
  config/site_settings.yml or a plugin's settings, or a ``shadowed_by_global`` setting the
  server's environment sets), which the API can neither read nor change: it is reported as an
  ``error`` telling the operator to set it on the forum itself (the discourse role does it for
  DiscourseConnect in app.yml's ``run`` section);
* a secret that reads back different right after being written (a Discourse that masks
  it) is reported ``set (cannot be read back)``; such a forum gets it written on every run.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

from bridge.clients.discourse import (DiscourseClient, DiscourseValidationError, SiteSetting, WebHook,
                                     WebHookEventType)
from bridge.config import Settings

__all__ = ["OPTIONAL_EVENT_GROUPS", "WEB_HOOK_EVENT_GROUPS", "Item", "Report", "connect_url", "run_setup", "web_hook_url"]

#: Event type groups the bridge's web hook subscribes to (WebHookEventType groups); `category`: a
#: category made read-restricted takes its topics out of the search index and the relay's map.
WEB_HOOK_EVENT_GROUPS = ("topic", "post", "category", "user", "flag", "reviewable")
#: Groups a forum may lack without anything missing: current Discourse has no flag_* event types
#: (app/models/web_hook_event_type.rb TYPES), a flag reaches the bridge as reviewable_created.
OPTIONAL_EVENT_GROUPS = ("flag",)

CHANGES = ("created", "updated", "set")
PLANNED = ("would create", "would update", "would set")


@dataclass(frozen=True)
class Item:
    """One thing setup looked at. ``status``: created, updated, set, unchanged, exists (or the
    dry-run forms would create, would update, would set), warning, error."""

    kind: str  # "setting", "web hook", "category", "group"
    name: str
    status: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.status:<13} {self.kind} {self.name}" + (f": {self.detail}" if self.detail else "")


@dataclass
class Report:
    dry_run: bool
    items: list[Item] = field(default_factory=list)

    @property
    def changes(self) -> list[Item]:
        return [i for i in self.items if i.status in CHANGES + PLANNED or i.status.startswith("set ")]

    @property
    def errors(self) -> list[Item]:
        return [i for i in self.items if i.status == "error"]

    def summary(self) -> str:
        n = len(self.changes)
        if self.errors:
            return f"{len(self.errors)} problem(s); {n} change(s)" + (" would be made" if self.dry_run else " made")
        if not n:
            return "nothing to change: the forum is set up"
        return f"{n} change(s) would be made (dry run)" if self.dry_run else f"{n} change(s) made"


def connect_url(settings: Settings) -> str:
    return f"{settings.bridge.public_url}/sso/discourse"


def web_hook_url(settings: Settings) -> str:
    return f"{settings.bridge.public_url}/webhooks/discourse"


def _verb(dry_run: bool, done: str) -> str:
    return {"created": "would create", "updated": "would update", "set": "would set"}[done] if dry_run else done


def _same_secret(current: str | None, wanted: str) -> bool:
    return current is not None and hmac.compare_digest(current.encode("utf-8"), wanted.encode("utf-8"))


def _setting_value(value: str | bool) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


# -- 1. DiscourseConnect ---------------------------------------------------------------------------
def _site_settings(client: DiscourseClient, settings: Settings, report: Report) -> None:
    d = settings.discourse
    wanted: list[tuple[str, str | bool, bool]] = [  # name, value, secret
        ("discourse_connect_url", connect_url(settings), False),
        ("discourse_connect_secret", d.connect_secret.get_secret_value(), True),
        ("enable_discourse_connect", True, False),
        ("unicode_usernames", settings.sso.unicode_usernames, False),
        ("allowed_unicode_username_characters", settings.sso.allowed_unicode_username_characters, False),
        # Every blog post's discussion is listed from its first minute, not after its first reply
        # (lib/post_creator.rb unlists a topic with an embed_url under embed_unlisted), and a new
        # topic then costs the mirror its create alone, with no read-back to list it.
        ("embed_unlisted", False, False),
    ]
    current = client.site_settings()
    written_secrets = []
    for name, value, secret in wanted:
        have: SiteSetting | None = current.get(name)
        want = _setting_value(value)
        if have is None:
            report.items.append(Item("setting", name, "error",
                                     "not in GET /admin/site_settings.json: the setting is hidden from the API "
                                     "(a hidden setting, or one the server's environment shadows); set it on the forum: "
                                     f"rails r \"SiteSetting.{name} = ...\" (app.yml's run section)"))
            continue
        secret = secret or have.secret
        if secret:
            same = _same_secret(have.value, want)
        else:  # booleans in any case; text (a URL, a regular expression) exactly
            same = have.value.strip().lower() == want if isinstance(value, bool) else have.value.strip() == want
        if same:
            report.items.append(Item("setting", name, "unchanged", "compared, not shown" if secret else want))
            continue
        if not report.dry_run:
            try:
                client.set_site_setting(name, value)
            except DiscourseValidationError as exc:
                shown = "the secret" if secret else want  # a refused secret is still a secret
                report.items.append(Item("setting", name, "error", f"Discourse refused {shown}: {exc}"))
                continue
            if secret:
                written_secrets.append((name, want))
        report.items.append(Item("setting", name, _verb(report.dry_run, "updated"),
                                 "secret, not shown" if secret else f"{have.value or '(empty)'} -> {want}"))
    if written_secrets:
        after = client.site_settings()
        for name, want in written_secrets:
            if not _same_secret(getattr(after.get(name), "value", None), want):
                idx = next(i for i, it in enumerate(report.items) if it.kind == "setting" and it.name == name)
                report.items[idx] = Item("setting", name, "set (cannot be read back)",
                                         "written; this forum does not return the value, so it cannot be verified "
                                         "and will be written again on every run")


# -- 2. the bridge's web hook ------------------------------------------------------------------------
def _event_type_ids(types: Iterable[WebHookEventType], groups: Iterable[str]) -> set[int]:
    wanted = set(groups)
    return {t.id for t in types if t.name in wanted or t.name.split("_", 1)[0] in wanted}


def _web_hook(client: DiscourseClient, settings: Settings, report: Report) -> None:
    url = web_hook_url(settings)
    secret = settings.discourse.webhook_secret.get_secret_value()
    listing = client.web_hooks()
    event_ids = _event_type_ids(listing.event_types, WEB_HOOK_EVENT_GROUPS)
    missing_groups = [g for g in WEB_HOOK_EVENT_GROUPS
                      if g not in OPTIONAL_EVENT_GROUPS and not _event_type_ids(listing.event_types, [g])]
    if missing_groups:
        report.items.append(Item("web hook", url, "warning",
                                 f"this Discourse has no event types for: {', '.join(missing_groups)}"))
    mine: list[WebHook] = [h for h in listing.hooks if h.payload_url.rstrip("/") == url]
    fields = dict(event_type_ids=sorted(event_ids), content_type=1, active=True, wildcard=False)
    if not mine:
        if not report.dry_run:
            hook = client.create_web_hook(url, secret=secret, **fields)
            detail = f"id {hook.id}, {len(event_ids)} event types, signed"
        else:
            detail = f"{len(event_ids)} event types, signed"
        report.items.append(Item("web hook", url, _verb(report.dry_run, "created"), detail))
        return
    hook, extra = mine[0], mine[1:]
    for other in extra:
        report.items.append(Item("web hook", url, "warning", f"another web hook (id {other.id}) has the same URL; "
                                                             "left alone: remove it in Discourse"))
    differs = []
    if not hook.active:
        differs.append("inactive")
    if hook.content_type != 1:
        differs.append("content type")
    if hook.wildcard_web_hook:
        differs.append("sends every event")
    if hook.event_type_ids != frozenset(event_ids):
        differs.append("event types")
    secret_unreadable = hook.secret is None
    if secret_unreadable or not _same_secret(hook.secret, secret):
        differs.append("secret" + (" (cannot be read back)" if secret_unreadable else ""))
    if not differs:
        report.items.append(Item("web hook", url, "unchanged", f"id {hook.id}, {len(event_ids)} event types, signed"))
        return
    if not report.dry_run:
        client.update_web_hook(hook.id, payload_url=url, secret=secret, **fields)
    report.items.append(Item("web hook", url, _verb(report.dry_run, "updated"), f"id {hook.id}: {', '.join(differs)}"))


# -- 3. categories ------------------------------------------------------------------------------------
def _categories(client: DiscourseClient, settings: Settings, report: Report) -> None:
    d = settings.discourse
    existing = {c.slug: c for c in client.categories()}
    for cat in d.categories:
        have = existing.get(cat.slug)
        if have is None:
            detail = cat.name + (f" [{cat.language}]" if cat.language else "")
            if not report.dry_run:
                made = client.create_category(cat.name, slug=cat.slug, color=cat.color, text_color=cat.text_color)
                if made.slug != cat.slug:
                    report.items.append(Item("category", cat.slug, "error",
                                             f"Discourse created it with the slug '{made.slug}' (id {made.id})"))
                    continue
                detail += f", id {made.id}"
            report.items.append(Item("category", cat.slug, _verb(report.dry_run, "created"), detail))
            continue
        notes = []
        if have.name != cat.name:
            notes.append(f"named '{have.name}' in Discourse")
        if (have.color or "").lower() != cat.color.lower():
            notes.append(f"colour {have.color}")
        detail = f"id {have.id}" + (f" (differs from the configuration: {', '.join(notes)}; left as it is)"
                                    if notes else "")
        report.items.append(Item("category", cat.slug, "unchanged", detail))
    for slug in d.preexisting_categories:
        have = existing.get(slug)
        if have is None:
            report.items.append(Item("category", slug, "error", "listed in discourse.preexisting_categories but no "
                                                                "category has this slug"))
        else:
            report.items.append(Item("category", slug, "exists", f"id {have.id} (pre-existing)"))


# -- 4. the groups logins put members in ----------------------------------------------------------
def _groups(client: DiscourseClient, settings: Settings, report: Report) -> None:
    """Every Discourse group named in sso.discourse_groups must exist before members log in:
    DiscourseConnect's add_groups only finds existing, non-automatic groups by name and skips the
    rest without a word (lib/discourse_connect.rb, apply_group_rules), so a missing group would
    silently leave members out. Groups are made with Discourse's defaults and never changed."""
    for name in sorted(set(settings.sso.discourse_groups.values())):
        have = client.group(name)
        if have is not None:
            if have.automatic:
                report.items.append(Item("group", name, "error", "an automatic group (trust levels, staff): "
                                         "DiscourseConnect cannot add members to it; name another group"))
            else:
                report.items.append(Item("group", name, "unchanged", f"id {have.id}"))
            continue
        if report.dry_run:
            report.items.append(Item("group", name, "would create"))
            continue
        try:
            group = client.create_group(name)
        except DiscourseValidationError as exc:
            report.items.append(Item("group", name, "error", f"Discourse refused it: {exc}"))
            continue
        report.items.append(Item("group", name, "created", f"id {group.id}"))


def run_setup(settings: Settings, client: DiscourseClient, *, dry_run: bool = False) -> Report:
    """Configure the forum of `settings` through `client`; with `dry_run`, only read."""
    if settings.discourse is None:
        raise LookupError(f"no discourse section in {settings.source}")
    report = Report(dry_run=dry_run)
    _site_settings(client, settings, report)
    _web_hook(client, settings, report)
    _categories(client, settings, report)
    _groups(client, settings, report)
    return report
