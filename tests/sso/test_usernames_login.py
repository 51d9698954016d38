"""Forum names in every script, end to end: members with real-world-shaped wiki names log in to the
Discourse double through DiscourseConnect (the bridge as provider, the Wikimedia double as the
wiki); the forum account each one gets must be readable (not "user123" for a name with letters),
valid for the double's reading of Discourse's validator, distinct, and exactly the name the bridge
chose (a name the forum had to repair is noted by the double). With Discourse's
unicode_usernames on and, transliterated, off. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`

from doubles.discourse import DiscourseDouble  # noqa: E402
from doubles.wikimedia import WikimediaDouble  # noqa: E402

from bridge import config  # noqa: E402
from bridge.app import create_app  # noqa: E402
from sso import usernames  # noqa: E402
from tests.sso.conftest import settings_data  # noqa: E402

SECRET = "connect-secret-123"  # settings_data's discourse.connect_secret

WIKI_NAMES = [
    "محمد", "عبد الرحمن بن عوف الأنصاري",           # Arabic (the second longer than 20)
    "שלום", "דוד בן-גוריון",                        # Hebrew
    "राम", "स्वामी विवेकानन्द",                         # Devanagari
    "张伟", "李小龙",                                # Chinese
    "さくら", "田中 太郎",                            # Japanese
    "Женя", "Евгения Петрова",                      # Cyrillic
    "Ελένη", "ΟΔΥΣΣΕΥΣ",                            # Greek
    "Əliyev", "Şəhriyar Məmmədov",                  # Azerbaijani
    "Nguyễn Văn An", "Ngô Bảo Châu",                # Vietnamese
    "José Álvarez", "Łukasz Żółć",                  # Latin with diacritics
    "Ziko van Dijk", "Adam Smith the Younger of Kirkcaldy",  # spaces; long
    "Files.json", "Admin",                          # a confusing suffix; a reserved name
    "Zoë Ångström", unicodedata.normalize("NFD", "Zoë Ångström"), "ZOË ÅNGSTRÖM",  # one name, three forms
]
USERS = [{"sub": 5000 + i, "username": name, "email": f"member{i}@example.org", "realname": "",
          "confirmed_email": True, "editcount": 1000, "registered": "20150101000000", "blocked": False,
          "groups": ["*", "user", "autoconfirmed"], "password": "wikimedia-double", "hidden": False}
         for i, name in enumerate(WIKI_NAMES)]


@pytest.fixture(scope="module")
def wikimedia(bridge_server):
    with WikimediaDouble(redirect_uri=bridge_server.url + "/oauth/callback", config={"users": USERS}) as double:
        yield double


@pytest.fixture(scope="module")
def forum_process():
    with DiscourseDouble() as double:
        yield double


def start(bridge_server, wm, engine, forum_process, *, bridge_unicode: bool, forum_unicode: bool, allowed: str = ""):
    forum_process.reset()
    forum_process.enable_discourse_connect(bridge_server.url + "/sso/discourse", SECRET)
    forum_process.set_site_settings(unicode_usernames=forum_unicode, allowed_unicode_username_characters=allowed)
    data = settings_data(bridge_server.url, wm, discourse_url=forum_process.url)
    data["discourse"]["api_key"] = forum_process.api_key
    data["sso"] = {"unicode_usernames": bridge_unicode, "allowed_unicode_username_characters": allowed}
    bridge_server.target.app = create_app(config.parse(data, "<test>"), engine)


def log_in(forum, wm, name: str) -> dict:
    with requests.Session() as browser:
        resp = browser.get(forum.url + "/session/sso", params={"return_path": "/"}, timeout=30)
        resp = wm.complete_login(browser, resp, name)
        assert resp.status_code == 200 and resp.url == forum.url + "/", (name, resp.status_code, resp.text[:300])
        me = browser.get(forum.url + "/session/current.json", headers={"Accept": "application/json"}, timeout=30)
        assert me.status_code == 200, (name, me.text[:300])
        return me.json()["current_user"]


@pytest.mark.parametrize("unicode", [True, False], ids=["unicode on", "unicode off"])
def test_every_member_gets_a_readable_distinct_forum_name(bridge_server, wm, engine, forum_process, unicode):
    start(bridge_server, wm, engine, forum_process, bridge_unicode=unicode, forum_unicode=unicode)
    got = {}
    for user in USERS:
        me = log_in(forum_process, wm, user["username"])
        got[user["username"]] = me["username"]
        assert me["username"] == usernames.stored(engine, str(user["sub"]))  # the forum kept the bridge's name
    try:
        assert [n for n in forum_process.notes() if n["kind"] == "username_changed"] == []
        forum_lower = {usernames.normalize(name) for name in got.values()}
        assert len(forum_lower) == len(USERS)  # distinct, by Discourse's username_lower
        for wiki, forum in got.items():
            assert not forum.startswith("user"), (wiki, forum)
            assert unicode or forum.isascii()
        if unicode:
            assert got["محمد"] == "محمد" and got["张伟"] == "张伟1" and got["राम"] == "राम1" and got["שלום"] == "שלום"
            assert got["Əliyev"] == "Əliyev" and got["Nguyễn Văn An"] == "Nguyễn_Văn_An"
            assert got["ΟΔΥΣΣΕΥΣ"] == "οδυσσευς"
            assert got["Zoë Ångström"] == "Zoë_Ångström"
            assert {got[unicodedata.normalize("NFD", "Zoë Ångström")], got["ZOË ÅNGSTRÖM"]} == {
                "Zoë_Ångström1", "ZOË_ÅNGSTRÖM2"}
        else:
            assert got["Əliyev"] == "Eliyev" and got["Женя"] == "Zhenya" and got["张伟"] == "ZhangWei"
            assert got["محمد"] == "mhmd" and got["Nguyễn Văn An"] == "Nguyen_Van_An"
        assert got["Admin"] == "Admin1" and got["Files.json"] == "Files"
        assert len(got["Adam Smith the Younger of Kirkcaldy"]) == 20
        assert got["عبد الرحمن بن عوف الأنصاري"] == ("عبد_الرحمن_بن_عوف_ال" if unicode else "bd_lrhmn_bn_wf_lnsry")
        assert log_in(forum_process, wm, "Женя")["username"] == got["Женя"]  # the next login changes nothing
    finally:
        bridge_server.target.app = None


def test_a_forum_without_unicode_usernames_would_mangle_the_names(bridge_server, wm, engine, forum_process):
    """Why `discourse setup` turns the setting on: the double, like Discourse, repairs a name its
    rules refuse (Rails' transliteration turns Cyrillic into "?"), and says so."""
    start(bridge_server, wm, engine, forum_process, bridge_unicode=True, forum_unicode=False)
    try:
        me = log_in(forum_process, wm, "Женя")
    finally:
        bridge_server.target.app = None
    assert me["username"] != "Женя" and me["username"].startswith("user")
    [note] = [n for n in forum_process.notes() if n["kind"] == "username_changed"]
    assert "'Женя'" in note["message"] and "must only include" in note["message"]


def test_a_forum_that_allows_only_some_letters_gets_them_and_the_rest_transliterated(
        bridge_server, wm, engine, forum_process):
    """A German-language forum: Discourse's locale default for allowed_unicode_username_characters."""
    start(bridge_server, wm, engine, forum_process, bridge_unicode=True, forum_unicode=True, allowed="[äöüßÄÖÜẞ]")
    try:
        got = {name: log_in(forum_process, wm, name)["username"]
               for name in ("Женя", "José Álvarez", "Zoë Ångström", "张伟", "Ziko van Dijk")}
    finally:
        bridge_server.target.app = None
    assert got == {"Женя": "Zhenya", "José Álvarez": "Jose_Alvarez", "Zoë Ångström": "Zoe_Angström",
                   "张伟": "ZhangWei", "Ziko van Dijk": "Ziko_van_Dijk"}
    assert [n for n in forum_process.notes() if n["kind"] == "username_changed"] == []
