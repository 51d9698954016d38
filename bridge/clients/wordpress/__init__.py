"""WordPress client: posts and the post meta the bridge owns, over REST or XML-RPC.

One class, :class:`WordPressClient`, with the same operations and the same results over
both of WordPress's remote APIs:

* ``transport="rest"`` (default): the REST API (``/wp-json/wp/v2``), authenticated with an
  *Application Password* (WordPress >= 5.6) sent as HTTP Basic auth.
* ``transport="xmlrpc"``: ``xmlrpc.php`` through python-wordpress-xmlrpc, authenticated with
  the account password (an Application Password works there too since WordPress 5.6).

Results are plain frozen dataclasses (:class:`Post`, :class:`Author`, :class:`BridgeMeta`), so
callers never see a transport's raw shape.

Modules: :mod:`.client` (the public class), :mod:`.rest_transport` and :mod:`.xmlrpc_transport`
(one backend each), :mod:`.meta` (the meta codec below), :mod:`.models`, :mod:`.errors`, and
:mod:`.accounts`, the admin client for the mu-plugin's signed routes (log a member out,
demote). Import the public names from this package.

The bridge's own post meta
--------------------------
The bridge stores its state about a post in post meta whose keys all start with
:data:`META_PREFIX` (``_space_bridge_``).  The mu-plugin ``deploy/wordpress/space-bridge.php``
registers exactly these keys (see :data:`META_FIELDS`); keep the two lists in step.

=================================  ======================  ===================================
WordPress meta key                 :class:`BridgeMeta`      stored as
=================================  ======================  ===================================
``_space_bridge_topic_id``         ``topic_id: int``        decimal string
``_space_bridge_topic_url``        ``topic_url: str``       string
``_space_bridge_reply_count``      ``reply_count: int``     decimal string
``_space_bridge_replies``          ``replies: JSON value``  compact JSON text
``_space_bridge_synced_at``        ``synced_at: datetime``  ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)
=================================  ======================  ===================================

All keys are registered as single ``string`` meta, so both APIs carry the same text and an
empty string means "not set" on both (the REST API reports an unset string meta as ``""``).
The keys start with ``_`` so that WordPress treats them as *protected* meta: they are hidden
from the editor's "Custom Fields" box (whose stale form values would otherwise overwrite what
the bridge wrote while an editor had the post open).  Protected meta is only readable and
writable over XML-RPC because the mu-plugin registers an ``auth_callback`` for each key:
``map_meta_cap()`` (wp-includes/capabilities.php, ``case 'edit_post_meta'``) starts from
``! is_protected_meta()`` and then applies the ``auth_post_meta_{$key}_for_post`` filter that
``register_meta()`` (wp-includes/meta.php) installs for the callback.  Without the mu-plugin the
REST API silently ignores the keys and XML-RPC silently hides them, so this client refuses to
read or write bridge meta when it cannot see the mu-plugin (:class:`BridgeMetaUnavailable`)
rather than report a post as "not yet synced".

Meta is written through the mu-plugin's own route and method, which write the meta alone: the
posts route and wp.editPost would save the whole post (``wp_update_post()``), and could undo an
editor's change made at the same moment. :meth:`WordPressClient.set_meta` returns the
:class:`Post` as it is after the write (its ``modified`` is the editor's, not the bridge's).
"""

from bridge.clients import DEFAULT_USER_AGENT
from bridge.clients.wordpress.accounts import WordPressSSOError
from bridge.clients.wordpress.client import DEFAULT_TIMEOUT, Transport, WordPressClient
from bridge.clients.wordpress.errors import (BridgeMetaUnavailable, PostNotFound, WordPressAuthError,
                                             WordPressError, WordPressPermissionError, WordPressUnavailable)
from bridge.clients.wordpress.meta import META_FIELDS, META_PREFIX
from bridge.clients.wordpress.models import Author, BridgeMeta, Post

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_USER_AGENT",
    "META_FIELDS",
    "META_PREFIX",
    "Author",
    "BridgeMeta",
    "BridgeMetaUnavailable",
    "Post",
    "PostNotFound",
    "Transport",
    "WordPressAuthError",
    "WordPressClient",
    "WordPressError",
    "WordPressPermissionError",
    "WordPressSSOError",
    "WordPressUnavailable",
]
