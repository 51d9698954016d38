"""Write the bridge's configuration for the local stack (`make run`) from stack.json.

    python deploy/dev/devconfig.py STACK_JSON OUT_YAML
    python deploy/dev/devconfig.py --secret NAME STATE_DIR    # print (creating) a kept secret

Secrets the bridge owns (its session key, the WordPress web hook secret, the DiscourseConnect
secrets, the Wikimedia double's client secret) are generated once and kept in the state
directory beside stack.json, so restarts keep sessions and signatures.

    python deploy/dev/devconfig.py --wikimedia-client-id      # the client id run.sh gives the double
    python deploy/dev/devconfig.py --flows OUT_YAML STACK_JSON  # feed page URL, IRC server, channel, console URL

The relay (sync/relay) is on, so `make run` shows every flow end to end: a new blog post
(post.published, once the mirror gave it its forum topic) and a new forum topic (topic.created)
each add an entry to the feed page FEED_PAGE on the stack's MediaWiki (bot password) and a line
in IRC_CHANNEL on its ngircd.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import quote

import yaml


def kept_secret(state: Path, name: str) -> str:
    path = state / "secrets" / name
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


WIKIMEDIA_CLIENT_ID = "space-bridge-dev"

#: Where `make run` relays new posts and topics (sync/relay/targets/wiki.py, irc.py).
FEED_PAGE = "Space/News"
IRC_CHANNEL = "#space"
IRC_NICK = "spacebridge"  # the irc target adds "_" while the nick is taken (an earlier run's)
#: The forum category the blog's topics go to (created by `discourse setup`).
BLOG_CATEGORY = {"slug": "blog", "name": "Blog"}


def relay_section(stack: dict, forum: bool, feed_page: str = FEED_PAGE) -> dict:
    """New posts and new topics to the wiki's feed page and the IRC channel.

    A blog post's own forum topic is news already told by its post.published entry (which links
    the post): with a forum, the blog's topics go to BLOG_CATEGORY and a `mute` rule keeps their
    topic.created off both targets (sync/relay/rules.py: a matching mute rule wins), so each post
    is announced once and every other new topic still is.
    """
    irc = stack["irc"]
    targets = [
        {"name": "wiki-feed", "kind": "wiki", "options": {"page": feed_page}},
        {"name": "irc", "kind": "irc", "options": {
            "server": irc["host"], "port": int(irc["port"]), "tls": False, "nick": IRC_NICK,
            "channel": IRC_CHANNEL}},
    ]
    names = [t["name"] for t in targets]
    rules: list[dict] = [{"events": ["post.published", "topic.created"], "targets": list(names)}]
    if forum:
        rules.append({"events": ["topic.created"], "categories": [BLOG_CATEGORY["name"]], "targets": list(names),
                      "mute": True})
    return {"targets": targets, "rules": rules}


def flows(config: dict, stack: dict) -> dict[str, str]:
    """What `make run` prints about its flows, read from the configuration it wrote: the feed
    page's URL (index.php?title=..., which MediaWiki serves whatever its article path), the IRC
    server and channel, and the status console's URL."""
    by_kind = {t["kind"]: t["options"] for t in config.get("relay", {}).get("targets", [])}
    mw = stack["mediawiki"]
    index = mw.get("index_url") or mw["url"].rstrip("/") + "/index.php"
    page = by_kind["wiki"]["page"].replace(" ", "_")
    irc = by_kind["irc"]
    return {
        "feed_url": f"{index}?title={quote(page, safe='/:')}",
        "irc_server": f"{irc['server']}:{irc['port']}",
        "irc_channel": irc.get("channel") or irc["channels"][0],
        "console_url": config["bridge"]["public_url"].rstrip("/") + "/admin",
    }


def _wordpress_sso_supported() -> bool:
    """Whether this bridge's configuration knows wordpress.sites[].connect_secret (its WordPress login)."""
    try:
        from bridge import config
    except ImportError:
        return False
    return "connect_secret" in getattr(config.WordPressSite, "model_fields", {})


