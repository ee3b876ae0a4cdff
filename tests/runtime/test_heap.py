"""``freeze_startup_heap``: the start-up heap leaves the collector's walk; later garbage is
still collected. Run in a child process so the test process's own heap is untouched."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import gc, weakref
import runtime.service  # what a server has imported before it freezes (runtime itself is lazy)
from runtime.heap import freeze_startup_heap

frozen = freeze_startup_heap()
assert frozen > 10_000, frozen  # relay's imports alone leave far more than this
assert gc.get_freeze_count() == frozen

class Node:
    pass

node = Node()
node.self = node  # a cycle created after the freeze
gone = weakref.ref(node)
del node
gc.collect()
assert gone() is None, "a cycle made after the freeze was not collected"
print(frozen)
"""


def test_the_startup_heap_is_frozen_and_later_cycles_are_still_collected() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 10_000
