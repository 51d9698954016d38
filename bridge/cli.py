"""The `space-bridge` command: configuration checks, database, service, worker and outbox."""

from __future__ import annotations

import json
import signal
import threading

import click

from bridge import cli_support, features
from bridge import config as config_mod


_load = cli_support.load
_engine = cli_support.engine
_prepare_process = cli_support.prepare_process


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help=f"Configuration file (default: ${config_mod.CONFIG_ENV_VAR} or {config_mod.DEFAULT_CONFIG_PATH}).")
@click.version_option(package_name="space-bridge")
def main(config_path):
    """Space bridge: Wikimedia login, WordPress-Discourse mirroring and relay for the Space."""


# -- config -------------------------------------------------------------------------------
@main.group("config")
def config_group():
    """Inspect the configuration."""


@config_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@click.pass_context
def config_check(ctx, file):
    """Validate FILE (or the configured file): prints ok, or every problem with its key path."""
    path = file or ctx.find_root().params.get("config_path")
    try:
        config_mod.load(path)
    except config_mod.ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"{exc.path}: {problem}", err=True)
        click.echo(f"{len(exc.problems)} problem(s) found", err=True)
        ctx.exit(1)
    click.echo("ok")


# -- database -----------------------------------------------------------------------------
@main.group("db")
def db_group():
    """The bridge's database schema."""


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx):
    """Create or migrate the schema to the current version (safe to repeat)."""
    from bridge import store

    engine = _engine(_load(ctx))
    before = store.current_revision(engine)
    store.upgrade(engine)
    after = store.current_revision(engine)
    click.echo(f"schema at {after}" + ("" if before != after else " (already current)"))


@db_group.command("current")
@click.pass_context
def db_current(ctx):
    """Print the schema revision and whether it is current."""
    from bridge import store

    engine = _engine(_load(ctx))
    current, head = store.current_revision(engine), store.head_revision(engine)
    click.echo(f"{current or 'empty'} (head {head})")
    ctx.exit(0 if current == head else 1)


# -- service ------------------------------------------------------------------------------
@main.command()
@click.option("--dev", is_flag=True, help="Flask's development server (reloader off); never in production.")
@click.pass_context
def serve(ctx, dev):
    """Answer HTTP: web hooks, login, health and metrics (gunicorn)."""
    settings = _load(ctx)
    host, _, port = settings.bridge.listen.rpartition(":")
    if dev:
        from bridge.app import create_app

        create_app(settings).run(host=host, port=int(port), debug=False, use_reloader=False, threaded=True)
        return
    from bridge.server import run_gunicorn

    run_gunicorn(settings, ctx.find_root().params.get("config_path"))


@main.command()
@click.option("--threads", type=click.IntRange(1, 64), default=None, help="Job threads (default: outbox.workers).")
@click.option("--no-scheduler", is_flag=True, help="Do not take part in running periodic jobs.")
@click.pass_context
def worker(ctx, threads, no_scheduler):
    """Run outbox jobs and periodic jobs until SIGTERM or Ctrl-C."""
    settings = _load(ctx)  # first: it points metrics at the shared directory before they are created
    from bridge.jobs import handlers, schedule
    from bridge.outbox import Outbox, Worker
    from bridge.scheduler import LeaderLease, LeaderScheduler

    engine = _engine(settings)
    outbox = Outbox(engine, settings.outbox)
    w = Worker(outbox, handlers(settings, engine), threads=threads)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sched = None
    if not no_scheduler:
        sched = LeaderScheduler(LeaderLease(engine, "scheduler", holder=w.name))
        schedule(sched, settings, engine)
        sched.start()
    running = w.start()
    stop.wait()
    w.stop(running)
    if sched:
        sched.stop()


# -- platforms ----------------------------------------------------------------------------
@main.group("platforms")
def platforms_group():
    """The platforms the bridge talks to."""


@platforms_group.command("check")
@click.pass_context
def platforms_check(ctx):
    """Log in to each configured platform once and say whether it worked."""
    from bridge.platforms import check_all

    results = check_all(_load(ctx))
    for r in results:
        click.echo(f"{'ok  ' if r.ok else 'FAIL'} {r.platform}: {r.detail}")
    if not results:
        click.echo("no platforms configured")
    ctx.exit(0 if all(r.ok for r in results) else 1)


# -- doctor -------------------------------------------------------------------------------
@main.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON list of {name, status, detail, hint} for monitoring.")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=None,
              help="Seconds each check may take (default: each check's own, 30 s for most).")
@click.pass_context
def doctor(ctx, as_json, timeout):
    """Check the database and every platform the enabled features use; exit 1 on any failure.

    One line per check (ok, warn or FAIL), with a hint for each problem. Reads only: nothing is
    sent to members, channels or mailing lists.
    """
    from bridge import doctor as doc

    settings = _load(ctx)
    scrub = doc.scrubber(settings)
    results = []
    for check in doc.run(doc.collect(settings), timeout=timeout):
        check = doc.scrubbed(check, scrub)
        results.append(check)
        if not as_json:
            click.echo(check.line())
    if as_json:
        click.echo(json.dumps([doc.as_json(c) for c in results], ensure_ascii=False, indent=1))
    else:
        counts = {s: sum(c.status == s for c in results) for s in doc.STATUSES}
        click.echo(f"{counts['ok']} ok, {counts['warn']} warning(s), {counts['fail']} failure(s)")
    ctx.exit(doc.exit_status(results))


