"""Which request parameters each Discourse controller action takes, as Rails strong parameters
see them.

Real Discourse is a Rails application: a controller reads what it `permit`s (or reads directly
from `params`), and `ActionController::Parameters#permit` silently leaves out everything else
(`action_on_unpermitted_parameters` is not set to raise in production). A client that sends an
unknown field therefore still gets its topic; the field is simply lost. The double does the
same: it keeps what the controller takes, drops the rest, and records each dropped parameter in
its violations log (kind `dropped_parameter`), so that the bridge's own tests, which assert an
empty log, still fail if the bridge sends something Discourse would throw away.

Each rule names the Discourse file (and method) it follows. The lists are the parameters the
action reads, not the ones the OpenAPI description documents: the description both misses
fields the controllers take (`visible`, `skip_validations`, `featured_link` on POST /posts,
`title` on PUT /posts/{id}) and documents some they ignore (the nested `topic` object of
PUT /t/-/{id}).

Spec values:
    SCALAR      `permit(:key)`: a string, number, boolean or null; an array or hash is dropped
    ARRAY       `permit(key: [])`: an array of scalars; anything else is dropped
    ANY         read straight from `params` (not through `permit`): kept whatever it is
    {...}       `permit(key: [...])` with sub-keys: a hash (or an array of hashes), filtered
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCALAR = "scalar"
ARRAY = "array"
ANY = "any"


@dataclass(frozen=True)
class Rule:
    source: str                  # the Discourse file and method the list follows
    keys: dict                   # name -> SCALAR | ARRAY | ANY | {sub-keys}
    api_only: dict = field(default_factory=dict)  # permitted only when `is_api?` (an Api-Key request)
    # permitted only while a site setting is on: {setting name: {key: spec}}
    when_setting: dict = field(default_factory=dict)
    # permitted by Discourse but not (yet) acted on by the double's handler: accepted, and a note says so
    not_reproduced: tuple = ()


def _scalars(*names: str) -> dict:
    return {n: SCALAR for n in names}


# lib/post_revisor.rb: PostRevisor.tracked_topic_fields (track_topic_field :title, :archetype,
# :category_id, :tags, :featured_link). PostsController#create_params and TopicsController#update
# copy each one that is present straight from params (`result[f] = params[f]`), whatever its shape.
TRACKED_TOPIC_FIELDS = {"title": ANY, "archetype": ANY, "category_id": ANY, "tags": ANY, "featured_link": ANY}

RULES: dict[str, Rule] = {
    # app/controllers/posts_controller.rb: #create_params (the permitted list, the params read
    # directly: whisper, no_bump, shared_draft, is_warning, image_sizes, meta_data,
    # topic_custom_fields, unlist_topic for WordPress; the API-only list), #create
    # (reject_too_many_tags! reads tags), #backwards_compatible_json (nested_post).
    "createTopicPostPM": Rule(
        "app/controllers/posts_controller.rb#create_params",
        {**_scalars("raw", "topic_id", "archetype", "category", "target_recipients", "reply_to_post_number",
                    "auto_track", "typing_duration_msecs", "composer_open_duration_msecs", "visible", "draft_key",
                    "composer_version", "locale"),
         **TRACKED_TOPIC_FIELDS,
         "image_sizes": ANY, "meta_data": ANY, "topic_custom_fields": ANY, "is_warning": ANY, "no_bump": ANY,
         "shared_draft": ANY, "whisper": ANY, "unlist_topic": ANY, "nested_post": ANY},
        api_only=_scalars("skip_validations", "import_mode", "embed_url", "created_at", "external_id"),
        not_reproduced=("import_mode", "image_sizes", "meta_data", "topic_custom_fields",
                        "is_warning", "no_bump", "shared_draft", "typing_duration_msecs",
                        "composer_open_duration_msecs", "draft_key", "composer_version", "locale", "nested_post"),
    ),
    # app/controllers/posts_controller.rb#update: params[:post][...] (raw, edit_reason, locale,
    # reply_to_post_number, original_text/raw_old, category_id, bypass_bump), the topic title
    # at the top level (first post only), bypass_bump at either level, image_sizes.
    "updatePost": Rule(
        "app/controllers/posts_controller.rb#update",
        {"post": _scalars("raw", "edit_reason", "locale", "reply_to_post_number", "original_text", "raw_old",
                          "category_id", "bypass_bump"),
         "title": ANY, "bypass_bump": ANY, "image_sizes": ANY},
        not_reproduced=("post.original_text", "post.raw_old", "post.locale",
                        "post.reply_to_post_number", "image_sizes"),
    ),
    # app/controllers/posts_controller.rb#destroy: force_destroy, context
    "deletePost": Rule("app/controllers/posts_controller.rb#destroy", _scalars("force_destroy", "context"),
                       not_reproduced=("context",)),
    # app/controllers/topics_controller.rb#destroy: force_destroy, context
    "removeTopic": Rule("app/controllers/topics_controller.rb#destroy", _scalars("force_destroy", "context"),
                        not_reproduced=("force_destroy", "context")),
    # app/controllers/topics_controller.rb#update: original_title, original_tags, category_id, the
    # tracked topic fields, keep_existing_draft. The documented nested `topic` hash is not read.
    "updateTopic": Rule(
        "app/controllers/topics_controller.rb#update",
        {"original_title": ANY, "original_tags": ANY, "keep_existing_draft": ANY, **TRACKED_TOPIC_FIELDS},
        not_reproduced=("original_title", "original_tags", "archetype"),
    ),
    # app/controllers/topics_controller.rb#status: require status, enabled; permit until; category_id
    "updateTopicStatus": Rule("app/controllers/topics_controller.rb#status",
                              _scalars("status", "enabled", "until", "category_id"),
                              not_reproduced=("until", "category_id")),
    # app/controllers/post_actions_controller.rb#create (and #fetch_post_from_params): id,
    # post_action_type_id, flag_topic, message, is_warning, take_action, queue_for_review
    "performPostAction": Rule("app/controllers/post_actions_controller.rb#create",
                              _scalars("id", "post_action_type_id", "flag_topic", "message", "is_warning",
                                       "take_action", "queue_for_review"),
                              not_reproduced=("message", "is_warning", "take_action", "queue_for_review")),
    # app/controllers/groups_controller.rb#add_members: usernames, user_ids, user_emails (emails),
    # notify_users
    "addGroupMembers": Rule("app/controllers/groups_controller.rb#add_members",
                            _scalars("usernames", "user_ids", "user_emails", "emails", "notify_users"),
                            not_reproduced=("user_ids", "user_emails", "emails", "notify_users")),
    # app/controllers/groups_controller.rb#remove_member: user_id, user_ids, usernames, user_emails
    "removeGroupMembers": Rule("app/controllers/groups_controller.rb#remove_member",
                               _scalars("user_id", "user_ids", "usernames", "user_emails"),
                               not_reproduced=("user_id", "user_ids", "user_emails")),
    # app/controllers/admin/users_controller.rb#suspend hands its params to User::Suspend, whose
    # contract (app/services/user/suspend.rb) has user_id (the path), reason, message,
    # suspend_until, other_user_ids, post_id, post_action, post_edit.
    "suspendUser": Rule("app/controllers/admin/users_controller.rb#suspend, app/services/user/suspend.rb",
                        {**_scalars("suspend_until", "reason", "message", "post_id", "post_action", "post_edit"),
                         "other_user_ids": ARRAY},
                        not_reproduced=("message", "post_id", "post_action", "post_edit", "other_user_ids")),
    # app/controllers/admin/users_controller.rb#log_out: no parameters besides the path's id
    "logOutUser": Rule("app/controllers/admin/users_controller.rb#log_out", {}),
    # app/controllers/admin/groups_controller.rb#create: params.require(:group).permit(group_params).
    # `custom_fields` is permitted only with the keys plugins register
    # (DiscoursePluginRegistry.editable_group_custom_fields: none on a plain forum) and
    # `associated_group_ids` only when Guardian#can_associate_groups? (an associated-groups
    # authenticator is enabled): both dropped here. `notify_users` is in the list (add_owners
    # reads it). The category and tag notification lists and allow_unknown_sender_topic_replies
    # follow the newer releases' group_params (GroupsController's, which admin create shares).
    "createGroup": Rule(
        "app/controllers/admin/groups_controller.rb#group_params",
        {"group": {**_scalars("name", "mentionable_level", "messageable_level", "visibility_level",
                              "members_visibility_level", "automatic_membership_email_domains", "title",
                              "primary_group", "grant_trust_level", "incoming_email", "flair_icon",
                              "flair_upload_id", "flair_bg_color", "flair_color", "bio_raw", "public_admission",
                              "public_exit", "allow_membership_requests", "full_name",
                              "default_notification_level", "membership_request_template", "owner_usernames",
                              "usernames", "publish_read_state", "notify_users",
                              "allow_unknown_sender_topic_replies"),
                   **{k: ARRAY for k in ("muted_category_ids", "regular_category_ids", "tracking_category_ids",
                                         "watching_category_ids", "watching_first_post_category_ids",
                                         "muted_tags", "regular_tags", "tracking_tags", "watching_tags",
                                         "watching_first_post_tags")}}},
        not_reproduced=("group.*",),
    ),
}

# app/controllers/categories_controller.rb#category_params: params.permit(...) at the top level
# (the category's fields are not nested under `category`). category_setting_attributes takes its
# four keys only; required_tag_groups is a list of {name, min_count} (anything else that survives
# the permit is Discourse::InvalidParameters, categories.py); moderating_group_ids only while
# enable_category_group_moderation is on. style_type, emoji, icon, locale and
# category_localizations are from releases newer than the stored source.
_CATEGORY = Rule(
    "app/controllers/categories_controller.rb#category_params",
    {**_scalars("name", "color", "text_color", "style_type", "emoji", "icon", "position", "email_in",
                "email_in_allow_strangers", "mailinglist_mirror", "all_topics_wiki",
                "allow_unlimited_owner_edits_on_first_post", "default_slow_mode_seconds", "parent_category_id",
                "auto_close_hours", "auto_close_based_on_last_post", "uploaded_logo_id", "uploaded_logo_dark_id",
                "uploaded_background_id", "uploaded_background_dark_id", "slug", "allow_badges", "topic_template",
                "sort_order", "sort_ascending", "topic_featured_link_allowed", "show_subcategory_list",
                "num_featured_topics", "default_view", "subcategory_list_style", "default_top_period",
                "minimum_required_tags", "navigate_to_first_post_after_read", "search_priority",
                "allow_global_tags", "read_only_banner", "default_list_filter", "locale"),
     "custom_fields": ANY, "permissions": ANY,
     "category_setting_attributes": _scalars("auto_bump_cooldown_days", "num_auto_bump_daily",
                                             "require_reply_approval", "require_topic_approval"),
     "allowed_tags": ARRAY, "allowed_tag_groups": ARRAY, "required_tag_groups": _scalars("name", "min_count"),
     "form_template_ids": ARRAY, "category_localizations": ANY},
    when_setting={"enable_category_group_moderation": {"moderating_group_ids": ARRAY}},
    not_reproduced=("*",),
)
RULES["createCategory"] = _CATEGORY
RULES["updateCategory"] = _CATEGORY

# Routes the double serves outside the description (app.special), by a name of the double's own.
ROUTE_RULES: dict[str, Rule] = {
    # app/controllers/admin/users_controller.rb#sync_sso: params[:sso], params[:sig]
    "sync_sso": Rule("app/controllers/admin/users_controller.rb#sync_sso", _scalars("sso", "sig")),
    # app/controllers/admin/web_hooks_controller.rb#web_hook_params
    "web_hook": Rule(
        "app/controllers/admin/web_hooks_controller.rb#web_hook_params",
        {"web_hook": {**_scalars("payload_url", "content_type", "secret", "wildcard_web_hook", "active",
                                 "verify_certificate"),
                      **{k: ARRAY for k in ("web_hook_event_type_ids", "group_ids", "tag_names", "category_ids")}}},
    ),
    # app/controllers/admin/web_hooks_controller.rb#ping, #destroy: the path's id only
    "web_hook_no_body": Rule("app/controllers/admin/web_hooks_controller.rb", {}),
    # app/controllers/admin/api_controller.rb#create_key: key[description], key[username], key[scopes]
    "api_key": Rule("app/controllers/admin/api_controller.rb#create_key",
                    {"key": {"description": SCALAR, "username": SCALAR, "scopes": ANY}}),
}


def site_setting_rule(name: str) -> Rule:
    """app/controllers/admin/site_settings_controller.rb#update: the value is params[id] (the
    setting's own name); update_existing_user is the only other parameter it reads."""
    return Rule("app/controllers/admin/site_settings_controller.rb#update", {name: ANY, "update_existing_user": ANY})


