"""What every operation handler gets and may raise.

A handler (operations.HANDLERS) takes a Ctx, the request app.py has already authenticated,
stripped of what Rails would drop and checked against the OpenAPI description, and answers
(status, body) or a Flask response; Halt lets a helper deep in a handler answer at once (a 403 or
a 404), as a Rails `raise Discourse::InvalidAccess` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response


@dataclass
class Ctx:
    store: Any
    hooks: Any
    user: dict | None
    path: dict
    query: dict
    body: Any
    request: Any
    operation: Any


class Halt(Exception):
    def __init__(self, response: Response):
        super().__init__("halt")
        self.response = response
