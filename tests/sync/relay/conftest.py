import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_target_kinds():
    import importlib

    from sync.relay.targets import _BUILTIN, TARGET_KINDS

    # The built-in kinds register themselves when their module is first imported, and a module
    # is imported once: load them all before saving, or a restore would drop them for good.
    for module in _BUILTIN.values():
        importlib.import_module(module)
    saved = dict(TARGET_KINDS)
    yield
    TARGET_KINDS.clear()
    TARGET_KINDS.update(saved)
