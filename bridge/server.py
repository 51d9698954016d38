"""Production HTTP serving: gunicorn, configured from the bridge's settings."""

from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication


def _child_exit(server, worker):
    # Multiprocess metrics: a dead worker's live gauges must not be reported any more.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class _Gunicorn(BaseApplication):
    def __init__(self, settings, config_path):
        self.settings = settings
        self.config_path = config_path
        super().__init__()

    def load_config(self):
        b = self.settings.bridge
        self.cfg.set("bind", b.listen)
        self.cfg.set("workers", b.http_workers)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", 4)
        self.cfg.set("timeout", 60)
        self.cfg.set("graceful_timeout", 20)
        self.cfg.set("forwarded_allow_ips", "127.0.0.1,::1")
        self.cfg.set("accesslog", None)
        self.cfg.set("child_exit", _child_exit)

    def load(self):
        from bridge import config, store
        from bridge.app import create_app

        settings = config.load(self.config_path) if self.config_path else self.settings
        return create_app(settings, store.make_engine(settings.bridge.database_url))


def run_gunicorn(settings, config_path) -> None:
    _Gunicorn(settings, config_path).run()
