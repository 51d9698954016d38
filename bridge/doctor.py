"""`space-bridge doctor`: is every platform set up the way the bridge needs it, right now?

/healthz answers "is this process well" from local facts only; the doctor asks the platforms
themselves (a wrong bot password, a missing mu-plugin, a web hook secret changed on the forum,
a stopped IRC server, a skewed clock), so that such a fault shows up when it is made rather than
as dead jobs days later. One line per check, a hint for each failure, exit status 1 when any
check fails (a warning does not), and `--json` for monitoring.

The shell checks its own database here; every enabled feature contributes the checks of the
platforms it talks to through `Feature.checks` (bridge/features.py), so the shell never imports a
flow. A feature returns `Probe`s: a name, a callable and a time limit. A probe may answer several
`Check`s (a platform read once, judged on several points). Each probe runs in its own thread and
is given up after its time limit, so one platform that never answers cannot hang the command; a
probe that raises is a failed check with the exception's type and first line, never a traceback.

Secrets never appear in what the doctor prints: every secret of the loaded configuration is
replaced in each line (`scrubber`), whatever a platform or library put in an error message.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from bridge.config import Settings

__all__ = ["CLOCK_FAIL_SECONDS", "CLOCK_WARN_SECONDS", "DEFAULT_TIMEOUT", "STATUSES", "Check", "Probe",
           "clock", "clock_check", "collect", "exit_status", "fail", "ok", "run", "scrubber", "shell_probes", "warn"]

STATUSES = ("ok", "warn", "fail")
#: Seconds a probe may take before it is reported as hanging.
DEFAULT_TIMEOUT = 30.0
#: A platform clock this far from ours is worth a look: logs and "last sync" times disagree.
CLOCK_WARN_SECONDS = 60.0
#: Beyond this, signed requests fail: the mu-plugin's signed routes refuse a timestamp more than
#: 300 s away (REST_WINDOW, deploy/wordpress/space-bridge/sso.php), and the bridge's receiver of the
#: blog's web hooks those older than mirror.webhook_max_age_seconds (300 by default).
CLOCK_FAIL_SECONDS = 300.0

#: The local clock (Unix seconds) the clock checks compare with; a test replaces it to skew it.
clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class Check:
    """One check's result: `status` is ok, warn or fail; `hint` says what to do about it."""

    name: str
    status: str
    detail: str = ""
    hint: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    def line(self) -> str:
        label = {"ok": "ok", "warn": "warn", "fail": "FAIL"}[self.status]
        text = f"{label:<5} {self.name:<36} {self.detail}".rstrip()
        return text + (f"  hint: {self.hint}" if self.hint and self.status != "ok" else "")


def ok(name: str, detail: str = "") -> Check:
    return Check(name, "ok", detail)


def warn(name: str, detail: str, hint: str = "") -> Check:
    return Check(name, "warn", detail, hint)


def fail(name: str, detail: str, hint: str = "") -> Check:
    return Check(name, "fail", detail, hint)


@dataclass(frozen=True)
class Probe:
    """What a feature contributes: `run()` answers one Check or several, within `timeout` seconds."""

    name: str
    run: Callable[[], Check | Iterable[Check]]
    timeout: float = DEFAULT_TIMEOUT


