"""A worker process that dies (SIGKILL) right after Discourse answered a create, before the
mapping row is written (tests/sync/test_mirror_faults.py). Usage: CONFIG_PATH"""

import os
import signal
import sys

from bridge import config, jobs, store
from bridge.clients.discourse import DiscourseClient
from bridge.outbox import Outbox, Worker

settings = config.load(sys.argv[1])
engine = store.make_engine(settings.bridge.database_url)
original = DiscourseClient.create_topic


def create_then_die(self, *args, **kwargs):
    original(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)


DiscourseClient.create_topic = create_then_die
Worker(Outbox(engine, settings.outbox), jobs.handlers(settings, engine), threads=1).run_once()
print("the worker was not killed", file=sys.stderr)
sys.exit(3)
