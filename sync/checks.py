"""The doctor's checks of the blogs, the forum and the wiki (bridge/doctor.py), for the mirror feature.

The mirror is what needs most of the blogs and the forum: the mu-plugin and its meta, the blog's
web hook, the forum's web hook and the settings `space-bridge discourse setup` leaves. Every check
reads only; what `discourse setup` would change is found by running it as a dry run, so this
module compares with the very values setup writes (bridge/discourse_setup.py) and never keeps a
second copy of them. Each platform is one probe: read once, judged on several points, and given
up as a whole when it does not answer within the probe's time limit.
"""

from __future__ import annotations

import xmlrpc.client
from importlib import metadata
from typing import TYPE_CHECKING

from bridge import doctor
from bridge.doctor import Check, Probe, fail, ok, warn

if TYPE_CHECKING:
    from bridge.config import Settings, WordPressSite

#: Seconds each HTTP request of a check may take; a probe has doctor.DEFAULT_TIMEOUT in all.
REQUEST_TIMEOUT = 10.0

MU_PLUGIN_HINT = ("install the mu-plugins of this bridge's release: deploy/wordpress/space-bridge.php (with its "
                  "space-bridge/ folder) and space-bridge-mirror.php in wp-content/mu-plugins/ "
                  "(the wordpress Ansible role does it)")
#: The mu-plugin route the bridge writes its meta through (deploy/wordpress/space-bridge.php, section 4).
META_ROUTE = "/space-bridge/v1/posts/(?P<id>[\\d]+)/meta"
#: The XML-RPC method of the same (deploy/wordpress/space-bridge.php, section 4).
META_METHOD = "spaceBridge.setPostMeta"
SETUP_HINT = "run `space-bridge discourse setup`"


def bridge_version() -> str:
    """The version the mu-plugins must have: the bridge's own (the mu-plugin's VERSION and
    pyproject's version are released together; tests/sync/test_platform_checks.py keeps them equal)."""
    return metadata.version("space-bridge")


# -- WordPress -----------------------------------------------------------------------------------
def _xmlrpc(site: "WordPressSite", session, method: str, *params):
    body = xmlrpc.client.dumps(params, method, allow_none=True)
    resp = session.post(f"{str(site.url).rstrip('/')}/xmlrpc.php", data=body.encode(),
                        headers={"Content-Type": "text/xml"}, timeout=REQUEST_TIMEOUT, allow_redirects=False)
    resp.raise_for_status()
    return xmlrpc.client.loads(resp.content)[0][0]


def _plugin_version(site: "WordPressSite", session) -> tuple[str | None, str]:
    """(version, why not) from the `space_bridge` struct the mu-plugin adds to XML-RPC posts
    (deploy/wordpress/space-bridge.php, section 2); the test-hook route tells it too (web_hook_check)."""
    import requests

    password = site.password.get_secret_value()
    try:
        posts = _xmlrpc(site, session, "wp.getPosts", 1, site.username, password,
                        {"number": 1, "post_type": "post", "post_status": "publish"})
    except xmlrpc.client.Fault as exc:
        return None, f"XML-RPC refused the account (fault {exc.faultCode})"
    except (requests.RequestException, xmlrpc.client.Error, ValueError) as exc:
        return None, f"XML-RPC does not answer ({type(exc).__name__})"
    if not posts:
        return None, "the site has no published post to read it from"
    version = (posts[0].get("space_bridge") or {}).get("version")
    if not version:
        return "", "posts read over XML-RPC carry no space_bridge struct"
    return str(version), ""


