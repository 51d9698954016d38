"""Relay of Space activity (blog posts, forum topics, flags, ...) to wiki pages, IRC and chats.

events.py maps platform payloads to one Event shape, rules.py decides which targets an event
reaches, deliver.py queues one outbox job per event and target, and targets/ holds the kinds
of target, one module each (options, renderer, delivery), found through the entry point group
`space_bridge.relay_targets`; render.py holds what their renderers share.
"""
