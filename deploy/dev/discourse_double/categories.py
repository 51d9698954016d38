"""CategoriesController: create, update, index and show.

app/controllers/categories_controller.rb, app/models/category.rb (ensure_slug,
resolve_permissions, create_category_definition).
"""

from __future__ import annotations

from . import errors
from .context import Ctx
from .errors import MSG, json_error
from .guardian import can_see_category, is_staff, require_staff
from .records import insert_post, insert_topic
from .serializers import category_json
from .store import SYSTEM_USER_ID, slugify


# server.en.yml category.replace_paragraph + category.post_template
CATEGORY_POST_TEMPLATE = (
    "(Replace this first paragraph with a brief description of your new category. This guidance will appear "
    "in the category selection area, so try to keep it below 200 characters.)\n\nUse the following paragraphs "
    "for a longer description, or to establish category guidelines or rules:\n\n- Why should people use this "
    "category? What is it for?\n\n- How exactly is this different than the other categories we already have?"
    "\n\n- What should topics in this category generally contain?\n\n- Do we need this category? Can we "
    "merge with another category, or subcategory?\n")


def create_category(ctx: Ctx):
    require_staff(ctx)
    store, body = ctx.store, ctx.body or {}
    name = (body.get("name") or "").strip()
    if not name:
        # CategoriesController#create: required_create_params, params.require(:name) (blank too)
        return json_error(MSG["param_missing"] % "name", 400, "invalid_parameters")
    if _bad_required_tag_groups(body):
        return errors.invalid_parameters("required_tag_groups")
    parent_id = body.get("parent_category_id")
    with store.lock:
        if parent_id is not None and store.category(parent_id) is None:
            return errors.invalid_parameters("parent_category_id")
        for c in store.data["categories"].values():
            if c["name"].lower() == name.lower() and c.get("parent_category_id") == parent_id:
                return json_error("Category Name has already been taken", 422)
        # Category#ensure_slug: a duplicate slug given is an error; one made from the name is blanked
        slug = body.get("slug") or slugify(name)
        if not body.get("slug") and any(c["slug"] == slug and c.get("parent_category_id") == parent_id
                                        for c in store.data["categories"].values()):
            slug = ""
        elif any(c["slug"] == slug and c.get("parent_category_id") == parent_id for c in store.data["categories"].values()):
            return json_error("Slug is already in use", 422)
        cat = store.add_category(name, slug, body.get("color") or "0088CC", body.get("text_color") or "FFFFFF", parent_id)
        if isinstance(body.get("permissions"), dict):
            _set_permissions(cat, body["permissions"])
        # Category#create_category_definition: an "About the ... category" topic
        system = store.user(SYSTEM_USER_ID)
        t = insert_topic(store, system, f"About the {name} category", cat["id"], None, None, pinned=True)
        t["category_definition"] = True
        insert_post(store, t, system, CATEGORY_POST_TEMPLATE, None, None)
        cat["topic_id"] = t["id"]
        store.touch()
        ctx.hooks.emit("category", "category_created", lambda: category_json(store, cat))
        return 200, {"category": category_json(store, cat)}


def _bad_required_tag_groups(body: dict) -> bool:
    # CategoriesController#category_params: a required_tag_groups that is not a list after the
    # permit (a single {name, min_count} hash) is Discourse::InvalidParameters
    return "required_tag_groups" in body and not isinstance(body["required_tag_groups"], list)


def _set_permissions(cat: dict, permissions: dict) -> None:
    # app/models/category.rb, Category.resolve_permissions: read-restricted unless the group
    # `everyone` has a permission (full for everyone means no restriction at all)
    cat["permissions"] = dict(permissions)
    cat["read_restricted"] = "everyone" not in permissions


def update_category(ctx: Ctx):
    """app/controllers/categories_controller.rb#update: name, slug, colours, parent and
    permissions; a category_updated web hook (config/initializers/012-web_hook_events.rb)."""
    require_staff(ctx)
    store, body = ctx.store, ctx.body or {}
    with store.lock:
        cat = store.category(ctx.path["id"])
        if cat is None:
            return errors.not_found()
        if _bad_required_tag_groups(body):
            return errors.invalid_parameters("required_tag_groups")
        for key in ("name", "slug", "color", "text_color"):
            if body.get(key):
                cat[key] = body[key].strip() if key == "name" else body[key]
        if "parent_category_id" in body:
            if body["parent_category_id"] is not None and store.category(body["parent_category_id"]) is None:
                return errors.invalid_parameters("parent_category_id")
            cat["parent_category_id"] = body["parent_category_id"]
        if isinstance(body.get("permissions"), dict):
            _set_permissions(cat, body["permissions"])
        store.touch()
        ctx.hooks.emit("category", "category_updated", lambda: category_json(store, cat))
        return 200, {"success": "OK", "category": category_json(store, cat)}


def list_categories(ctx: Ctx):
    store = ctx.store
    with store.lock:
        cats = sorted((c for c in store.data["categories"].values() if can_see_category(ctx, c)),
                      key=lambda c: (c["position"], c["id"]))
        if ctx.query.get("include_subcategories") is not True:
            cats = [c for c in cats if c.get("parent_category_id") is None]
        out = []
        for c in cats:
            j = category_json(store, c)
            if ctx.query.get("include_subcategories") is True:
                j["subcategory_list"] = [category_json(store, s) for s in store.data["categories"].values()
                                         if s.get("parent_category_id") == c["id"] and can_see_category(ctx, s)]
            out.append(j)
    return 200, {"category_list": {"can_create_category": is_staff(ctx.user), "can_create_topic": bool(ctx.user),
                                   "categories": out}}


def get_category(ctx: Ctx):
    cat = ctx.store.category(ctx.path["id"])
    if cat is None or not can_see_category(ctx, cat):
        return errors.not_found()
    return 200, {"category": category_json(ctx.store, cat)}
