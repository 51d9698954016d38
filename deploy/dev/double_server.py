"""What the doubles' command lines share: their config file, and serving until SIGTERM.

A double binds its port first (port 0 picks a free one), builds its app with the URL it really
listens at, prints `ready http://HOST:PORT` (the test helpers wait for that line) and serves.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server


def load_config(path: str | None) -> dict:
    """A JSON or YAML file of configuration keys (none: empty)."""
    if not path:
        return {}
    text = Path(path).read_text()
    if path.endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text) or {}
    return json.loads(text)


def serve(host: str, port: int, make_app: Callable[[str], Flask], on_stop: Callable[[Flask], None] | None = None) -> int:
    """Serve `make_app(base_url)` on host:port until SIGTERM or Ctrl-C."""
    server = make_server(host, port, Flask("placeholder"), threaded=True)
    app = make_app(f"http://{host}:{server.server_port}")
    server.app = app

    def stop(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"ready http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if on_stop:
            on_stop(app)
        server.server_close()
    return 0