def wordpress_checks(settings: "Settings", site: "WordPressSite") -> list[Check]:
    import requests

    from bridge import platforms
    from bridge.clients.wordpress import WordPressAuthError, WordPressError
    from bridge.clients.wordpress.meta import META_FIELDS, meta_key

    name = f"wordpress.{site.name}"
    results: list[Check] = []
    try:
        with platforms.wordpress(settings, site.name) as client:
            me = client.whoami()
    except WordPressAuthError as exc:
        results.append(fail(f"{name}.login", f"{site.url} via {site.transport}: {exc}",
                            f"check wordpress.sites[{site.name}].username and password"
                            + (" (an Application Password of that account)" if site.transport == "rest" else "")))
        results.append(doctor.clock_check(f"{name}.clock", str(site.url)))
        return results
    except (WordPressError, OSError) as exc:
        return [fail(f"{name}.login", f"{site.url} via {site.transport}: {exc}",
                     "check wordpress.sites[].url and that the site answers from this host")]
    results.append(ok(f"{name}.login", f"{site.url} via {site.transport} as {me.name or site.username}"))

    session = requests.Session()
    session.headers["User-Agent"] = "space-bridge doctor"
    try:
        hook, answer = web_hook_check(settings, site, session)
        results.extend(_mu_plugin_checks(site, session, name, {meta_key(f) for f in META_FIELDS},
                                         (answer or {}).get("version")))
    finally:
        session.close()
    results.append(hook)
    results.append(doctor.clock_check(f"{name}.clock", str(site.url)))
    return results


def web_hook_check(settings: "Settings", site: "WordPressSite", session=None) -> tuple[Check, dict | None]:
    """Does the blog's web hook reach the bridge? The bridge asks the mirror mu-plugin to send a
    test hook with a fresh nonce (POST /space-bridge/v1/test-hook, deploy/wordpress/space-bridge-mirror.php,
    signed with the site's webhook_secret); the blog sends it, signed, to its SPACE_BRIDGE_MIRROR_URL
    and waits; the receiver (sync/wordpress_hooks.py) echoes the nonce once the signature holds.
    The nonce back is the proof: a URL answering 200 that is not a bridge knows no nonce.
    Answers the check and the route's answer (None when the blog refused), whose `version` is
    the mu-plugin's."""
    import secrets

    from bridge.clients.wordpress.accounts import WordPressSSOError, send_test_hook

    name = f"wordpress.{site.name}.web_hook"
    expected = f"{str(settings.bridge.public_url).rstrip('/')}/webhooks/wordpress/{site.name}"
    constants = (f"define SPACE_BRIDGE_MIRROR_URL ({expected}) and SPACE_BRIDGE_MIRROR_SECRET "
                 f"(wordpress.sites[{site.name}].webhook_secret) in the blog's wp-config.php "
                 "(the wordpress Ansible role does it)")
    nonce = secrets.token_hex(16)
    try:
        answer = send_test_hook(str(site.url), site.webhook_secret.get_secret_value(), nonce, session=session)
    except WordPressSSOError as exc:
        text = str(exc)
        if exc.status == 404:
            return fail(name, "the blog has no route /space-bridge/v1/test-hook: the mu-plugin space-bridge-mirror.php "
                              "is not loaded or older than this bridge", "update the mu-plugins: " + MU_PLUGIN_HINT), None
        if exc.status == 503 and "space_bridge_mirror_disabled" in text:
            return fail(name, "the blog sends no web hooks: its mirror web hook is not configured", constants), None
        if exc.status == 503 and "space_bridge_missing" in text:
            return fail(name, "the mu-plugin space-bridge.php is not loaded", MU_PLUGIN_HINT), None
        if exc.status == 401:
            return fail(name, f"the blog refused the bridge's signature: {text}",
                        f"the blog's web hook secret (SPACE_BRIDGE_MIRROR_SECRET) differs from "
                        f"wordpress.sites[{site.name}].webhook_secret (or the clocks differ by more than 300 s: "
                        "see the clock check)"), None
        return fail(name, text, "check that the blog answers from this host"), None
    url = str(answer.get("url") or "SPACE_BRIDGE_MIRROR_URL")
    status = answer.get("status")
    if answer.get("sent") is not True or not isinstance(status, int):
        return fail(name, f"unexpected answer from the test-hook route: {sorted(answer)}",
                    "update the mu-plugins: " + MU_PLUGIN_HINT), answer
    if status == 0:
        return fail(name, f"WordPress cannot reach {url}: {answer.get('error') or 'no answer'}",
                    f"SPACE_BRIDGE_MIRROR_URL must be this bridge's {expected} as the blog's host reaches it; "
                    "check that the bridge runs, and the name, port, TLS and firewall between them"), answer
    if status == 200 and answer.get("nonce_echo") == nonce:
        return ok(name, f"a signed test hook from the blog reached {url} and was accepted"), answer
    if status == 401:
        return fail(name, f"the bridge at {url} refused the blog's signature (HTTP 401)",
                    f"the blog's web hook secret differs from wordpress.sites[{site.name}].webhook_secret of the "
                    f"bridge at that URL: SPACE_BRIDGE_MIRROR_URL must name this bridge and site ({expected})"), answer
    if status == 200 or status == 404:
        return fail(name, f"{url} answered HTTP {status} without the test hook's nonce: it is not this bridge's "
                          "web hook receiver", f"SPACE_BRIDGE_MIRROR_URL must be {expected}"), answer
    return fail(name, f"the bridge at {url} answered HTTP {status}",
                "see `mirror.webhook` lines in the bridge's log"), answer


