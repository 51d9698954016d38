"""Members choose what reaches them (issue 16): their notification settings and leaving in one click.

- `preferences`: each member's choices (table `notify_preferences`, `schema`), read by the planner;
- `web` and `page`: `/me/notifications` (after Wikimedia login) and the signed unsubscribe link;
- `unsubscribe`: the signed tokens of those links and the email headers of RFC 8058;
- `settings`: the `notify:` section of space.yaml; `feature`: how the shell finds all this.
"""
