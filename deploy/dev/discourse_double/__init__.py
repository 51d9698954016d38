"""Discourse double: a local stand-in for Discourse for tests and `make run`.

`create_app(config)` builds the Flask app; `python -m discourse_double --host H --port P --state DIR`
(with deploy/dev on PYTHONPATH) serves it. See app.py for how a request is checked."""

from .app import create_app

__all__ = ["create_app"]
