"""Wikimedia login and DiscourseConnect for Discourse and WordPress."""
