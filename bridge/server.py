"""Production HTTP serving: gunicorn, configured from the bridge's settings."""

from __future__ import annotations

import os

from gunicorn import glogging
from gunicorn.app.base import BaseApplication

# Imported here, not in the hook: the hook runs in a SIGCHLD handler, which may interrupt the
# master half-way through importing the same module.
from prometheus_client import multiprocess

class _Logger(glogging.Logger):
    """gunicorn's loggers hand their records to the root logger that bridge.logs set up, so
    production logs stay one JSON object per line, gunicorn's included."""

    def setup(self, cfg):
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers[:] = []
            logger.propagate = True


def _child_exit(server, worker):
    # Multiprocess metrics: a dead worker's live gauges must not be reported any more.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
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
        self.cfg.set("logger_class", _Logger)

    def load(self):
        from bridge import config, store
        from bridge.app import create_app

        settings = config.load(self.config_path) if self.config_path else self.settings
        return create_app(settings, store.make_engine(settings.bridge.database_url))


def run_gunicorn(settings, config_path) -> None:
    _Gunicorn(settings, config_path).run()
