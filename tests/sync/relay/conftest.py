import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_target_kinds():
    from sync.relay.targets import TARGET_KINDS

    # Tests put stand-in factories in place of a kind's own (relay_helpers.use_recorder).
    saved = dict(TARGET_KINDS)
    yield
    TARGET_KINDS.clear()
    TARGET_KINDS.update(saved)