# -- Rails' permit --------------------------------------------------------------------------
def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def permit(keys: dict, params: Any, prefix: str = "") -> tuple[dict, list[str]]:
    """Filter `params` like `ActionController::Parameters#permit(keys)`: (kept, dropped names).

    A dropped name is dotted (`post.foo`, `web_hook.bar`)."""
    if not isinstance(params, dict):
        return {}, []
    kept: dict = {}
    dropped: list[str] = []
    for name, value in params.items():
        spec = keys.get(name)
        path = f"{prefix}{name}"
        if spec is None:
            dropped.append(path)
        elif spec == ANY:
            kept[name] = value
        elif spec == SCALAR:
            if _scalar(value):
                kept[name] = value
            else:
                dropped.append(path)
        elif spec == ARRAY:
            if isinstance(value, list) and all(_scalar(v) for v in value):
                kept[name] = value
            else:
                dropped.append(path)
        elif isinstance(spec, dict):
            if isinstance(value, dict):
                kept[name], sub = permit(spec, value, path + ".")
                dropped += sub
            elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
                out = []
                for i, v in enumerate(value):
                    k, sub = permit(spec, v, f"{path}.{i}.")
                    out.append(k)
                    dropped += sub
                kept[name] = out
            else:
                dropped.append(path)
    return kept, dropped