def dev_config(stack: dict, state: Path, listen: str, discourse_url: str | None = None,
               wikimedia_url: str | None = None, *, feed_page: str = FEED_PAGE) -> dict:
    """The configuration for `stack`; `feed_page`: another page than FEED_PAGE, for tests (the
    wiki target writes each event once per page, by its id, and a Discourse double started
    afresh numbers its topics from 1 again: a test's entries must not hold back `make run`'s)."""
    wp, mw = stack["wordpress"], stack["mediawiki"]
    config = {
        "bridge": {
            "public_url": f"http://{listen}",
            "secret_key": kept_secret(state, "bridge_secret_key"),
            "database_url": f"sqlite:///{state}/bridge/space-bridge.db",
            "listen": listen,
            "state_dir": str(state / "bridge"),
            "http_workers": 2,
            "log_format": "console",
            "log_level": "info",
        },
        "outbox": {"workers": 2, "lease_seconds": 60},
        "wordpress": {"sites": [{
            "name": "local",
            "url": wp["url"],
            "transport": "rest",
            "username": wp["admin_user"],
            "password": wp["app_password"],
            "webhook_secret": kept_secret(state, "wordpress_webhook_secret"),
        }]},
        "mediawiki": {
            "api_url": mw["api_url"],
            "username": mw["bot_user"],
            "password": mw["bot_password"],
        },
        # Only posts from now on: the stack's WordPress holds the tests' posts, which the first
        # reconcile would otherwise mirror and announce (older ones: `space-bridge backfill`).
        "mirror": {"initial_lookback_days": 0},
        "relay": relay_section(stack, forum=bool(discourse_url), feed_page=feed_page),
    }
    if _wordpress_sso_supported():
        # Log in to WordPress through the bridge: the same secret deploy/dev/lib/wordpress.sh gives
        # the mu-plugin (SPACE_BRIDGE_SSO_SECRET, file secrets/wordpress_connect_secret).
        config["wordpress"]["sites"][0]["connect_secret"] = kept_secret(state, "wordpress_connect_secret")
    if wikimedia_url:  # the Wikimedia double (deploy/dev/wikimedia_double) started by run.sh
        config["wikimedia"] = {
            "oauth_base_url": wikimedia_url,
            "client_id": WIKIMEDIA_CLIENT_ID,
            "client_secret": kept_secret(state, "wikimedia_client_secret"),
        }
    if discourse_url:  # the Discourse double (deploy/dev/discourse_double) started by run.sh
        config["discourse"] = {
            "url": discourse_url,
            "api_key": kept_secret(state, "discourse_api_key"),
            "api_username": "system",
            "connect_secret": kept_secret(state, "discourse_connect_secret"),
            "webhook_secret": kept_secret(state, "discourse_webhook_secret"),
            "categories": [dict(BLOG_CATEGORY)],
        }
        config["wordpress"]["sites"][0]["default_category"] = BLOG_CATEGORY["slug"]
    return config


def main() -> None:
    if sys.argv[1] == "--wikimedia-client-id":
        print(WIKIMEDIA_CLIENT_ID)
        return
    if sys.argv[1] == "--flows":
        f = flows(yaml.safe_load(Path(sys.argv[2]).read_text()), json.loads(Path(sys.argv[3]).read_text()))
        print(f["feed_url"], f["irc_server"], f["irc_channel"], f["console_url"])
        return
    if sys.argv[1] == "--secret":
        print(kept_secret(Path(sys.argv[3]), sys.argv[2]))
        return
    stack_json, out = Path(sys.argv[1]), Path(sys.argv[2])
    listen = os.environ.get("SPACE_DEV_BRIDGE_LISTEN", "127.0.0.1:8090")
    config = dev_config(json.loads(stack_json.read_text()), stack_json.parent.resolve(), listen,
                        os.environ.get("SPACE_DEV_DISCOURSE_URL"), os.environ.get("SPACE_DEV_WIKIMEDIA_URL"))
    out.parent.mkdir(parents=True, exist_ok=True)
    text = "# Written by deploy/dev/devconfig.py for `make run`; edits are overwritten.\n"
    out.write_text(text + yaml.safe_dump(config, sort_keys=False))
    out.chmod(0o600)


if __name__ == "__main__":
    main()
