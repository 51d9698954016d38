"""The operations of Discourse's OpenAPI description the double implements, by operationId.

app.py looks the operation up here after matching, authenticating and checking the request; each
handler lives in the module named for its Discourse controller (posts.py, topics.py, ...), and
answers (status, body) or a Flask response. The level says who may call it, as the controller's
`before_action`s (ensure_logged_in, ensure_staff) decide, before the handler runs.
"""

from __future__ import annotations

from . import categories, groups_tags, post_actions, posts, site, topics, users

# operationId -> (handler, who may call: "public", "user" or "staff")
HANDLERS = {
    "createTopicPostPM": (posts.create_post, "user"),
    "getPost": (posts.get_post, "public"),
    "listPosts": (posts.list_posts, "public"),
    "updatePost": (posts.update_post, "user"),
    "deletePost": (posts.delete_post, "user"),
    "performPostAction": (post_actions.perform_post_action, "user"),
    "getTopic": (topics.get_topic, "public"),
    "getTopicByExternalId": (topics.topic_by_external_id, "public"),
    "removeTopic": (topics.remove_topic, "user"),
    "updateTopic": (topics.update_topic, "user"),
    "updateTopicStatus": (topics.update_topic_status, "user"),
    "listLatestTopics": (topics.list_latest, "public"),
    "listCategoryTopics": (topics.list_category_topics, "public"),
    "createCategory": (categories.create_category, "user"),
    "listCategories": (categories.list_categories, "public"),
    "updateCategory": (categories.update_category, "user"),
    "getCategory": (categories.get_category, "public"),
    "createGroup": (groups_tags.create_group, "staff"),
    "listTags": (groups_tags.list_tags, "public"),
    "getUser": (users.get_user, "public"),
    "getUserExternalId": (users.get_user_by_external_id, "staff"),
    "adminGetUser": (users.admin_get_user, "staff"),
    "logOutUser": (users.log_out_user, "staff"),
    "suspendUser": (users.suspend_user, "staff"),
    "getSpecificPostsFromTopic": (topics.topic_posts, "public"),
    "getGroup": (groups_tags.get_group, "public"),
    "getSite": (site.get_site, "public"),
    "adminListUsersFlag": (users.admin_list_users, "staff"),
    "search": (site.search, "public"),
    "addGroupMembers": (groups_tags.add_group_members, "staff"),
    "removeGroupMembers": (groups_tags.remove_group_members, "staff"),
}
