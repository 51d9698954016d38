"""Contract: every request the Discourse client can send is an operation of Discourse's official
OpenAPI description, or one of the few admin endpoints the description lacks, reproduced from a
named Discourse source file. The client's one request function refuses anything else, and every
listed route is exercised here against the Discourse double, which checks each request against
the same description."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pydiscourse
import pytest

import bridge.clients.discourse.transport as discourse_transport
from bridge.clients.discourse import OPENAPI, ROUTES, DiscourseClient, Pacer, UnlistedRoute, route_for
from bridge.clients.discourse.pydiscourse_adapter import PyDiscourse

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests"))  # `doubles`
sys.path.insert(0, str(REPO / "deploy" / "dev"))  # `discourse_double`, for its way of finding the description
from discourse_double.spec import find_spec_path  # noqa: E402
from doubles.discourse import DiscourseDouble  # noqa: E402

#: The endpoints the description does not cover, with the Discourse source they follow.
#: A new one must be added here (and to the client's ROUTES with the same source) deliberately.
SOURCE_REPRODUCED = {
    "sync_sso": "app/controllers/admin/users_controller.rb",
    "list_site_settings": "app/controllers/admin/site_settings_controller.rb",
    "update_site_setting": "app/controllers/admin/site_settings_controller.rb",
    "list_web_hooks": "app/controllers/admin/web_hooks_controller.rb",
    "create_web_hook": "app/controllers/admin/web_hooks_controller.rb",
    "update_web_hook": "app/controllers/admin/web_hooks_controller.rb",
}


@pytest.fixture(scope="module")
def spec() -> dict:
    # CI has the description at <clone>/../shared/discourse/openapi.json: found as the double finds it.
    return json.loads(find_spec_path().read_text())


def test_every_route_is_documented_or_a_cited_source_reproduced_endpoint(spec):
    paths = spec["paths"]
    for name, route in ROUTES.items():
        if route.source == OPENAPI:
            assert name not in SOURCE_REPRODUCED, name
            assert route.template in paths, f"{name}: {route.template} is not in the API description"
            op = paths[route.template].get(route.method.lower())
            assert op is not None, f"{name}: {route.method} is not documented for {route.template}"
        else:
            assert SOURCE_REPRODUCED.get(name) == route.source.split("#")[0], name
            assert re.fullmatch(r"app/controllers/admin/\w+\.rb#\w+", route.source), route.source
            # really missing from the description (else it must be checked against it)
            assert route.method.lower() not in paths.get(route.template, {}), name
    assert set(SOURCE_REPRODUCED) <= set(ROUTES)


def test_source_reproduced_endpoints_follow_the_same_source_as_the_double():
    double_admin = (REPO / "deploy" / "dev" / "discourse_double" / "admin.py").read_text()
    for name, source in SOURCE_REPRODUCED.items():
        assert source in double_admin, f"{name}: the double does not reproduce {source}"


def test_routes_match_only_their_own_paths():
    for name, route in ROUTES.items():
        sample = re.sub(r"\{[^}]+\}", "12", route.template)
        assert route_for(route.method, sample) == name
    for method, path in [("GET", "/top.json"), ("GET", "/users/by-external/x.json"),  # a Rails alias
                         ("GET", "/t/some-slug/12.json"), ("DELETE", "/t/12.json"), ("POST", "/admin/api/keys.json"),
                         ("GET", "/posts/12/replies.json"), ("PUT", "/posts.json")]:
        with pytest.raises(UnlistedRoute):
            route_for(method, path)


def test_the_client_has_one_transport():
    # every pydiscourse method ends in _request, which the bridge's subclass replaces
    assert PyDiscourse._request is not pydiscourse.DiscourseClient._request
    for name in ("_get", "_put", "_post", "_delete"):
        assert name not in vars(PyDiscourse), name


def test_every_listed_route_is_used_and_accepted_by_the_double(monkeypatch):
    used: list[str] = []
    real = discourse_transport.route_for

    def recording(method, path):
        name = real(method, path)
        used.append(name)
        return name

    monkeypatch.setattr(discourse_transport, "route_for", recording)
    with DiscourseDouble() as forum:
        with DiscourseClient(forum.url, forum.api_key, connect_secret="contract-connect-secret",
                             pacer=Pacer(100000)) as client:
            client.whoami()
            client.create_category("Contract", slug="contract")
            post = client.create_topic("A topic for the contract test", "A first post long enough for Discourse.",
                                       category="contract", tags=["contract"], external_id="contract-1",
                                       embed_url="https://space.example/contract")
            client.get_topic_by_external_id("contract-1")
            client.update_first_post(post.topic_id, "The first post, edited for the contract.")
            client.update_topic(post.topic_id, title="A topic for the contract test, renamed", category=1)
            client.set_visible(post.topic_id, False)
            client.create_reply(post.topic_id, "A reply that is long enough for Discourse.")
            client.get_post(post.id)
            client.topic_posts(post.topic_id, [post.id])
            client.latest_topics()
            client.set_site_setting("discourse_connect_url", "http://127.0.0.1:9/sso")
            client.set_site_setting("discourse_connect_secret", "contract-connect-secret")
            client.set_site_setting("enable_discourse_connect", True)
            client.site_settings()
            user = client.sync_sso("contract-user", "contract@example.org", username="contract")
            client.user_by_external_id("contract-user")
            client.log_out_user(user.id)
            client.suspend_user(user.id, datetime.now(timezone.utc) + timedelta(days=1), "contract test")
            types = {t.name: t.id for t in client.web_hooks().event_types}
            hook = client.create_web_hook("http://127.0.0.1:9/webhooks/discourse", secret="contract-hook-secret",
                                          event_type_ids=[types["post_created"]])
            client.update_web_hook(hook.id, active=False)
            assert client.group("contract-group") is None
            group = client.create_group("contract-group", full_name="Contract group")
            assert client.group("contract-group") == group
        assert forum.violations() == []
        notes = forum.notes()
        # the client sends documented paths, never Rails aliases, and nothing the double lacks
        assert [n for n in notes if n["kind"] in ("route_alias", "not_implemented")] == []
    assert set(used) == set(ROUTES), f"listed but not exercised: {sorted(set(ROUTES) - set(used))}"
