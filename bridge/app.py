"""The Flask application factory: every HTTP entry point of the bridge is registered here."""

from __future__ import annotations

import io
import time

import sqlalchemy as sa
import structlog
from flask import Flask, Response, abort, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from bridge import features, metrics, store
from bridge.config import Settings
from bridge.outbox import Outbox

log = structlog.get_logger(__name__)

#: The bridge's own cookie name, so it never collides with another app's `session` on a shared host.
SESSION_COOKIE = "space_bridge_session"


def _read_at_most(stream, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is longer than `limit` bytes (400 when the chunked
    encoding is broken or the client stops half-way: the server's reader raises then)."""
    body = bytearray()
    while len(body) <= limit:
        try:
            chunk = stream.read(limit + 1 - len(body))
        except Exception:  # noqa: BLE001 - gunicorn's InvalidChunkSize, NoMoreData, ... (gunicorn/http/errors.py)
            abort(400, "the chunked request body is malformed or incomplete")
        if not chunk:
            return bytes(body)
        body += chunk
    abort(413)


def create_app(settings: Settings, engine: sa.Engine | None = None) -> Flask:
    app = Flask("space_bridge")
    app.config["SECRET_KEY"] = settings.bridge.secret_key.get_secret_value()
    app.config["SESSION_COOKIE_NAME"] = SESSION_COOKIE
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.bridge.public_url.startswith("https://")
    # Werkzeug refuses (413) a declared Content-Length above this when a view reads the body, but
    # cuts a chunked body there without a word (LimitedStream.readall); the hook below refuses
    # both before any view runs.
    app.config["MAX_CONTENT_LENGTH"] = settings.bridge.max_body_bytes
    engine = engine or store.make_engine(settings.bridge.database_url)
    outbox = Outbox(engine, settings.outbox)
    app.extensions["space_bridge"] = {"settings": settings, "engine": engine, "outbox": outbox}

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.before_request
    def _refuse_big_bodies():
        limit = settings.bridge.max_body_bytes
        if (request.content_length or 0) > limit:
            abort(413)
        if request.content_length is None and request.environ.get("wsgi.input_terminated") \
                and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            # Werkzeug would cut a chunked body at the limit without a word (LimitedStream.readall
            # stops there), so it is read here, one byte past the limit at most.
            request.environ["wsgi.input"] = io.BytesIO(_read_at_most(request.environ["wsgi.input"], limit))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        limit = settings.bridge.max_body_bytes
        return jsonify(error="request body too large", max_bytes=limit,
                       detail=f"this bridge accepts request bodies of at most {limit} bytes "
                              "(bridge.max_body_bytes)"), 413

    @app.after_request
    def _count(response):
        endpoint = request.endpoint or "unknown"
        metrics.HTTP_REQUESTS.labels(endpoint=endpoint, method=request.method, status=response.status_code).inc()
        metrics.HTTP_LATENCY.labels(endpoint=endpoint).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    @app.get("/healthz")
    def healthz():
        """200 when the database answers and its schema is current; 503 says what is wrong."""
        try:
            with store.reader(engine) as conn:
                conn.execute(sa.text("SELECT 1"))
            current, head = store.current_revision(engine), store.head_revision(engine)
        except Exception as exc:  # noqa: BLE001 - any failure is an unhealthy database
            log.warning("healthz.database_unreachable", error=str(exc).splitlines()[0])
            return jsonify(status="error", database="unreachable"), 503
        if current != head:
            return jsonify(status="error", database="schema not migrated",
                           hint="run: space-bridge db upgrade", current=current, expected=head), 503
        checks = {}
        for feature in app.extensions["space_bridge"]["features"]:
            for name, result in (feature.health(context) if feature.health is not None else {}).items():
                checks[f"{feature.name}.{name}"] = result
        failed = sorted(name for name, result in checks.items() if not result.ok)
        body = {"status": "error" if failed else "ok", "database": "ok", "schema": current}
        if checks:
            body["checks"] = {name: result.detail for name, result in checks.items()}
        return jsonify(body), 503 if failed else 200

    @app.get("/metrics")
    def metrics_endpoint():
        refusal = metrics.refusal(request, settings.bridge)
        if refusal is not None:
            return refusal
        body, content_type = metrics.render(outbox)
        return Response(body, content_type=content_type)

    # The flows: login, mirror, relay, ... each adds its routes (bridge/features.py).
    context = features.Context(settings, engine, outbox)
    enabled = features.enabled(settings)
    for feature in enabled:
        if feature.init_app is not None:
            feature.init_app(app, context)
        for blueprint in feature.blueprints(context) if feature.blueprints is not None else ():
            app.register_blueprint(blueprint)
    app.extensions["space_bridge"]["features"] = enabled

    return app
