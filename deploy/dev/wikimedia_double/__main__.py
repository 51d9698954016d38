"""Run the Wikimedia double (Wikimedia's OAuth 2.0 server) as an HTTP server.

    python deploy/dev/wikimedia_double/__main__.py --host 127.0.0.1 --port 8071 \\
        --client-id ID --client-secret SECRET --redirect-uri http://127.0.0.1:8090/oauth/callback
    python -m wikimedia_double ...          (with deploy/dev on PYTHONPATH; the same)

Options may also come from the environment: WIKIMEDIA_DOUBLE_CLIENT_ID, _CLIENT_SECRET,
_REDIRECT_URI (several separated by spaces), _BASE_URL. --config names a JSON or YAML file with
any key of app.DEFAULT_CONFIG (e.g. users: a list of user records replacing users.USERS).
Prints `ready http://HOST:PORT` once listening (port 0 picks a free port).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "wikimedia_double"  # noqa: A001

from double_server import load_config, serve  # noqa: E402

from wikimedia_double.app import create_app  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    ap = argparse.ArgumentParser(prog="wikimedia_double", description="Wikimedia double (OAuth 2.0 server stand-in)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8071)
    ap.add_argument("--client-id", default=env("WIKIMEDIA_DOUBLE_CLIENT_ID"), help="the consumer's client id")
    ap.add_argument("--client-secret", default=env("WIKIMEDIA_DOUBLE_CLIENT_SECRET"), help="the consumer's secret")
    ap.add_argument("--redirect-uri", action="append", default=None,
                    help="the consumer's registered callback URL (repeatable)")
    ap.add_argument("--grants", default=None, help="the consumer's grants, space-separated "
                                                   "(default: mwoauth-authonlyprivate)")
    ap.add_argument("--base-url", default=env("WIKIMEDIA_DOUBLE_BASE_URL"),
                    help="the URL the double says it is at (default: http://HOST:PORT)")
    ap.add_argument("--code-ttl", type=float, default=None, help="seconds an authorization code lives (600)")
    ap.add_argument("--token-ttl", type=int, default=None, help="seconds an access token lives (3600)")
    ap.add_argument("--config", help="JSON or YAML file with configuration keys")
    args = ap.parse_args(argv)

    cfg = load_config(args.config)
    redirect_uris = args.redirect_uri or (env("WIKIMEDIA_DOUBLE_REDIRECT_URI") or "").split()
    for key, value in (("client_id", args.client_id), ("client_secret", args.client_secret),
                       ("redirect_uris", redirect_uris or None), ("code_ttl", args.code_ttl),
                       ("token_ttl", args.token_ttl), ("grants", args.grants.split() if args.grants else None)):
        if value is not None:
            cfg[key] = value

    def make_app(listening_url: str):
        cfg["base_url"] = args.base_url or cfg.get("base_url") or listening_url
        return create_app(cfg)

    return serve(args.host, args.port, make_app)


if __name__ == "__main__":
    raise SystemExit(main())
