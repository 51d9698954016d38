"""Relay of Space activity (blog posts, forum topics, flags, ...) to wiki pages, IRC and chats.

events.py maps platform payloads to one Event shape, rules.py decides which targets an event
reaches, render.py writes the message for each kind of target, deliver.py queues one outbox
job per event and target, and targets/ holds the kinds of target (TARGET_KINDS).
"""
