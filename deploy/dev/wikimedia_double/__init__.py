"""A stand-in for Wikimedia's OAuth 2.0 server (MediaWiki extension OAuth) for tests and `make run`."""
