"""bridge/events.py: a flow's event reaches the enabled features that subscribed, and only them."""

from __future__ import annotations

import types

from bridge import events, features


def _feature(name, enabled=True, **subscribers):
    return features.Feature(name=name, enabled=lambda settings: enabled, subscribers=subscribers)


def test_each_enabled_subscriber_hears_the_event_and_a_failing_one_fails_alone(monkeypatch):
    heard = []

    def boom(settings, engine, **data):
        raise RuntimeError("index is broken")

    installed = [
        _feature("a-broken", **{"blog.post_read": boom}),
        _feature("b-index", **{"blog.post_read": lambda s, e, **data: heard.append(("b", data))}),
        _feature("c-off", enabled=False, **{"blog.post_read": lambda s, e, **data: heard.append(("c", data))}),
        _feature("d-other", **{"forum.webhook": lambda s, e, **data: heard.append(("d", data))}),
    ]
    monkeypatch.setattr(features, "installed", lambda: installed)
    settings = types.SimpleNamespace()

    logged = []
    monkeypatch.setattr(events, "log", types.SimpleNamespace(
        error=lambda event, **kw: logged.append({"event": event, **kw})))  # structlog caches its loggers
    count = events.publish(settings, None, "blog.post_read", site="news", post_id=3, post=None)

    assert count == 1  # the broken one did not count, the disabled and the other event's did not hear
    assert heard == [("b", {"site": "news", "post_id": 3, "post": None})]
    [failed] = [e for e in logged if e["event"] == "events.subscriber_failed"]
    assert failed["feature_name"] == "a-broken" and "index is broken" in failed["error"]