# -- outbox -------------------------------------------------------------------------------
def _outbox(settings):
    """The outbox of a migrated database; a ClickException saying what to run on a database
    that has no schema yet (instead of a traceback about a missing table)."""
    from bridge import store
    from bridge.outbox import Outbox

    engine = _engine(settings)
    if store.current_revision(engine) is None:
        raise click.ClickException("the database has no schema yet: run `space-bridge db upgrade`")
    return Outbox(engine, settings.outbox)


@main.group("outbox")
def outbox_group():
    """Inspect and revive queued work."""


@outbox_group.command("list")
@click.option("--state", type=click.Choice(["pending", "running", "done", "dead"]), default=None)
@click.option("--kind", default=None, help="Only jobs of this kind.")
@click.option("--limit", type=click.IntRange(1, 100000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def outbox_list(ctx, state, kind, limit, as_json):
    """List jobs, newest first, with their last error."""
    ob = _outbox(_load(ctx))
    jobs = ob.list(state=state, kind=kind, limit=limit)
    if as_json:
        for j in jobs:
            click.echo(json.dumps({
                "id": j.id, "kind": j.kind, "key": j.key, "state": j.state, "attempts": j.attempts,
                "run_after": j.run_after.isoformat() + "Z", "created_at": j.created_at.isoformat() + "Z",
                "last_error": j.last_error, "payload": j.payload}, ensure_ascii=False))
        return
    counts = ob.counts()
    click.echo("  ".join(f"{k}: {v}" for k, v in counts.items()))
    if not jobs:
        click.echo("no jobs" + (f" in state {state}" if state else ""))
        return
    click.echo(f"{'ID':>8}  {'STATE':<8} {'TRIES':>5}  {'NEXT RUN (UTC)':<19}  {'KIND':<24} KEY")
    for j in jobs:
        click.echo(f"{j.id:>8}  {j.state:<8} {j.attempts:>5}  {j.run_after:%Y-%m-%d %H:%M:%S}  {j.kind:<24} {j.key}")
        if j.last_error:
            click.echo(f"{'':>10}last error: {j.last_error.splitlines()[-1][:200]}")
        for note in j.payload.get("notes") or ():
            click.echo(f"{'':>10}note: {note}")


@outbox_group.command("probe")
@click.pass_context
def outbox_probe(ctx):
    """Queue a job that does nothing: `outbox list` shows it done once a worker runs."""
    import uuid

    job_id, _ = _outbox(_load(ctx)).enqueue(
        "bridge.probe", {"note": "space-bridge outbox probe"}, key=f"probe:{uuid.uuid4()}")
    click.echo(f"queued probe job {job_id}")


@outbox_group.command("retry")
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--all-dead", is_flag=True, help="Revive every dead job.")
@click.pass_context
def outbox_retry(ctx, job_ids, all_dead):
    """Run dead (or backing-off) jobs again now, with a fresh set of attempts."""
    if bool(job_ids) == all_dead:
        raise click.UsageError("give job IDs or --all-dead (not both)")
    revived = _outbox(_load(ctx)).retry(job_ids, all_dead=all_dead)
    missing = sorted(set(job_ids) - set(revived))
    if revived:
        click.echo(f"queued again: {', '.join(map(str, revived))}")
    else:
        click.echo("nothing to retry")
    if missing:
        click.echo(f"not retried (unknown, running or already done): {', '.join(map(str, missing))}", err=True)
        ctx.exit(1)


# -- discourse ----------------------------------------------------------------------------
@main.group("discourse")
def discourse_group():
    """The forum: configure it for the bridge."""


@discourse_group.command("setup")
@click.option("--dry-run", is_flag=True, help="Only read the forum and print what would change.")
@click.pass_context
def discourse_setup(ctx, dry_run):
    """Make the forum use the bridge: DiscourseConnect, the bridge's web hook, the categories.

    Safe to repeat: each item is reported as created, updated or unchanged, and a forum that
    is already set up is not written to.
    """
    from bridge.clients.discourse import DiscourseError
    from bridge.discourse_setup import run_setup
    from bridge.platforms import discourse

    settings = _load(ctx)
    if settings.discourse is None:
        raise click.ClickException(f"no discourse section in {settings.source}")
    click.echo(f"{'dry run: ' if dry_run else ''}setting up {settings.discourse.url} for {settings.bridge.public_url}")
    try:
        with discourse(settings) as client:
            report = run_setup(settings, client, dry_run=dry_run)
    except DiscourseError as exc:
        raise click.ClickException(str(exc)) from None
    for item in report.items:
        click.echo(item.line())
    click.echo(report.summary())
    ctx.exit(1 if report.errors else 0)


# -- the features' own commands (bridge/features.py) -----------------------------------------
def _add_feature_commands() -> None:
    try:
        installed = features.installed()
    except features.FeatureError as exc:  # the configuration check names it too; other commands still run
        click.echo(f"warning: {exc}", err=True)
        return
    for feature in installed:
        for command in feature.commands() if feature.commands else ():
            if command.name in main.commands:
                click.echo(f"warning: feature '{feature.name}' command '{command.name}' hides a command of the "
                           "same name", err=True)
            main.add_command(command)


_add_feature_commands()
