"""Discourse's own provider path, ``GET /session/sso_provider?sso=..&sig=..``: which consumer sent it.

Clients written for Discourse as DiscourseConnect provider know only that path (Discourse's
config/routes.rb: ``session/sso_provider`` → SessionController#sso_provider). wp-discourse's
client (lib/sso-client/query-redirect.php, ``discourse_sso_url_redirect``) sends its members to
``<its Discourse URL>/session/sso_provider`` with a payload of ``nonce`` and ``return_sso_url``
only: nothing in the URL names the blog. The bridge's own routes name their consumer
(``/sso/wordpress/<site>``), so `choose` finds the one that sent the request:

1. every consumer whose kind allows this path (`Consumer.at_discourse_path`: the blogs) tries
   its secret on ``sig`` (constant-time, sso/discourse_connect.py); only a consumer whose secret
   verifies is considered, so nothing read from an unsigned payload ever picks a consumer;
2. of those, the first (configuration order) whose own origin — scheme, host and port — is the
   one of the *signed* ``return_sso_url`` (`Consumer.return_url_ok`, the normal route's check).

The provider (sso/provider.py) then sends the browser, ``sso`` and ``sig`` unchanged, to that
consumer's own route, which checks everything again (signature, return URL, single-use nonce,
age) and alone answers: this path never signs anything and never redirects anywhere but to
the bridge's own route. A request no consumer signed, or whose signed return URL is on none of
its signers' origins, is refused (`Refused`: the provider's refusal page, 400).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from urllib.parse import parse_qsl

from sso import discourse_connect, redirects
from sso.consumers import Consumer

#: `Refused.code`: not signed by any candidate (or not a request at all) / signed, but the
#: return URL is on none of the signers' origins
UNSIGNED, OTHER_ORIGIN = "unsigned", "other_origin"


class Refused(ValueError):
    """No consumer may take the request. `consumer` is the one that signed it, if any; `host`
    names the site on the refusal page (the signer's, else the host the request claims)."""

    def __init__(self, code: str, detail: str, *, consumer: Consumer | None, host: str):
        super().__init__(detail)
        self.code, self.consumer, self.host = code, consumer, host


def claimed_host(sso: object) -> str:
    """The host of the return URL an *unverified* payload names, for the refusal page only
    ("This login request from <host> could not be verified"); "?" when it names none."""
    if not isinstance(sso, str) or len(sso) > discourse_connect.MAX_SSO_CHARS:
        return "?"
    try:
        text = base64.b64decode(sso.replace("\r", "").replace("\n", ""), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return "?"
    parts = redirects.split_url(dict(parse_qsl(text)).get("return_sso_url") or "")
    return (parts.hostname if parts is not None else None) or "?"


def choose(candidates: Iterable[Consumer], sso: object, sig: object) -> Consumer:
    """The consumer among `candidates` that signed this request for its own origin; else Refused."""
    signers: list[tuple[Consumer, discourse_connect.ConnectRequest]] = []
    for consumer in candidates:
        if not consumer.at_discourse_path:
            continue
        try:
            signers.append((consumer, discourse_connect.parse_request(sso, sig, consumer.secret)))
        except discourse_connect.SignatureError:
            continue  # another blog's secret, perhaps: try the next one
        except discourse_connect.MissingField as exc:  # signed by this consumer, but unusable
            raise Refused(UNSIGNED, f"{exc.code}: {exc}", consumer=consumer, host=_host(consumer)) from None
        except discourse_connect.ConnectError as exc:  # malformed whatever the secret
            raise Refused(UNSIGNED, f"{exc.code}: {exc}", consumer=None, host=claimed_host(sso)) from None
    for consumer, req in signers:
        if consumer.return_url_ok(req.return_sso_url):
            return consumer
    if signers:
        consumer, req = signers[0]
        raise Refused(OTHER_ORIGIN, req.return_sso_url, consumer=consumer, host=_host(consumer))
    raise Refused(UNSIGNED, "signature: no consumer's secret verifies sig", consumer=None, host=claimed_host(sso))


def _host(consumer: Consumer) -> str:
    parts = redirects.split_url(consumer.base_url)
    return (parts.hostname if parts is not None else None) or consumer.base_url
