"""Space bridge: the service shell shared by the login, mirror and relay flows."""

__version__ = "0.1.0"
