"""Version profiles: which Discourse the double behaves like.

Discourse changes behaviour between releases in ways a client notices (an error text, a status,
what a controller accepts). The double reproduces two of them, chosen with `--profile` on its
command line (or `"profile"` in its --config file; default `main-2026`):

- `stable-2025`: a 2025 stable release, before Discourse PRs #42024 and #41871;
- `main-2026`: Discourse's main branch in 2026, after them.

Each switch below names the Discourse file (and PR) it follows. Behaviour that is the same in
both releases is not a switch: it is simply reproduced (see FIDELITY.md).

The rules read the active profile from the store (`profiles.of(store)`), which `__main__.py`
sets when it builds the app, so that app.py needs no change; `GET /__double__/health` reports it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

DEFAULT = "main-2026"
ENV = "DISCOURSE_DOUBLE_PROFILE"


@dataclass(frozen=True)
class Profile:
    name: str
    # app/controllers/admin/users_controller.rb#sync_sso: before PR #42024 the action rebuilds
    # "sso=#{params[:sso]}&sig=#{params[:sig]}" and hands it to DiscourseConnect.parse
    # (lib/discourse_connect_base.rb: Rack::Utils.parse_query), so a "+" of the Base64 payload is
    # read as a space, the payload no longer looks like Base64 (PayloadParseError) and the call
    # answers 422 {"failed": "FAILED", "message": "Login Error"}; after it, the params are used as
    # they are and a "+" survives.
    sync_sso_reparses_query: bool
    # app/models/topic.rb title uniqueness: before PR #41871 the error is the generic
    # "has_already_been_used" ("Title has already been used") controlled by the boolean site
    # setting allow_duplicate_topic_titles; after it the message says which topic holds the title
    # ("This title has already been used by <a ...>another topic</a>") and the site setting is
    # `duplicate_topic_titles`.
    duplicate_title_names_topic: bool
    # app/models/web_hook_event_type.rb, WebHookEventType::TYPES: the 2025 releases still list the
    # flag_* event types (flag_created, flag_agreed, flag_disagreed, flag_deferred); main has only
    # the reviewable ones, so one flag emits reviewable_created alone.
    web_hook_flag_events: bool

    def hidden_settings(self) -> set[str]:
        """Site settings this release does not list: before PR #41871 `duplicate_topic_titles`
        does not exist (PUT answers 422); after it the two old booleans are hidden deprecated
        aliases (still settable, mapped onto the enum)."""
        if self.duplicate_title_names_topic:
            return {"allow_duplicate_topic_titles", "allow_duplicate_topic_titles_category"}
        return {"duplicate_topic_titles"}

    def unknown_settings(self) -> set[str]:
        return set() if self.duplicate_title_names_topic else {"duplicate_topic_titles"}

    def as_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


STABLE_2025 = Profile(name="stable-2025", sync_sso_reparses_query=True, duplicate_title_names_topic=False,
                      web_hook_flag_events=True)
MAIN_2026 = Profile(name="main-2026", sync_sso_reparses_query=False, duplicate_title_names_topic=True,
                    web_hook_flag_events=False)
PROFILES = {p.name: p for p in (STABLE_2025, MAIN_2026)}


def get(name: str | None) -> Profile:
    """The profile called `name` (None: $DISCOURSE_DOUBLE_PROFILE, else the default); an unknown
    name is an error, so a typo never silently tests the wrong Discourse."""
    name = name or os.environ.get(ENV) or DEFAULT
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown Discourse profile {name!r}; known: {', '.join(PROFILES)}") from None


def of(store) -> Profile:
    """The active profile of a double's store (the default until __main__ sets one)."""
    return getattr(store, "profile", None) or get(None)
