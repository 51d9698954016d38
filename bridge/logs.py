"""Structured logs: one JSON object per line in production, readable lines in development.

Logs from libraries (gunicorn, werkzeug, alembic, urllib3) go through the same renderer, so
an operator greps one format. Values under keys that name a secret are masked here as a
last line of defence; the configuration already holds secrets as SecretStr.
"""

from __future__ import annotations

import logging
import re
import sys

import structlog

_SECRET_KEY = re.compile(r"(secret|password|passwd|token|api[_-]?key|authorization|cookie|sig$)", re.I)
REDACTED = "[redacted]"


def redact_secrets(_logger, _name, event_dict):
    for key in list(event_dict):
        if _SECRET_KEY.search(key) and event_dict[key] is not None:
            event_dict[key] = REDACTED
    return event_dict


def configure(fmt: str = "json", level: str = "info", stream=None) -> None:
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "apscheduler.executors", "apscheduler.scheduler", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
