"""space-bridge backfill: existing posts get their topics, once; dry run; resumable."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from click.testing import CliRunner

from bridge.cli import main
from mirror_harness import write_wp_constants

pytestmark = pytest.mark.stack


def test_backfill_dry_run_then_mirror_then_nothing_left(mirror_env):
    env = mirror_env
    write_wp_constants(None, None)  # posts written before the bridge existed: no web hooks
    # Posts an earlier test wrote (or whose meta it bumped) a moment ago must fall before `since`,
    # and ours after it, with WordPress's one-second `modified`: let two seconds pass, look back one.
    time.sleep(2)
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    wp = env.wp()
    posts = [wp.create_post(f"Old post {i} {uuid.uuid4().hex[:6]} of the blog", f"<p>Written long ago, {i}.</p>",
                            status="publish", tags=["archive"]) for i in range(3)]
    draft = wp.create_post(f"Old draft {uuid.uuid4().hex[:6]} of the blog", "<p>Never published.</p>")
    time.sleep(1)
    runner = CliRunner()
    args = ["--config", str(env.config_path), "backfill", "--site", env.site_name, "--since", since]

    dry = runner.invoke(main, args + ["--dry-run"], catch_exceptions=False)
    assert dry.exit_code == 0, dry.output
    assert "3 to mirror" in dry.output and all(f"post {p.id} ->" in dry.output for p in posts)
    assert all(env.topics_for(p.id) == [] for p in posts)

    run = runner.invoke(main, args, catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert "created 3 topic(s)" in run.output
    assert all(len(env.topics_for(p.id)) == 1 for p in posts)
    assert env.topics_for(draft.id) == []
    assert all(wp.get_meta(p.id).topic_id for p in posts)

    again = runner.invoke(main, args, catch_exceptions=False)
    assert "3 already mirrored, 0 to mirror" in again.output
    assert all(len(env.topics_for(p.id)) == 1 for p in posts)
