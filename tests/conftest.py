"""Shared fixtures: the local stack of real platforms, and databases for the store."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

# Metrics are created in this process's memory: the CLI points prometheus_client at a shared
# directory only when it is not imported yet, which must not happen half-way through a test run.
import bridge.metrics  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
STACK_SCRIPT = REPO / "deploy" / "dev" / "stack.sh"


def _stack_state_dir() -> Path:
    return Path(os.environ.get("SPACE_DEV_STATE", REPO / ".dev"))


@pytest.fixture(scope="session")
def stack() -> dict:
    """The local stack of real WordPress, MediaWiki and ngircd, started once per test session.

    `stack.sh up` is idempotent, so a stack already running (from `make run`, or an earlier
    session) is reused, and only a stack this session started is stopped at the end.
    """
    was_running = subprocess.run(["bash", str(STACK_SCRIPT), "status"], capture_output=True).returncode == 0
    subprocess.run(["bash", str(STACK_SCRIPT), "up"], check=True)
    info = json.loads((_stack_state_dir() / "stack.json").read_text())
    yield info
    if not was_running and not os.environ.get("SPACE_KEEP_STACK"):
        subprocess.run(["bash", str(STACK_SCRIPT), "down"], check=False)


# -- databases ----------------------------------------------------------------------------
POSTGRES_ADMIN_URL = os.environ.get("SPACE_TEST_POSTGRES_URL", "postgresql://space_bridge:space_bridge@127.0.0.1:5432/postgres")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database of each supported kind; the store's tests run against both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/bridge.db"
    from bridge.store import create_empty_database

    return create_empty_database(POSTGRES_ADMIN_URL, f"space_bridge_test_{os.getpid()}")


@pytest.fixture
def engine(db_url):
    """An engine on a migrated, empty database."""
    from bridge import store

    eng = store.make_engine(db_url)
    store.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def settings_file(tmp_path, db_url):
    """A minimal valid configuration file using the test database."""
    path = tmp_path / "space.yaml"
    path.write_text(
        "bridge:\n"
        "  public_url: http://127.0.0.1:8090\n"
        "  secret_key: test-secret-key-0123456789abcdef0123\n"
        f"  database_url: {db_url}\n"
        f"  state_dir: {tmp_path}/state\n"
        "  log_format: json\n"
        "outbox:\n"
        "  poll_interval_seconds: 0.1\n"
        "  lease_seconds: 2\n"
        "  backoff_base_seconds: 0.05\n"
        "  backoff_max_seconds: 0.2\n"
    )
    return path


@pytest.fixture(scope="session")
def pip_install(tmp_path_factory):
    """Install a test distribution (a third party's plug-in) with pip into a folder of its own, as
    site-packages would hold it, and return that folder (for sys.path or PYTHONPATH). Offline: no
    index, no build isolation; pip builds in place, so it builds a copy and the tree stays clean."""
    import shutil
    import sys

    def install(source: Path) -> Path:
        copy = tmp_path_factory.mktemp("src") / source.name
        shutil.copytree(source, copy)
        site = tmp_path_factory.mktemp("site")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--no-index", "--target", str(site), str(copy)], check=True)
        return site

    return install


@pytest.fixture
def importable(monkeypatch):
    """Make an installed test distribution (a folder from `pip_install`) importable in this process
    for one test, as if it were in site-packages; its top-level module is forgotten afterwards, so
    the next test sees a process without the plug-in."""
    import sys

    modules: list[str] = []

    def on_path(site: Path, module: str) -> Path:
        monkeypatch.syspath_prepend(str(site))
        modules.append(module)
        return site

    yield on_path
    for module in modules:
        sys.modules.pop(module, None)


# -- the Discourse double: nothing the bridge sends is dropped ------------------------------------
@pytest.fixture(autouse=True)
def _forum_drops_no_parameter(request):
    """A test with a Discourse double as `forum` fails if a request made during it sent a parameter
    real Discourse would drop. The double takes such a request, as Rails' strong parameters do (so
    third-party clients keep working), and records the parameter as a `dropped_parameter`
    violation; this is where that strictness applies to the bridge. The double's own suite
    (tests/deploy) sends such parameters on purpose and checks them itself."""
    forum = None
    if "forum" in request.fixturenames and "deploy" not in request.node.path.relative_to(REPO / "tests").parts[:1]:
        value = request.getfixturevalue("forum")
        if type(value).__name__ == "DiscourseDouble":
            forum = value

    def dropped() -> dict:
        return {(v["time"], v["method"], v["path"], v["param"]): v for v in forum.violations()
                if v.get("kind") == "dropped_parameter"}

    before = dropped() if forum is not None else {}
    yield
    if forum is not None:
        new = [v for k, v in dropped().items() if k not in before]
        assert not new, "the bridge sent parameters Discourse drops: " + "; ".join(
            f"{v['route']} {v['param']} ({v.get('source')})" for v in new)


# -- the local stack's real MediaWiki, for the client's, the relay's and notify's wiki tests -------------------------
WIKI_UA = "space-bridge-tests/0 (wiki delivery)"


@pytest.fixture(scope="module")
def mw(stack):
    return stack["mediawiki"]


@pytest.fixture(scope="module")
def bot(mw):
    """The bridge's bot password on the wiki, through the bridge's own client."""
    from bridge.clients.mediawiki import MediaWikiClient

    with MediaWikiClient(mw["api_url"], mw["bot_user"], mw["bot_password"], user_agent=WIKI_UA) as c:
        yield c


@pytest.fixture(scope="module")
def member(mw):
    """Someone editing the wiki by hand (the stack's admin account, not the bridge's bot password)."""
    from urllib.parse import urlsplit

    import mwclient

    api = urlsplit(mw["api_url"])
    site = mwclient.Site(api.netloc, path=api.path.rpartition("/")[0] + "/", scheme=api.scheme,
                         clients_useragent=WIKI_UA)
    site.clientlogin(username=mw["admin_user"], password=mw["admin_password"])
    return site


class LogRecorder:
    """Stands in for a module's structlog logger: structlog caches a module's logger once the
    bridge's logging is configured by an earlier test, so structlog.testing.capture_logs sees
    nothing in a full run; replacing the module's `log` works whatever ran before."""

    def __init__(self):
        self.entries: list[dict] = []

    def __getattr__(self, level):
        return lambda event, **kw: self.entries.append({"level": level, "event": event, **kw})


@pytest.fixture
def record_logs(monkeypatch):
    """`record_logs(module)`: the module's log lines from now on (a list of dicts: level, event,
    fields), for this test only."""

    def record(module) -> list[dict]:
        recorder = LogRecorder()
        monkeypatch.setattr(module, "log", recorder)
        return recorder.entries

    return record