def _mu_plugin_checks(site: "WordPressSite", session, name: str, meta_keys: set[str],
                      route_version: str | None = None) -> list[Check]:
    """`route_version`: the version the test-hook route answered, used when XML-RPC tells none."""
    import requests

    base = str(site.url).rstrip("/")
    auth = (site.username, site.password.get_secret_value())
    if site.transport == "rest":
        try:
            index = session.get(f"{base}/wp-json/", timeout=REQUEST_TIMEOUT).json()
            schema = session.options(f"{base}/wp-json/wp/v2/posts", auth=auth, timeout=REQUEST_TIMEOUT).json()
        except (requests.RequestException, ValueError) as exc:
            return [fail(f"{name}.mu_plugin", f"the REST API index does not answer JSON ({type(exc).__name__})",
                         "check that /wp-json/ answers (permalinks, a security plugin)")]
        if META_ROUTE not in (index.get("routes") or {}):
            return [fail(f"{name}.mu_plugin", "the REST API has no route POST /space-bridge/v1/posts/<id>/meta: "
                                              "the mu-plugin space-bridge.php is not loaded", MU_PLUGIN_HINT),
                    fail(f"{name}.meta", "not checked: no mu-plugin", "install the mu-plugin first")]
        # Registered post meta with show_in_rest appear in the posts schema (WP_REST_Post_Meta_Fields).
        shown = set((((schema.get("schema") or {}).get("properties") or {}).get("meta") or {}).get("properties") or {})
        missing = sorted(meta_keys - shown)
        meta = (fail(f"{name}.meta", f"not registered for REST: {', '.join(missing)}",
                     "the mu-plugin space-bridge.php registers them; install this bridge's release of it")
                if missing else ok(f"{name}.meta", f"{len(meta_keys)} keys registered (posts schema)"))
    else:
        try:
            methods = _xmlrpc(site, session, "system.listMethods")
        except (requests.RequestException, xmlrpc.client.Error, ValueError) as exc:
            return [fail(f"{name}.mu_plugin", f"XML-RPC does not list its methods ({type(exc).__name__})",
                         "check that xmlrpc.php answers")]
        if META_METHOD not in methods:
            return [fail(f"{name}.mu_plugin", f"XML-RPC has no {META_METHOD}: the mu-plugin space-bridge.php "
                                              "is not loaded", MU_PLUGIN_HINT),
                    fail(f"{name}.meta", "not checked: no mu-plugin", "install the mu-plugin first")]
        meta = ok(f"{name}.meta", "registered by the mu-plugin (XML-RPC shows no schema; the plugin's "
                                  f"{META_METHOD} writes only its {len(meta_keys)} keys)")
    want = bridge_version()
    have, why = _plugin_version(site, session)
    if not have and route_version:
        have, why = str(route_version), "told by the test-hook route"
    if have is None:
        plugin = warn(f"{name}.mu_plugin", f"installed; its version is not checked: {why}",
                      "the mu-plugin tells its version in XML-RPC posts and to the test-hook route")
    elif have != want:
        plugin = fail(f"{name}.mu_plugin", f"version {have or 'unknown'} ({why or 'installed'}); "
                                           f"this bridge is {want}", MU_PLUGIN_HINT)
    else:
        plugin = ok(f"{name}.mu_plugin", f"version {have}, as this bridge")
    return [plugin, meta]


# -- Discourse -----------------------------------------------------------------------------------
#: Settings `discourse setup` writes, by the check that reports them.
CONNECT_SETTINGS = ("discourse_connect_url", "discourse_connect_secret", "enable_discourse_connect")