def _describe(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _run_one(probe: Probe, timeout: float | None) -> list[Check]:
    limit = probe.timeout if timeout is None else timeout
    box: dict[str, Any] = {}

    def target():
        try:
            answer = probe.run()
            box["checks"] = [answer] if isinstance(answer, Check) else list(answer)
        except BaseException as exc:  # noqa: BLE001 - any failure of a probe is its failed check
            box["error"] = exc

    # A daemon thread: a probe stuck in a platform call is left behind, and does not keep the
    # command from exiting.
    thread = threading.Thread(target=target, name=f"doctor-{probe.name}", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        return [fail(probe.name, f"no answer within {limit:g} s",
                     "the platform accepts connections but does not answer, or a firewall drops them; "
                     "check that it runs and is reachable from this host")]
    if "error" in box:
        return [fail(probe.name, _describe(box["error"]), "an unexpected error; the line says where")]
    return box["checks"] or [ok(probe.name, "nothing to check")]


def run(probes: Iterable[Probe], *, timeout: float | None = None) -> Iterator[Check]:
    """Run the probes one after another, in order, and yield their checks as they come.

    `timeout` (seconds) overrides every probe's own limit."""
    for probe in probes:
        yield from _run_one(probe, timeout)


def exit_status(checks: Iterable[Check]) -> int:
    """1 when any check failed; warnings do not fail the command."""
    return 1 if any(c.status == "fail" for c in checks) else 0


def as_json(check: Check) -> dict:
    return asdict(check)


# -- the shell's own checks ----------------------------------------------------------------------
def shell_probes(settings: "Settings", engine=None) -> list[Probe]:
    """The database answers, and its schema is at the newest migration."""
    from bridge import store

    def database() -> list[Check]:
        import sqlalchemy as sa

        eng = engine if engine is not None else store.make_engine(settings.bridge.database_url)
        try:
            with store.reader(eng) as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means the database is not reachable
            return [fail("database", f"{eng.dialect.name}: {_describe(exc)}",
                         "check bridge.database_url and that the database server runs"),
                    fail("database.schema", "not checked: the database does not answer",
                         "fix the database first")]
        reached = ok("database", f"{eng.dialect.name} answers")
        current, head = store.current_revision(eng), store.head_revision(eng)
        if current is None:
            return [reached, fail("database.schema", "the database has no schema yet", "run `space-bridge db upgrade`")]
        if current != head:
            return [reached, fail("database.schema", f"at revision {current}, the bridge needs {head}",
                                  "run `space-bridge db upgrade`")]
        return [reached, ok("database.schema", f"at the newest revision {head}")]

    return [Probe("database", database)]


def collect(settings: "Settings", engine=None) -> list[Probe]:
    """The shell's probes, then those of every enabled feature, in the features' order."""
    from bridge import features

    probes = shell_probes(settings, engine)
    for feature in features.enabled(settings):
        if feature.checks is None:
            continue
        try:
            probes.extend(feature.checks(settings))
        except Exception as exc:  # noqa: BLE001 - a broken feature is one failed line, not a traceback
            error = _describe(exc)
            probes.append(Probe(feature.name, lambda error=error, name=feature.name: fail(
                name, f"the feature could not list its checks: {error}", "a bug in the feature; report it")))
    return probes


# -- secrets never printed -----------------------------------------------------------------------
def _secrets(value: Any, found: set[str]) -> None:
    if isinstance(value, SecretStr):
        text = value.get_secret_value()
        if text:
            found.update({text, text.replace(" ", "")})
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _secrets(getattr(value, name, None), found)
        for extra in (value.model_extra or {}).values():
            _secrets(extra, found)
    elif isinstance(value, dict):
        for item in value.values():
            _secrets(item, found)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _secrets(item, found)


def scrubber(settings: "Settings") -> Callable[[str], str]:
    """A function that replaces every secret of the configuration in a text by `[secret]`."""
    found: set[str] = set()
    _secrets(settings, found)
    secrets = sorted((s for s in found if len(s) >= 4), key=len, reverse=True)

    def scrub(text: str) -> str:
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, "[secret]")
        return text

    return scrub


def scrubbed(check: Check, scrub: Callable[[str], str]) -> Check:
    return Check(scrub(check.name), check.status, scrub(check.detail), scrub(check.hint))


# -- clock skew ----------------------------------------------------------------------------------
def clock_check(name: str, url: str, *, timeout: float = 10.0, session=None) -> Check:
    """Compare the platform's HTTP `Date` header with the local clock (`clock`).

    The header has whole seconds and the request takes time, so the platform's time is compared
    with the middle of the request and a second of slack is allowed before anything is said."""
    import requests

    sender = session or requests
    before = clock()
    try:
        resp = sender.get(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return warn(name, f"not checked: {url} does not answer ({type(exc).__name__})",
                    "the platform's own check says why")
    after = clock()
    date = resp.headers.get("Date")
    if not date:
        return warn(name, f"not checked: {url} sends no Date header")
    try:
        theirs = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return warn(name, f"not checked: {url} sends a malformed Date header")
    skew = theirs - (before + after) / 2
    slack = 1.0 + (after - before) / 2
    size = max(0.0, abs(skew) - slack)
    where = "ahead of" if skew > 0 else "behind"
    text = f"{abs(skew):.0f} s {where} this host"
    hint = "run NTP (systemd-timesyncd, chrony) on both hosts"
    if size > CLOCK_FAIL_SECONDS:
        return fail(name, f"{text}: signed requests are refused beyond {CLOCK_FAIL_SECONDS:.0f} s", hint)
    if size > CLOCK_WARN_SECONDS:
        return warn(name, f"{text} (more than {CLOCK_WARN_SECONDS:.0f} s)", hint)
    return ok(name, "in step with this host" if size == 0 else text)
