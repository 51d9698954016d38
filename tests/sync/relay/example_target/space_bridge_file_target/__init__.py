"""Relay target kind `file`: each relayed message as one line of a local file.

    relay:
      targets:
        - name: journal
          kind: file
          options: {path: /var/log/space-journal.txt, prefix: "[Space] "}

A line starts with the event's id, and an event whose id is already in the file is not written
again: a job that runs twice (a worker lost after delivering) still leaves one line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from sync.relay.targets import TargetKind, TargetOptions


class FileOptions(TargetOptions):
    path: str = Field(min_length=1, description="the file the messages are appended to")
    prefix: str = ""


def render(event, lang: str, options: FileOptions):
    from sync.relay.message import Message  # imported when used: the configuration imports this module

    return Message(text=f"{options.prefix}{event.type}: {event.title} ({lang})")


class FileTarget:
    def __init__(self, settings, target):
        self.path = Path(FileOptions.of(target.options).path)

    def deliver(self, message, event) -> None:
        done = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
        if any(line.split("\t", 1)[0] == event.id for line in done):
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(f"{event.id}\t{message.text}\n")


KIND = TargetKind(name="file", options=FileOptions, render=render, build=FileTarget)
