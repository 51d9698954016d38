"""The doctor's check of the login feature (bridge/doctor.py): each blog that logs members in
through the bridge shares its DiscourseConnect secret with the mu-plugin, which also signs the
single log-out and demotion routes with it (bridge/clients/wordpress/accounts.py).

The secret is compared without sending it: the check asks the mu-plugin to log out an external id
no member has (`space-bridge-doctor-<random>`), signed with the bridge's secret. `{"found": false}`
means the plugin verified the signature, so both hold the same secret; a `space_bridge_signature`
refusal means they differ. Nobody is logged out.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from bridge.doctor import Check, Probe, fail, ok

if TYPE_CHECKING:
    from bridge.config import Settings, WordPressSite

REQUEST_TIMEOUT = 10.0


def wordpress_sso_check(site: "WordPressSite") -> Check:
    from bridge.clients.wordpress.accounts import WordPressSSOError, call

    name = f"wordpress.{site.name}.sso"
    nobody = f"space-bridge-doctor-{secrets.token_hex(8)}"
    try:
        answer = call(str(site.url), site.connect_secret.get_secret_value(), "logout", {"external_id": nobody},
                      timeout=REQUEST_TIMEOUT)
    except WordPressSSOError as exc:
        if exc.status == 401:
            return fail(name, f"the mu-plugin refused the bridge's signature: {exc}",
                        f"SPACE_BRIDGE_SSO_SECRET on the blog must equal wordpress.sites[{site.name}].connect_secret "
                        "(or the clocks differ by more than 300 s: see the clock check)")
        if exc.status == 503:
            return fail(name, "the mu-plugin's login is not configured (no SPACE_BRIDGE_SSO_SECRET)",
                        "set SPACE_BRIDGE_SSO_* in the blog's wp-config (the wordpress Ansible role does it)")
        if exc.status == 404:
            return fail(name, "the blog has no route /space-bridge/v1/logout: the mu-plugin is not loaded",
                        "install deploy/wordpress/space-bridge.php with its space-bridge/ folder")
        return fail(name, str(exc), "check that the blog answers from this host")
    if answer.get("found") is False:
        return ok(name, "the mu-plugin verifies the bridge's signature (same secret)")
    return fail(name, f"unexpected answer to a log-out of nobody: {sorted(answer)}", "a bug; report it")


def probes(settings: "Settings") -> list[Probe]:
    return [Probe(f"wordpress.{site.name}.sso", lambda site=site: wordpress_sso_check(site))
            for site in settings.wordpress.sites if site.connect_secret is not None]
