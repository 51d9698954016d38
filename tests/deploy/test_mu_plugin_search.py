"""The blog's search forms send to the bridge's /search when SPACE_BRIDGE_SEARCH_URL is set
(deploy/wordpress/space-bridge-search.php), and are WordPress's own when it is not.

Against the real WordPress of the local stack and its theme (Twenty Twenty-Three, a block theme:
its search form is the Search block, on a search that found nothing and on the 404 page); the classic
get_search_form() is read through WordPress itself (php, wp-load.php), as classic themes and
widgets call it. A form is "submitted" as a browser would: its action and named fields.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sso"))  # wp_helpers
from wp_helpers import sso_override  # noqa: E402

pytestmark = pytest.mark.stack

BRIDGE_SEARCH = "https://bridge.example.org/search"
WP_ROOT = "/usr/share/wordpress"


class Forms(HTMLParser):
    """The search forms of a page: role, method, action, class, and the fields a browser sends."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._open: dict | None = None
        self._label_for: set[str] = set()
        self._in_label = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("role") == "search":
            self._open = {"action": a.get("action"), "method": (a.get("method") or "get").lower(),
                          "class": a.get("class") or "", "fields": {}, "search_field": None, "labelled": False}
            self.forms.append(self._open)
        elif self._open is not None and tag == "label":
            self._in_label = True
            if a.get("for"):
                self._label_for.add(a["for"])
        elif self._open is not None and tag == "input" and a.get("name"):
            if a.get("type") in ("search", "text"):
                self._open["search_field"] = a["name"]
                self._open["labelled"] = self._in_label or a.get("id") in self._label_for or bool(a.get("aria-label"))
            if a.get("type") != "submit":
                self._open["fields"][a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "label":
            self._in_label = False
        elif tag == "form":
            self._open = None


def search_forms(html: str) -> list[dict]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


def submit(form: dict, text: str) -> str:
    """The address a browser GETs when a reader types `text` and presses Search: the action's
    own query is replaced by the form's fields (HTML, "mutate action URL")."""
    fields = {**form["fields"], form["search_field"]: text}
    return f"{form['action'].partition('?')[0]}?{urlencode(fields)}"


@pytest.fixture(scope="module")
def wp(stack) -> dict:
    return stack["wordpress"]


def pages(wp: dict) -> dict[str, str]:
    """The theme's pages that show a search form: Twenty Twenty-Three (6.1's Debian package) has
    it on a search that found nothing (pattern hidden-no-results) and on the 404 page
    (hidden-404); its front page has none."""
    out = {}
    for name, path in (("search results", f"/?s=nothing-like-{uuid.uuid4().hex}"), ("not found", "/no-such-page-of-the-blog/")):
        r = requests.get(wp["url"] + path, timeout=30)
        assert r.status_code in (200, 404), (path, r.status_code)
        out[name] = r.text
    return out


def classic_form(extra: str = "") -> str:
    """get_search_form() of the stack's WordPress, as a classic theme or a widget calls it."""
    code = ("define('WP_USE_THEMES', false); $_SERVER['HTTP_HOST']='127.0.0.1'; "
            f"require '{WP_ROOT}/wp-load.php'; {extra} "
            "echo json_encode(get_search_form(array('echo' => false, 'aria_label' => 'Blog')));")
    out = subprocess.run(["php", "-r", code], capture_output=True, text=True, timeout=60, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_with_the_constant_the_themes_forms_send_the_query_to_the_bridge(wp):
    with sso_override({"SPACE_BRIDGE_SEARCH_URL": BRIDGE_SEARCH}):
        for name, html in pages(wp).items():
            forms = search_forms(html)
            assert forms, f"no search form on the {name} page"
            for form in forms:
                assert form["action"] == BRIDGE_SEARCH and form["method"] == "get", name
                assert "wp-block-search" in form["class"], "the block's own classes (the theme styles them)"
                assert form["labelled"], "the search field has a label"
                url = urlsplit(submit(form, "wikis & chat"))
                assert f"{url.scheme}://{url.netloc}{url.path}" == BRIDGE_SEARCH
                assert parse_qs(url.query) == {"q": ["wikis & chat"], "uselang": ["en"]}, name


def test_the_blog_scope_starts_the_search_in_the_blog(wp):
    with sso_override({"SPACE_BRIDGE_SEARCH_URL": BRIDGE_SEARCH, "SPACE_BRIDGE_SEARCH_SCOPE": "blog"}):
        form = search_forms(pages(wp)["search results"])[0]
    assert parse_qs(urlsplit(submit(form, "tags:wiki")).query) == {"q": ["tags:wiki"], "uselang": ["en"], "in": ["blog"]}


def test_without_the_constant_the_forms_are_wordpresss_own_and_find_the_blogs_posts(wp):
    with sso_override({"SPACE_BRIDGE_SEARCH_URL": ""}):
        html = pages(wp)
    for name, page in html.items():
        forms = search_forms(page)
        assert forms and all(f["action"] == wp["url"] + "/" and set(f["fields"]) == {"s"} for f in forms), name
    # and that form works: WordPress's own search results page answers it, with the query
    r = requests.get(submit(search_forms(html["search results"])[0], "Hello bridge zzz"), timeout=30)
    assert r.status_code == 200 and "Hello bridge zzz" in r.text and search_forms(r.text)[0]["action"] == wp["url"] + "/"


def test_an_address_that_is_not_http_leaves_wordpresss_search(wp):
    with sso_override({"SPACE_BRIDGE_SEARCH_URL": "javascript:alert(1)"}):
        forms = search_forms(pages(wp)["not found"])
    assert [f["action"] for f in forms] == [wp["url"] + "/"]


def test_the_addresss_own_parameters_are_sent_and_escaped(wp):
    """A browser drops the query of a GET form's action: the address's parameters become fields,
    escaped like everything else put in the page."""
    hostile = BRIDGE_SEARCH + '?site=news&x="><script>alert(1)</script>'
    with sso_override({"SPACE_BRIDGE_SEARCH_URL": hostile}):
        html = pages(wp)["search results"]
        classic = classic_form()
    for page in (html, classic):
        assert "<script>alert(1)" not in page
        form = search_forms(page)[0]
        assert form["action"] == BRIDGE_SEARCH
        assert parse_qs(urlsplit(submit(form, "x")).query) == {
            "q": ["x"], "site": ["news"], "x": ['"><script>alert(1)</script>'], "uselang": ["en"]}


def test_classic_get_search_form_keeps_cores_markup_and_sends_to_the_bridge():
    with sso_override({"SPACE_BRIDGE_SEARCH_URL": BRIDGE_SEARCH}):
        html5 = classic_form()
        xhtml = classic_form("add_filter('search_form_format', function () { return 'xhtml'; });")
    core = classic_form()  # unconfigured: core's own form, unchanged
    # the same classes as core's form, so the theme styles it
    for ours, classes in ((html5, ['class="search-form"', 'class="search-field"', 'class="search-submit"',
                                   'class="screen-reader-text"']),
                          (xhtml, ['id="searchform"', 'class="searchform"', 'id="searchsubmit"', 'for="s"'])):
        form = search_forms(ours)[0]
        assert form["action"] == BRIDGE_SEARCH and form["labelled"]
        assert parse_qs(urlsplit(submit(form, "x")).query) == {"q": ["x"], "uselang": ["en"]}
        assert "aria-label=\"Blog\"" in ours
        for needle in classes:
            assert needle in ours, needle
    assert all(c in core for c in ('class="search-form"', 'class="search-field"', 'name="s"'))
    assert BRIDGE_SEARCH not in core and search_forms(core)[0]["fields"] == {"s": ""}
    core_again = classic_form("remove_all_filters('get_search_form');")
    assert core == core_again, "unconfigured, the filter changes nothing"


# -- the ansible wordpress role writes the constants -----------------------------------------
ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "ansible"


def wp_config_constants(tmp_path: Path, *extra_vars: str) -> dict:
    """The role's config.php.j2 rendered with Ansible's own templating (the example inventory,
    the role's defaults, a filled vault), then read by PHP: the constants WordPress gets."""
    import os
    import secrets

    import yaml

    vault = tmp_path / "vault.yml"
    names = yaml.safe_load((ANSIBLE / "inventories/example/group_vars/all/vault.yml").read_text())
    vault.write_text(yaml.safe_dump({name: secrets.token_hex(24) for name in names}))
    dest = tmp_path / "config.php"
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path / "a-local"), "ANSIBLE_REMOTE_TEMP": str(tmp_path / "a-remote"),
           "ANSIBLE_HOME": str(tmp_path / "a-home"), "ANSIBLE_NOCOLOR": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    args = [str(Path(sys.executable).parent / "ansible"), "space.example.org", "-i", str(ANSIBLE / "inventories/example"),
            "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
            "-e", f"@{ANSIBLE / 'roles/wordpress/defaults/main.yml'}", "-e", f"@{vault}",
            "-m", "ansible.builtin.template",
            "-a", f"src={ANSIBLE / 'roles/wordpress/templates/config.php.j2'} dest={dest}"]
    for item in extra_vars:
        args += ["-e", item]
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    code = (f"include {json.dumps(str(dest))}; echo json_encode(array_map('constant', "
            "['SPACE_BRIDGE_SEARCH_URL', 'SPACE_BRIDGE_SEARCH_SCOPE', 'SPACE_BRIDGE_VIEWS_RETENTION_DAYS',"
            " 'SPACE_BRIDGE_LOGOUT_URL']));")
    out = subprocess.run(["php", "-r", code], capture_output=True, text=True, timeout=60, check=True).stdout
    return dict(zip(("url", "scope", "retention", "logout"), json.loads(out)))


def test_the_ansible_role_sends_the_blog_search_to_the_bridge_unless_told_otherwise(tmp_path):
    default = wp_config_constants(tmp_path)
    bridge = default.pop("logout").removesuffix("/logout")  # the bridge's public_url, as the role renders it
    assert bridge.startswith("https://")
    assert default == {"url": bridge + "/search", "scope": "", "retention": 400}
    assert wp_config_constants(tmp_path, json.dumps({"wordpress_search_url": ""}))["url"] == ""  # WordPress's own
    given = wp_config_constants(tmp_path, json.dumps({"wordpress_search_url": "https://bridge.example.org/search?it's",
                                                      "wordpress_search_scope": "blog",
                                                      "wordpress_views_retention_days": 30}))
    given.pop("logout")
    assert given == {"url": "https://bridge.example.org/search?it's", "scope": "blog", "retention": 30}
