"""`space-bridge search …`: the index's commands for operators (sync/search/reindex.py does the work)."""

from __future__ import annotations

import click

from bridge import cli_support


@click.group("search")
def search_group():
    """The search index of the blogs and the forum."""


@search_group.command("reindex")
@click.option("--source", type=click.Choice(["blog", "forum"]), default=None,
              help="Only the blogs or only the forum (default: both).")
@click.option("--site", "site_name", default=None, help="Only this blog (wordpress.sites[].name).")
@click.option("--restart", is_flag=True, help="Start from the beginning even if a run was stopped midway.")
@click.pass_context
def reindex(ctx, source, site_name, restart):
    """Build the index again from the blogs and the forum (resumable: run it again after a stop)."""
    from sync.search import feed
    from sync.search import reindex as ri

    settings = cli_support.load(ctx)
    if getattr(settings, "search", None) is None or not settings.search.enabled:
        raise click.ClickException(f"search is not enabled in {settings.source} (search: enabled: true)")
    if site_name is not None:
        if source == "forum":
            raise click.ClickException("--site names a blog; it cannot go with --source forum")
        try:
            settings.site(site_name)
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from None
        source = "blog"
    engine = cli_support.engine(settings)
    failed = False
    if source in (None, "blog"):
        from bridge import platforms
        from bridge.clients.wordpress import WordPressError

        for site in settings.wordpress.sites:
            if site_name is not None and site.name != site_name:
                continue
            run = ri.begin(engine, f"blog:{site.name}", restart)
            try:
                with platforms.wordpress(settings, site.name) as client:
                    click.echo(f"{site.name}: listing posts" + (f" modified since {run.position} (resuming)"
                                                                if run.resumed and run.position else ""))
                    posts = ri.blog_posts(client, run)
                    with click.progressbar(length=len(posts), label=f"{site.name}", show_pos=True) as bar:
                        ri.reindex_blog(settings, engine, site.name, run, posts, on_done=lambda _p: bar.update(1))
                    try:
                        feed.refresh_views(settings, engine, site.name, client)
                    except WordPressError as exc:  # no counter on this blog: order:views has no blog views
                        click.echo(f"{site.name}: view counts not read: {exc}", err=True)
            except WordPressError as exc:
                click.echo(f"{site.name}: stopped, the blog did not answer: {exc}; run the command again "
                           "to go on from here", err=True)
                failed = True
                continue
            click.echo(f"{site.name}: {run.indexed} post(s) in the index, {run.removed} taken out")
    if source in (None, "forum"):
        if settings.discourse is None:
            if source == "forum":
                raise click.ClickException(f"no discourse section in {settings.source}")
        else:
            from bridge.clients.discourse import DiscourseError

            forum = feed.ForumFeed(settings, engine)
            run = ri.begin(engine, f"forum:{ri.FORUM_SITE}", restart)
            try:
                click.echo("forum: listing topics" + (f" after topic {run.position} (resuming)"
                                                      if run.resumed and run.position else ""))
                ids = ri.forum_topic_ids(forum, run)
                rpm = settings.discourse.requests_per_minute
                click.echo(f"forum: {len(ids)} topic(s), about {len(ids) / rpm:.1f} min at {rpm} forum requests a minute")
                with click.progressbar(length=len(ids), label="forum", show_pos=True) as bar:
                    ri.reindex_forum(settings, engine, forum, run, ids, on_done=lambda _t: bar.update(1))
            except DiscourseError as exc:
                click.echo(f"forum: stopped, the forum did not answer: {exc}; run the command again to go on "
                           "from here", err=True)
                failed = True
            else:
                click.echo(f"forum: {run.indexed} post(s) in the index, {run.removed} taken out")
    ctx.exit(1 if failed else 0)