#: WebHook.last_delivery_statuses (app/models/web_hook.rb): inactive 1, failed 2, successful 3, disabled 4.
DELIVERY = {1: "nothing delivered yet", 2: "failed", 3: "succeeded", 4: "disabled after failing"}


def _setting_check(name: str, items, hint: str) -> Check:
    bad = [i for i in items if i.status not in ("unchanged", "exists")]
    if not items:
        return warn(name, "not checked")
    if bad:
        return fail(name, "; ".join(f"{i.name}: {i.status}" + (f" ({i.detail})" if i.detail else "") for i in bad),
                    hint)
    return ok(name, ", ".join(f"{i.name}" + (f"={i.detail}" if i.detail and "not shown" not in i.detail else "")
                              for i in items))


def discourse_checks(settings: "Settings") -> list[Check]:
    from bridge import platforms
    from bridge.clients.discourse import DiscourseAuthError, DiscourseError
    from bridge.discourse_setup import run_setup, web_hook_url

    d = settings.discourse
    results: list[Check] = []
    try:
        with platforms.discourse(settings, max_retries=1, max_wait=REQUEST_TIMEOUT) as client:
            try:
                me = client.whoami()
            except DiscourseAuthError as exc:
                return [fail("discourse.api_key", f"{d.url}: {exc}",
                             "create a global admin API key in Discourse (Admin > API) for discourse.api_key and "
                             "name its user in discourse.api_username"),
                        doctor.clock_check("discourse.clock", str(d.url))]
            if not me.admin:
                return [fail("discourse.api_key", f"{d.url}: {me.username} is not an admin",
                             "the bridge needs an admin API user (discourse.api_username)"),
                        doctor.clock_check("discourse.clock", str(d.url))]
            results.append(ok("discourse.api_key", f"{d.url} as {me.username} (admin)"))
            report = run_setup(settings, client, dry_run=True)
            raw_hooks = (client._api.web_hooks() or {}).get("web_hooks") or []
    except (DiscourseError, OSError) as exc:
        return results + [fail("discourse" if not results else "discourse.setup", f"{d.url}: {exc}",
                               "check discourse.url and that the forum answers from this host")]
    settings_items = [i for i in report.items if i.kind == "setting"]
    results.append(_setting_check("discourse.connect", [i for i in settings_items if i.name in CONNECT_SETTINGS],
                                  SETUP_HINT + " (it points DiscourseConnect at this bridge, with its secret)"))
    results.append(_setting_check("discourse.settings", [i for i in settings_items if i.name not in CONNECT_SETTINGS],
                                  SETUP_HINT))
    url = web_hook_url(settings)
    hook_items = [i for i in report.items if i.kind == "web hook"]
    bad = [i for i in hook_items if i.status not in ("unchanged",)]
    if any(i.status == "would create" for i in hook_items):
        results.append(fail("discourse.web_hook", f"no web hook to {url}", SETUP_HINT))
    elif [i for i in bad if i.status != "warning"]:
        results.append(fail("discourse.web_hook", "; ".join(f"{i.detail}" for i in bad if i.status != "warning")
                            + " differ from what the bridge needs",
                            SETUP_HINT + " (it sets the URL, events and secret)"))
    elif bad:
        results.append(warn("discourse.web_hook", "; ".join(i.detail for i in bad), SETUP_HINT))
    else:
        results.append(ok("discourse.web_hook", f"{url}: " + "; ".join(i.detail for i in hook_items)))
    mine = [h for h in raw_hooks if str(h.get("payload_url") or "").rstrip("/") == url]
    if mine:
        status = int(mine[0].get("last_delivery_status") or 1)
        text = f"id {mine[0]['id']}: last delivery {DELIVERY.get(status, f'status {status}')}"
        if status in (2, 4):
            results.append(fail("discourse.web_hook_deliveries", text,
                                f"see the hook's events in Discourse (/admin/api/web_hooks/{mine[0]['id']}) and "
                                "`webhook` lines in the bridge's log: the bridge refused or did not answer"))
        else:
            results.append(ok("discourse.web_hook_deliveries", text))
    results.append(_setting_check("discourse.categories", [i for i in report.items if i.kind in ("category", "group")],
                                  SETUP_HINT + " (categories and groups)"))
    results.append(doctor.clock_check("discourse.clock", str(d.url)))
    return results


