"""One client class per external platform, so flows never build platform URLs themselves.

Each platform is a package (``discourse``, ``wordpress``, ``mediawiki``); what they share lives
here: :mod:`.errors` (the errors' common base and its one mapping to the outbox's outcomes),
:mod:`.scrub` (keeping secrets out of texts) and the User-Agent below. Signatures are
:mod:`bridge.signing`'s.
"""

from bridge import __version__

#: Wikimedia's User-Agent policy asks for "<tool>/<version> (<contact>)" on every request;
#: the WordPress and Discourse clients send the same so operators can recognise the bridge.
DEFAULT_USER_AGENT = f"space-bridge/{__version__} (+https://meta.wikimedia.org/wiki/Wikimedia_Space)"


def user_agent(contact: str) -> str:
    """The User-Agent for a deployment, naming its operators' contact (bridge.user_agent_contact)."""
    return f"space-bridge/{__version__} (+{contact})"
