"""pydiscourse's request shaping, with every request sent through the bridge's transport."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pydiscourse

from bridge.clients.discourse import connect
from bridge.clients.scrub import Hidden

if TYPE_CHECKING:
    from bridge.clients.discourse.transport import DiscourseTransport

__all__ = ["PyDiscourse", "form_bool"]


class PyDiscourse(pydiscourse.DiscourseClient):
    """pydiscourse's request shaping; every request goes to :meth:`DiscourseTransport._call`.

    Methods defined here are the endpoints pydiscourse lacks, or reaches only through an
    undocumented Rails alias (``/users/by-external/`` for the documented ``/u/by-external/``,
    ``/t/{slug}/{id}`` for ``/t/{id}.json``), or where its way leaks data (``sync_sso`` puts
    the signed payload, with the member's e-mail address, in the URL's query string, which
    proxies log; here it goes in the body, as Admin::UsersController#sync_sso also accepts).
    """

    def __init__(self, owner: DiscourseTransport, api_key: str):
        super().__init__(owner.url, api_username=owner.api_username, api_key=Hidden(api_key), timeout=owner.timeout)
        self._owner = owner

    def __repr__(self) -> str:
        return f"<PyDiscourse {self.host}>"

    def _request(self, verb, path, params=None, files=None, data=None, json=None, override_request_kwargs=None):
        return self._owner._call(verb, path, params=params, files=files, data=data, json=json)

    # -- endpoints pydiscourse lacks ---------------------------------------------------------
    def topic_by_id(self, topic_id: int):
        return self._get(f"/t/{int(topic_id)}.json")

    def user_by_external_id(self, external_id):
        return self._get(f"/u/by-external/{quote(str(external_id), safe='')}.json")["user"]

    def sync_sso(self, sso_secret, **fields):
        # Encoded as Discourse encodes it (connect.py), which also keeps `+` out of the Base64:
        # releases before PR #42024 would read a `+` there as a space and answer 422.
        sso, sig = connect.signed([(k, str(v)) for k, v in fields.items() if v is not None], sso_secret)
        return self._post("/admin/users/sync_sso.json", sso=sso, sig=sig)

    def site_settings(self, **settings):
        # pydiscourse sends the value as a query parameter (`_request(PUT, path, {name: value})`
        # fills `params`), which would put a secret such as discourse_connect_secret in the
        # URL and so in access logs; Admin::SiteSettingsController#update reads params[id]
        # from the body just as well.
        for name, value in settings.items():
            self._put(f"/admin/site_settings/{name}.json", **{name: value})

    def web_hooks(self, offset: int | None = None):
        return self._get("/admin/api/web_hooks.json", **({"offset": offset} if offset else {}))

    def create_web_hook(self, **fields):
        return self._post("/admin/api/web_hooks.json", **_web_hook_form(fields))

    def update_web_hook(self, web_hook_id: int, **fields):
        return self._put(f"/admin/api/web_hooks/{int(web_hook_id)}.json", **_web_hook_form(fields))


def form_bool(value: bool) -> str:
    """A boolean as Rails' form fields take it."""
    return "true" if value else "false"


def _web_hook_form(fields: Mapping[str, Any]) -> dict:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = form_bool(value)
        if isinstance(value, (list, tuple, set, frozenset)):
            out[f"web_hook[{key}][]"] = [str(v) for v in sorted(value)]
        else:
            out[f"web_hook[{key}]"] = str(value)
    return out