# -- MediaWiki -----------------------------------------------------------------------------------
def mediawiki_checks(settings: "Settings") -> list[Check]:
    import requests

    from bridge import platforms
    from bridge.clients.mediawiki import MediaWikiAuthError, MediaWikiError, MediaWikiLagError

    mw = settings.mediawiki
    client = platforms.mediawiki(settings)
    client.timeout, client.max_retries = REQUEST_TIMEOUT, 1
    results: list[Check] = []
    try:
        with client:
            try:
                client.login()
            except MediaWikiAuthError as exc:
                return [fail("mediawiki.login", f"{mw.api_url}: {exc}",
                             "check mediawiki.username (User@botname) and mediawiki.password: a bot password "
                             "from Special:BotPasswords"),
                        doctor.clock_check("mediawiki.clock", str(mw.api_url))]
            results.append(ok("mediawiki.login", f"{mw.api_url} as {mw.username}"))
            try:
                info = client._run("read the bot's rights", lambda site: site.get(
                    "query", meta="userinfo", uiprop="rights|groups"))["query"]["userinfo"]
            except MediaWikiLagError as exc:
                return results + [warn("mediawiki.maxlag", f"the wiki refuses for lag: {exc}",
                                       "the wiki's replicas lag; edits wait until they catch up")]
    except MediaWikiError as exc:
        return results + [fail("mediawiki" if not results else "mediawiki.rights", f"{mw.api_url}: {exc}",
                               "check mediawiki.api_url and that the wiki answers from this host")]
    rights, groups = set(info.get("rights") or ()), set(info.get("groups") or ())
    if "edit" in rights:
        results.append(ok("mediawiki.edit", "the bot may edit"))
    else:
        results.append(fail("mediawiki.edit", "the bot password has no `edit` right",
                            "give it the grant “Edit existing pages” (Special:BotPasswords)"))
    if "bot" in rights:
        results.append(ok("mediawiki.bot", "edits are flagged as a bot's (groups: " + ", ".join(sorted(groups)) + ")"))
    else:
        results.append(warn("mediawiki.bot", "edits are not flagged as a bot's: they show in recent changes",
                            "ask a bureaucrat for the `bot` group, and give the bot password the "
                            "“High-volume editing” grant"))
    results.append(_maxlag_check(mw, requests))
    results.append(doctor.clock_check("mediawiki.clock", str(mw.api_url)))
    return results


def _maxlag_check(mw, requests) -> Check:
    """A request with maxlag=-1 (less than any lag) comes back as the `maxlag` error with a
    Retry-After header, which is what the client waits on (includes/api/ApiMain.php checkMaxLag),
    or, on a wiki whose database reports no lag (one server, no replicas), with a normal answer;
    any other error means the bridge's requests with maxlag would not be answered either."""
    try:
        resp = requests.get(str(mw.api_url), params={"action": "query", "meta": "siteinfo", "format": "json",
                                                     "maxlag": "-1"}, timeout=REQUEST_TIMEOUT,
                            headers={"User-Agent": "space-bridge doctor"})
        body = resp.json()
    except (requests.RequestException, ValueError) as exc:
        return fail("mediawiki.maxlag", f"no JSON answer ({type(exc).__name__})", "check mediawiki.api_url")
    code = (body.get("error") or {}).get("code")
    if code == "maxlag":
        retry_after = resp.headers.get("Retry-After", "none")
        return ok("mediawiki.maxlag", f"answered with the lag error (Retry-After: {retry_after}); "
                                      f"the bridge sends maxlag={mw.maxlag}")
    if "error" in body:
        return fail("mediawiki.maxlag", f"answered error {code!r} instead of the lag error",
                    "check mediawiki.api_url")
    return ok("mediawiki.maxlag", "answered a request with maxlag=-1 normally: no lag reported (a wiki without "
                                  "replicas)")


# -- what the mirror feature registers -------------------------------------------------------------
def probes(settings: "Settings") -> list[Probe]:
    found = [Probe(f"wordpress.{site.name}", lambda site=site: wordpress_checks(settings, site))
             for site in settings.wordpress.sites]
    if settings.discourse is not None:
        found.append(Probe("discourse", lambda: discourse_checks(settings), timeout=60))
    if settings.mediawiki is not None:
        found.append(Probe("mediawiki", lambda: mediawiki_checks(settings)))
    return found
