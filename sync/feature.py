"""The mirror feature: every blog post gets its forum topic, kept in step, with replies under the post.

Found by the shell through the `space_bridge.features` entry point (pyproject.toml). Its web hook
receivers (POST /webhooks/wordpress/<site>, POST /webhooks/discourse) are always served: they also
feed the relay (sync/relay/emit.py) and check each request against the configuration themselves;
the jobs and the periodic reconcile run when a forum and at least one blog are configured.
"""

from __future__ import annotations

import datetime as dt

import click

from bridge import cli_support, features
from sync.settings import MirrorSettings

# The flow's modules are imported when the shell calls in (see sso/feature.py for why).


def _mirrors(settings) -> bool:
    return settings.discourse is not None and bool(settings.wordpress.sites)


def _blueprints(ctx):
    from sync import discourse_hooks, discussion, wordpress_hooks

    return wordpress_hooks.bp, discourse_hooks.bp, discussion.bp


def _handlers(settings, engine):
    from sync.mirror import mirror_handlers

    return mirror_handlers(settings, engine) if _mirrors(settings) else {}


def _schedule(scheduler, settings, engine) -> None:
    from sync.reconcile import reconcile_all

    if _mirrors(settings):
        scheduler.every(settings.mirror.reconcile_interval_seconds, lambda: reconcile_all(settings, engine),
                        "mirror-reconcile")


@click.command()
@click.option("--site", "site_name", required=True, help="The WordPress site (wordpress.sites[].name).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None,
              help="Only posts modified since this date (UTC); default: every post.")
@click.option("--dry-run", is_flag=True, help="Only list what would be mirrored.")
@click.option("--threads", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Posts mirrored at a time (all share discourse.requests_per_minute).")
@click.pass_context
def backfill(ctx, site_name, since, dry_run, threads):
    """Mirror a site's existing posts to the forum (resumable: run it again after a stop)."""
    from sync import backfill as bf
    from sync.mirror import Mirror

    settings = cli_support.load(ctx)
    if settings.discourse is None:
        raise click.ClickException(f"no discourse section in {settings.source}")
    try:
        settings.site(site_name)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    engine = cli_support.engine(settings)
    mirror = Mirror(settings, engine, max_wait=None)
    if since is not None:
        since = since.replace(tzinfo=dt.timezone.utc)
    report = bf.plan(settings, engine, site_name, since, mirror)
    eta = report.eta_seconds(settings, report.todo)
    click.echo(f"{report.listed} post(s) listed, {report.already} already mirrored, {len(report.todo)} to mirror; "
               f"about {eta / 60:.1f} min at {settings.discourse.requests_per_minute} forum requests a minute")
    if dry_run:
        for post in report.todo:
            click.echo("  " + bf.describe(post, settings, site_name))
        return
    remaining = list(report.todo)

    def eta_label(_item):
        return f"ETA {bf.Report(read_back=report.read_back).eta_seconds(settings, remaining) / 60:.1f} min (forum budget)"

    with click.progressbar(length=len(remaining), label="mirroring", show_eta=False, show_pos=True,
                           item_show_func=eta_label) as bar:
        def done(post):
            remaining.remove(post)
            bar.update(1, post)

        bf.run(settings, engine, site_name, report, mirror, threads=threads, on_done=done)
    click.echo(f"created {report.created} topic(s) in {report.seconds:.1f} s; {len(report.failed)} failed")
    for post_id, error in report.failed:
        click.echo(f"  post {post_id}: {error}", err=True)
    ctx.exit(1 if report.failed else 0)


FEATURE = features.Feature(
    name="mirror",
    config_sections={"mirror": MirrorSettings},
    blueprints=_blueprints,
    handlers=_handlers,
    schedule=_schedule,
    commands=lambda: (backfill,),
    checks=lambda settings: __import__("sync.checks", fromlist=["probes"]).probes(settings),  # `space-bridge doctor`
)
