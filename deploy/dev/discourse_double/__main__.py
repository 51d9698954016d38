"""Run the Discourse double as an HTTP server.

    python -m discourse_double --host 127.0.0.1 --port 8070 --state DIR [--config FILE]
    python deploy/dev/discourse_double/__main__.py ...           (the same, without PYTHONPATH)

Options may also come from the environment: DISCOURSE_DOUBLE_API_KEY (seed key of the `system`
admin user), DISCOURSE_DOUBLE_BASE_URL, DISCOURSE_OPENAPI (the API description). --config names a
JSON or YAML file with any of the keys of app.DEFAULT_CONFIG (e.g. site_settings, rate_limit).
Prints `ready http://HOST:PORT` once listening (port 0 picks a free port).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "discourse_double"  # noqa: A001

from werkzeug.serving import make_server  # noqa: E402

from discourse_double.app import create_app  # noqa: E402


def load_config(path: str | None) -> dict:
    if not path:
        return {}
    text = Path(path).read_text()
    if path.endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text) or {}
    return json.loads(text)


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

    # bind first so that port 0 resolves, then build the app with the real base URL
    from flask import Flask

    server = make_server(args.host, args.port, Flask("placeholder"), threaded=True)
    port = server.server_port
    cfg.setdefault("base_url", args.base_url or f"http://{args.host}:{port}")
    if args.base_url:
        cfg["base_url"] = args.base_url
    app = create_app(cfg)
    server.app = app

    def stop(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"ready http://{args.host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.config["DOUBLE"]["store"].save()
        app.config["DOUBLE"]["hooks"].stop()
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
