"""Which secret values the bridge refuses to run with: published examples, and weak ones.

A secret copied from `config/space.example.yaml` or the example Ansible vault is public, so a
deployment using it can be forged against (a known `bridge.secret_key` signs any session). The
installed package cannot read those files, hence the values are listed here;
tests/bridge/test_config.py checks the list against both files.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, SecretStr

#: Every secret value written in config/space.example.yaml and
#: ansible/inventories/example/group_vars/all/vault.yml (checked by a test).
EXAMPLE_VALUES = frozenset({
    # config/space.example.yaml
    "example-only-0123456789abcdef0123456789abcdef",
    "example-only-wikimedia-client-secret",
    "example-only-discourse-api-key",
    "example-only-connect-secret",
    "example-only-discourse-webhook-secret",
    "example-only-application-password",
    "example-only-wordpress-webhook-secret",
    "example-only-wordpress-connect-secret",
    "example-only-mediawiki-bot-password",
    "example-only-smtp-password",
    # ansible/inventories/example/group_vars/all/vault.yml
    "vault-placeholder-bridge-secret-key-change-me-0123456789",
    "vault-placeholder-bridge-metrics-token",
    "vault-placeholder-wikimedia-client-secret",
    "vault-placeholder-discourse-api-key",
    "vault-placeholder-discourse-connect-secret",
    "vault-placeholder-discourse-webhook-secret",
    "vault-placeholder-wordpress-application-password",
    "vault-placeholder-wordpress-webhook-secret",
    "vault-placeholder-wordpress-connect-secret",
    "vault-placeholder-wordpress-db-password",
    "vault-placeholder-wordpress-admin-password",
    "vault-placeholder-wordpress-salt-change-me",
    "vault-placeholder-smtp-password",
    "vault-placeholder-mediawiki-bot-password",
    "vault-placeholder-mediawiki-db-password",
    "vault-placeholder-mediawiki-admin-password",
})
#: Variants of the examples ("example-only-mine") are no less public.
EXAMPLE_PREFIXES = ("example-only-", "vault-placeholder-")

#: Secrets the bridge's operators choose: `openssl rand -hex 32` gives 64 characters.
MIN_LENGTH = 32
#: WordPress makes every Application Password 24 letters and digits
#: (wp-includes/class-wp-application-passwords.php, PW_LENGTH), shown in groups of four.
WORDPRESS_APPLICATION_PASSWORD_LENGTH = 24
#: Fewer different characters than this ("aaaa…", "abab…") is no secret, whatever its length.
MIN_DISTINCT_CHARACTERS = 5

#: Relay target options holding credentials (sync/relay/targets/irc.py).
_OPTION_SECRETS = ("password", "sasl_password")


def _secrets(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(key path, secret value, the model holding it) for every secret under `value`."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            field_value = getattr(value, name)
            sub = f"{path}.{name}" if path else name
            if isinstance(field_value, SecretStr):
                yield sub, field_value.get_secret_value(), value
            else:
                yield from _secrets(field_value, sub)
            if name == "options" and isinstance(field_value, dict):
                for key in _OPTION_SECRETS:
                    secret = field_value.get(key)
                    if isinstance(secret, str) and not secret.startswith("env:"):
                        yield f"{sub}.{key}", secret, None
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _secrets(item, f"{path}[{i}]")


def _min_length(path: str, owner: Any) -> tuple[int, str]:
    """The shortest value allowed at `path`, and what the length is counted in."""
    if path.startswith("wordpress.sites[") and path.endswith("].password") and getattr(owner, "transport", "") == "rest":
        # An Application Password WordPress generated: its length is WordPress's, not ours.
        return WORDPRESS_APPLICATION_PASSWORD_LENGTH, "letters and digits"
    if path == "relay.digest.smtp.password" or ".options." in path:
        # Given by the mail provider or the IRC network, not chosen by the bridge's operators.
        return 0, "characters"
    return MIN_LENGTH, "characters"


def problems(settings: BaseModel) -> list[str]:
    """Every secret of `settings` that is an example's value or too weak, by key path."""
    found = []
    for path, value, owner in _secrets(settings, ""):
        if value in EXAMPLE_VALUES or value.startswith(EXAMPLE_PREFIXES):
            found.append(f"{path}: is a published example value (config/space.example.yaml or the "
                         "example Ansible vault), known to anyone; replace it with a secret of your own")
            continue
        minimum, unit = _min_length(path, owner)
        counted = sum(c.isascii() and c.isalnum() for c in value) if unit != "characters" else len(value)
        if counted < minimum:
            found.append(f"{path}: must be at least {minimum} {unit} (try: openssl rand -hex 32)")
        elif len(set(value)) < MIN_DISTINCT_CHARACTERS:
            found.append(f"{path}: uses fewer than {MIN_DISTINCT_CHARACTERS} different characters; "
                         "generate one: openssl rand -hex 32")
    return found
