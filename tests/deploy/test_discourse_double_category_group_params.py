"""The parameters the double's category and group endpoints take, checked against Discourse's
app/controllers/categories_controller.rb (category_params, required_create_params) and
app/controllers/admin/groups_controller.rb (group_params): what they permit is kept, the rest
dropped as Rails strong parameters drop it (a `dropped_parameter` violation). Both version
profiles behave the same."""

from __future__ import annotations


def dropped(forum) -> list[tuple[str, str]]:
    return [(v["route"], v["param"]) for v in forum.violations() if v["kind"] == "dropped_parameter"]


def create_category(forum, **fields):
    return forum.request("POST", "/categories.json", json={"name": "Parameters", **fields})


def test_category_settings_take_their_four_keys(profile_forum):
    # category_params: category_setting_attributes: %i[auto_bump_cooldown_days num_auto_bump_daily
    # require_reply_approval require_topic_approval]
    forum = profile_forum
    r = create_category(forum, category_setting_attributes={"num_auto_bump_daily": 2, "require_topic_approval": True,
                                                            "auto_close_everything": True})
    assert r.status_code == 200, r.text
    assert dropped(forum) == [("POST /categories.json", "category_setting_attributes.auto_close_everything")]


def test_required_tag_groups_are_a_list_of_name_and_min_count(profile_forum):
    # category_params: required_tag_groups: %i[name min_count]; not a list -> InvalidParameters
    forum = profile_forum
    r = create_category(forum, required_tag_groups=[{"name": "kinds", "min_count": 1, "colour": "red"}])
    assert r.status_code == 200, r.text
    assert dropped(forum) == [("POST /categories.json", "required_tag_groups.0.colour")]
    cid = r.json()["category"]["id"]
    r = forum.request("PUT", f"/categories/{cid}.json", json={"name": "Parameters",
                                                             "required_tag_groups": {"name": "kinds", "min_count": 1}})
    assert r.status_code == 400


def test_moderating_groups_need_category_group_moderation(profile_forum):
    # category_params: { moderating_group_ids: [] } only if SiteSetting.enable_category_group_moderation?
    forum = profile_forum
    assert create_category(forum, name="Moderated later", moderating_group_ids=[41]).status_code == 200
    assert dropped(forum) == [("POST /categories.json", "moderating_group_ids")]
    forum.clear_violations()
    forum.set_site_settings(enable_category_group_moderation=True)
    assert create_category(forum, name="Moderated now", moderating_group_ids=[41]).status_code == 200
    assert dropped(forum) == []


def test_a_new_category_needs_a_name(profile_forum):
    # CategoriesController#create: required_create_params, params.require(:name): blank is missing
    forum = profile_forum
    r = forum.request("POST", "/categories.json", json={"name": "   ", "color": "0088CC"})
    assert r.status_code == 400
    assert r.json()["errors"][0] == "param is missing or the value is empty: name"


def test_group_custom_fields_are_dropped_without_a_plugin(profile_forum):
    # Admin::GroupsController#group_params: custom_fields only with the keys plugins register
    # (DiscoursePluginRegistry.editable_group_custom_fields); notify_users is in the list
    forum = profile_forum
    r = forum.request("POST", "/admin/groups.json", json={"group": {"name": "params-team", "notify_users": "true",
                                                                    "custom_fields": {"room": "B"}}})
    assert r.status_code == 200, r.text
    assert dropped(forum) == [("POST /admin/groups.json", "group.custom_fields")]
