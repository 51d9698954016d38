"""Run the Discourse double as an HTTP server.

    python -m discourse_double --host 127.0.0.1 --port 8070 --state DIR [--config FILE]
    python deploy/dev/discourse_double/__main__.py ...           (the same, without PYTHONPATH)

Options may also come from the environment: DISCOURSE_DOUBLE_API_KEY (seed key of the `system`
admin user), DISCOURSE_DOUBLE_BASE_URL, DISCOURSE_OPENAPI (the API description). --config names a
JSON or YAML file with any of the keys of app.DEFAULT_CONFIG (e.g. site_settings, rate_limit).
--profile (or DISCOURSE_DOUBLE_PROFILE, or "profile" in --config) picks the Discourse version
the double behaves like: stable-2025 or main-2026 (the default); see profiles.py.
Prints `ready http://HOST:PORT` once listening (port 0 picks a free port).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "discourse_double"  # noqa: A001

from double_server import load_config, serve  # noqa: E402

from discourse_double import profiles  # noqa: E402
from discourse_double.app import create_app  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="discourse_double", description="Discourse double (local stand-in for Discourse)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8070)
    ap.add_argument("--state", help="directory for the persisted state (discourse-double.json); none: memory only")
    ap.add_argument("--config", help="JSON or YAML file with configuration keys")
    ap.add_argument("--api-key", default=os.environ.get("DISCOURSE_DOUBLE_API_KEY"),
                    help="seed API key for the system admin user (default: $DISCOURSE_DOUBLE_API_KEY)")
    ap.add_argument("--api-username", default=None, help="user the seed key belongs to (default: system)")
    ap.add_argument("--base-url", default=os.environ.get("DISCOURSE_DOUBLE_BASE_URL"),
                    help="the URL the double says it is at (default: http://HOST:PORT)")
    ap.add_argument("--openapi", default=None, help="path of Discourse's openapi.json (default: $DISCOURSE_OPENAPI "
                                                     "or shared/discourse/openapi.json in a parent directory)")
    ap.add_argument("--profile", default=None, choices=sorted(profiles.PROFILES),
                    help=f"which Discourse to behave like (default: ${profiles.ENV} or {profiles.DEFAULT}; "
                         "see profiles.py)")
    args = ap.parse_args(argv)

    cfg = load_config(args.config)
    if args.state:
        cfg["state_dir"] = args.state
    if args.api_key:
        cfg["api_key"] = args.api_key
    if args.api_username:
        cfg["api_username"] = args.api_username
    if args.openapi:
        cfg["openapi"] = args.openapi

    profile = profiles.get(args.profile or cfg.get("profile"))

    def make_app(listening_url: str):
        cfg["base_url"] = args.base_url or cfg.get("base_url") or listening_url
        app = create_app(cfg)
        app.config["DOUBLE"]["store"].profile = profile  # read by the rules through profiles.of(store)
        return app

    def on_stop(app):
        app.config["DOUBLE"]["store"].save()
        app.config["DOUBLE"]["hooks"].stop()

    return serve(args.host, args.port, make_app, on_stop)


if __name__ == "__main__":
    raise SystemExit(main())