def apply(rule: Rule, params: Any, *, api: bool, setting=None) -> tuple[Any, list[str]]:
    """The params the controller action takes (for an API request or not; `setting` reads a site
    setting, for the keys permitted only while one is on), and the dropped names."""
    if not isinstance(params, dict):
        return params, []
    keys = {**rule.keys, **(rule.api_only if api else {})}
    for name, extra in rule.when_setting.items():
        if setting is not None and setting(name):
            keys.update(extra)
    return permit(keys, params)


def unreproduced(rule: Rule, kept: Any) -> list[str]:
    """Names of kept parameters the double's handler does not act on (for a note)."""
    if not isinstance(kept, dict) or not rule.not_reproduced:
        return []
    out = []
    for name in rule.not_reproduced:
        if name == "*":
            return []  # the handler reads the fields it knows; not listed one by one
        head, _, sub = name.partition(".")
        if head not in kept:
            continue
        if not sub or sub == "*":
            out.append(name if not sub else head)
        elif isinstance(kept[head], dict) and sub in kept[head]:
            out.append(name)
    return out


# -- Discourse's own casts of form-style values --------------------------------------------------
def _to_s(value: Any) -> str:
    """Ruby's `to_s` of a params value: nil is "", true/false are "true"/"false"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def munge_create(params: dict, *, api: bool) -> dict:
    """PostsController#create_params' param munging (app/controllers/posts_controller.rb):
    when given (anything but nil/false, as Ruby's `if`), `auto_track` becomes true unless it is
    exactly "false" ("param munging for WordPress"), and `unlist_topic` sets `visible` to whether
    it is "false"; for API requests `skip_validations` and `import_mode` are true only for "true"
    (the comment there: PHP sends these oddly). lib/topic_creator.rb#setup_topic_params then
    takes `visible` (nil: true), which ActiveRecord casts like ActiveModel::Type::Boolean."""
    out = dict(params)
    if out.get("category") == "":
        # lib/topic_creator.rb#find_category: a blank category finds none (the topic is
        # uncategorized); wp-discourse sends "" when no publish category is set
        del out["category"]
    if out.get("auto_track") not in (None, False):
        out["auto_track"] = _to_s(out["auto_track"]) != "false"
    if out.get("unlist_topic") not in (None, False):
        out["visible"] = _to_s(out["unlist_topic"]) == "false"
    if api:
        for k in ("skip_validations", "import_mode"):
            if k in out:  # absent is the same as false
                out[k] = _to_s(out[k]) == "true"
    return out


_FALSE = {"", "0", "f", "false", "off", "F", "FALSE", "OFF"}


def cast_boolean(value: Any) -> bool | None:
    """ActiveModel::Type::Boolean#cast: nil and "" are nil; "0", "f", "false", "off" (any case)
    are false; everything else is true."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() not in {v.lower() for v in _FALSE}
