"""Every blog post gets its forum discussion: the outbox job that mirrors one post.

`mirror.post` (payload ``{"site", "post_id"}``) reads the post from WordPress (the web hook or
reconcile that queued the job is only a hint) and brings its Discourse topic in step:

* **create** when the post is in one of the site's `statuses` and has no topic in the mapping
  table: one `POST /posts.json` carrying title, raw, category, tags, external_id and embed_url
  (the permalink), as the author's forum account if the author logged in through Wikimedia,
  else the configured user. The forum is not asked first: when the mapping table is wrong (a
  worker killed between Discourse's answer and the mapping write, a restored database) the
  forum refuses the external id and its topic is adopted. The mapping row is written right
  after the forum answers.
* **update** title, category, tags and first post when what the post renders to changed
  (a fingerprint of the rendered topic is kept, so a save that changes nothing the topic shows
  never causes a forum edit);
* **unlist** when the post leaves the mirrored statuses (draft, pending, private, trash) or is
  deleted, **relist** when it comes back. A discussion is never deleted.

Discourse's rules are handled, not crashed on: a short title is padded (`mirror.title_padding`),
a long one cut, a duplicate gets `mirror.duplicate_title_suffix`, an "unclear" one (few
distinct letters, capitals) is spelled out, a short body gets more text. Each such case is
logged, kept in the mapping row's `note` and added to the job's payload as `notes`
(`space-bridge outbox list --json` shows it).

Discourse's `embed_unlisted` site setting creates a topic that has an `embed_url` unlisted until
its first reply; `space-bridge discourse setup` turns it off. With `mirror.relist_embedded`
(default) the mirror reads the setting (at most every ten minutes: sync/clients.py) and, where it
is on, reads the new topic back and lists it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine

from bridge.clients.discourse import DiscourseAuthError, DiscourseError, DiscourseValidationError, NotFound
from bridge.clients.errors import outbox_failure
from bridge.clients.wordpress import Post, PostNotFound, WordPressError
from bridge import events
from bridge.config import Settings, WordPressSite
from bridge.outbox import Job, Outbox, PermanentFailure, enqueue
from bridge.store import reader
from sso import members
from sync import excerpt, mapping, render
from sync.clients import MirrorClients
from sync.relay import emit as relay_emit
from sync.replies import KIND_REPLIES, handle_replies

log = structlog.get_logger(__name__)

KIND_POST = "mirror.post"

#: A duplicate title in either wording: "Title has already been used" (the unique_among
#: validation of app/models/topic.rb) and, since Discourse PR #41871 (site setting
#: duplicate_topic_titles), "This title has already been used by [another topic]".
_DUPLICATE_TITLE = re.compile(r"\btitle has already been used\b", re.IGNORECASE)
#: Topic's `validates :external_id, uniqueness: { case_sensitive: false }` (app/models/topic.rb),
#: in Rails' words for the attribute `external_id`.
_EXTERNAL_ID_TAKEN = re.compile(r"\bexternal\b.*\bhas already been taken\b", re.IGNORECASE)

#: Every status reconcile lists: the job decides (a topic is unlisted when its post leaves `statuses`).
ALL_STATUSES = ("publish", "future", "draft", "pending", "private", "trash")


def post_job_key(site: str, post_id: int, modified: str, status: str, event: str = "") -> str:
    """Site + post + modified time (+ status and event: WordPress's `modified` has one-second
    precision, and an edit and a re-publish can fall in the same second)."""
    return f"mirror:{site}:{int(post_id)}:{modified}:{status}:{event}"[:255]


def enqueue_post(conn: sa.Connection, site: str, post_id: int, modified: str, status: str,
                 source: str, event: str = "") -> tuple[int, bool]:
    """Queue the mirror job of one post version (idempotent: the same version queues one job)."""
    return enqueue(conn, KIND_POST, {"site": site, "post_id": int(post_id), "source": source,
                                     "hint": {"modified": modified, "status": status, "event": event}},
                   key=post_job_key(site, post_id, modified, status, event),
                   concurrency_key=mapping.concurrency_key(site, post_id))


@dataclass
class Outcome:
    action: str  # created, recovered, updated, unchanged, unlisted, relisted, skipped
    topic_id: int | None = None
    notes: list[str] | None = None


class Mirror(MirrorClients):
    """The mirror's handlers with their clients: one per worker process (thread-safe)."""

    # -- job handlers -------------------------------------------------------------------------
    def handle_post(self, job: Job) -> None:
        site = self.site(job.payload.get("site"))
        try:
            outcome = self.sync_post(site, int(job.payload["post_id"]))
        except (DiscourseError, WordPressError) as exc:
            raise outbox_failure(exc) from None
        log.info("mirror.post", site=site.name, post_id=job.payload["post_id"], action=outcome.action,
                 topic_id=outcome.topic_id, notes=outcome.notes or None)
        Outbox(self.engine).note(job, outcome.notes or [])

    # -- the mirror of one post -----------------------------------------------------------------
    def sync_post(self, site: WordPressSite, post_id: int, post: Post | None = None) -> Outcome:
        """Bring the post's topic in step; `post`: the post as just read (else it is read here)."""
        if post is None:
            try:
                post = self.wordpress(site.name).get_post(post_id)
            except PostNotFound:
                post = None
        # Other flows (the search index) hear of the post as read, rather than read it again.
        events.publish(self.settings, self.engine, "blog.post_read", site=site.name, post_id=post_id, post=post)
        with reader(self.engine) as conn:
            row = mapping.by_post(conn, site.name, post_id)
        wanted = post is not None and post.status in site.statuses
        if row is None:
            if not wanted:
                return Outcome("skipped")
            return self._create(site, post)
        if not wanted:
            if row["listed"]:
                self.forum.set_visible(row["topic_id"], False)
                mapping.save(self.engine, site.name, post_id, listed=False, wp_modified=post.modified if post else None)
                return Outcome("unlisted", row["topic_id"])
            if post is not None:
                mapping.save(self.engine, site.name, post_id, wp_modified=post.modified)
            return Outcome("unchanged", row["topic_id"])
        return self._update(site, post, row)

    def _create(self, site: WordPressSite, post: Post) -> Outcome:
        rendered = render.render(post, site, self.settings.mirror)
        eid = render.external_id(site.name, post.id)
        notes = list(rendered.notes)
        # No look-up first: the mapping table says the post has no topic, and when it is wrong
        # (a worker killed between the forum's answer and the mapping write, a restored
        # database, another process's job) the forum refuses the external id and the topic is
        # adopted below. A new post costs its create alone.
        title, raw = rendered.title, rendered.raw
        username = self._author(site, post)
        for _ in range(6):
            try:
                created = self.forum.create_topic(title, raw, category=rendered.category, tags=list(rendered.tags),
                                                  external_id=eid, embed_url=post.permalink, username=username)
                break
            except DiscourseAuthError:
                if username is None:
                    raise
                notes.append(f"could not post as {username}: created as the configured user")
                username = None
            except DiscourseValidationError as exc:
                if _EXTERNAL_ID_TAKEN.search(" | ".join(exc.errors) or str(exc)):
                    # The topic exists already (Topic validates external_id's uniqueness:
                    # app/models/topic.rb): adopt it, then bring it in step like any mapped topic.
                    existing = self.forum.get_topic_by_external_id(eid)
                    if existing is not None:
                        return self._recover(site, post, eid, existing)
                title, raw = self._fix(exc, title, raw, post, site, notes)
        else:
            raise PermanentFailure("Discourse kept refusing the topic: " + "; ".join(notes))
        topic_url = created.topic_url
        row = self._insert(site, post, eid, created.topic_id, topic_url, title,
                           rendered.fingerprint(True), True, "; ".join(notes) or None)
        if self.settings.mirror.relist_embedded and self.forum_unlists_embedded():
            topic = self.forum.get_topic(created.topic_id)
            if topic is not None:
                topic_url = topic.url
                if not topic.visible:
                    self.forum.set_visible(created.topic_id, True)
                    notes.append("listed the topic Discourse left unlisted (embed_unlisted)")
        self._write_meta(site, post.id, topic_id=created.topic_id, topic_url=topic_url, reply_count=0, replies=[])
        for n in notes:
            log.info("mirror.handled", site=site.name, post_id=post.id, note=n)
        if self.settings.relay.rules:
            relay_emit.post_mirrored(self.settings, self.engine, site, post, updated=False, topic_url=topic_url)
        return Outcome("created", row["topic_id"], notes)

    def _recover(self, site: WordPressSite, post: Post, eid: str, existing) -> Outcome:
        """Adopt the forum's topic of this post's external id, then bring it in step."""
        log.warning("mirror.recovered", site=site.name, post_id=post.id, topic_id=existing.id)
        row = self._insert(site, post, eid, existing.id, existing.url, existing.title, "", existing.visible,
                           "recovered by external_id")
        outcome = self._update(site, post, row)
        self._write_meta(site, post.id, topic_id=existing.id, topic_url=existing.url)
        return Outcome("recovered", existing.id, (outcome.notes or []) + ["recovered by external_id"])

    def _fix(self, exc: DiscourseValidationError, title: str, raw: str, post: Post, site: WordPressSite,
             notes: list[str]) -> tuple[str, str]:
        """Change what Discourse refused, or raise if it is nothing the mirror can change."""
        errors = " | ".join(exc.errors) or str(exc)
        m = self.settings.mirror
        changed = False
        if _DUPLICATE_TITLE.search(errors):
            title = render.dedupe_title(title, post, site, m)
            notes.append(f"duplicate title: now '{title}'")
            changed = True
        elif "Title seems unclear" in errors or "Title is too short" in errors:
            title = render.unclear_title(title, post, site)[: m.title_max_length]
            notes.append(f"title refused ({errors}): now '{title}'")
            changed = True
        elif "Title is too long" in errors:
            title = excerpt.cut_text(title, max(20, len(title) * 2 // 3))
            notes.append("title too long for the forum: cut")
            changed = True
        if "Body" in errors:
            raw = f"{raw}\n\n{m.continue_reading}: “{post.title or render.site_label(site)}” ({render.site_label(site)}, {post.permalink})"
            notes.append(f"body refused ({errors}): added the link text")
            changed = True
        if not changed:
            raise exc
        log.info("mirror.refused", site=site.name, post_id=post.id, errors=errors)
        return title, raw

    def _update(self, site: WordPressSite, post: Post, row) -> Outcome:
        rendered = render.render(post, site, self.settings.mirror)
        fingerprint = rendered.fingerprint(True)
        topic_id = row["topic_id"]
        action = "unchanged"
        notes = list(rendered.notes) if fingerprint != row["fingerprint"] else []
        if not row["listed"]:
            self.forum.set_visible(topic_id, True)
            action = "relisted"
        if fingerprint != row["fingerprint"]:
            title = rendered.title
            for _ in range(3):
                try:
                    self.forum.update_topic(topic_id, title=title, category=rendered.category, tags=list(rendered.tags))
                    break
                except DiscourseValidationError as exc:
                    title, _raw = self._fix(exc, title, "", post, site, notes)
            try:
                self.forum.update_first_post(topic_id, rendered.raw, edit_reason="the blog post was edited")
            except DiscourseValidationError as exc:
                _t, raw = self._fix(exc, title, rendered.raw, post, site, notes)
                self.forum.update_first_post(topic_id, raw, edit_reason="the blog post was edited")
            except NotFound:
                raise PermanentFailure(f"topic {topic_id} of post {post.id} is gone from the forum") from None
            mapping.save(self.engine, site.name, post.id, title=title, fingerprint=fingerprint, listed=True,
                         wp_modified=post.modified, note="; ".join(notes) or None)
            action = "updated" if action == "unchanged" else action
            if self.settings.relay.rules:
                relay_emit.post_mirrored(self.settings, self.engine, site, post, updated=True)
        else:
            mapping.save(self.engine, site.name, post.id, listed=True, wp_modified=post.modified)
        return Outcome(action, topic_id, notes)

    # -- helpers ------------------------------------------------------------------------------
    def _author(self, site: WordPressSite, post: Post) -> str | None:
        """The forum username of the member the post's author is linked to; else the site's
        `mirror_as`, else `mirror.username` (None: the API user).

        The link is the external_id a DiscourseConnect login stored on the author's WordPress
        account, which the mu-plugin reports from the server (`Author.external_id`), looked up
        by that id alone (sso/members.py). Never a name: display names, nicknames and real names are
        chosen by their owners, so matching them would let anyone post as anyone. The username
        is the one the forum has for that external id (asked, then remembered a few minutes:
        `forum_user`), not the one the bridge proposed: the forum may have given another.
        """
        fallback = site.mirror_as or self.settings.mirror.username
        sub = post.author.external_id if post.author else None
        if not self.settings.mirror.post_as_author or not sub:
            return fallback
        return members.forum_username(self.engine, sub, lookup=self.forum_user) or fallback

    def _insert(self, site: WordPressSite, post: Post, eid: str, topic_id: int, topic_url: str, title: str,
                fingerprint: str, listed: bool, note: str | None):
        return mapping.put(self.engine, site=site.name, post_id=post.id, external_id=eid, topic_id=topic_id,
                           topic_url=topic_url, title=title, fingerprint=fingerprint, listed=listed,
                           wp_modified=post.modified, note=note)

    def _write_meta(self, site: WordPressSite, post_id: int, **values) -> None:
        """Write the bridge's meta and remember the `modified` time this write gave the post."""
        written = self.wordpress(site.name).set_meta(post_id, synced_at=dt.datetime.now(dt.timezone.utc), **values)
        mapping.save(self.engine, site.name, post_id, wp_modified=written.modified)


def mirror_handlers(settings: Settings, engine: Engine) -> dict[str, Any]:
    """The mirror's job kinds, sharing one Mirror (and so one forum client and its pacing)."""
    mirror = Mirror(settings, engine)
    return {KIND_POST: mirror.handle_post, KIND_REPLIES: lambda job: handle_replies(mirror, job)}
