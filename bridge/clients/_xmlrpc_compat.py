"""Make python-wordpress-xmlrpc 2.3 importable and usable on Python >= 3.10.

python-wordpress-xmlrpc 2.3 (the last release, 2015) tests results with
``isinstance(raw_result, collections.Iterable)`` in ``wordpress_xmlrpc/base.py``
(``XmlrpcMethod.process_result``).  The ABC aliases in the ``collections`` module were
deprecated in Python 3.3 and removed in 3.10, so any method returning a list with a
``results_class`` (wp.getPosts, wp.getTerms, wp.getAuthors, ...) dies with
``AttributeError: module 'collections' has no attribute 'Iterable'``.

This module restores that single alias, once, before ``wordpress_xmlrpc`` is imported.
It is the only place the project patches the standard library for that package: import
``wordpress_xmlrpc`` through here (``from bridge.clients._xmlrpc_compat import wordpress_xmlrpc``)
and nowhere else.
"""

from __future__ import annotations

import collections
import collections.abc

if not hasattr(collections, "Iterable"):  # Python >= 3.10
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

import wordpress_xmlrpc  # noqa: E402  (must come after the alias above)
import wordpress_xmlrpc.methods.posts  # noqa: E402
import wordpress_xmlrpc.methods.taxonomies  # noqa: E402
import wordpress_xmlrpc.methods.users  # noqa: E402

__all__ = ["wordpress_xmlrpc"]
