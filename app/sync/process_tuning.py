"""Process-wide choices for a process that syncs, made once at its start.

Arrow's allocator: pyarrow allocates through mimalloc by default. A sync allocates and
frees its batches on four threads at once (app/sync/snapshot.py), and mimalloc keeps each
thread's freed pages for that thread: at 1M rows a diff run peaked at 369 to 404 MB of RSS
with it, against 292 to 296 MB with jemalloc and 292 to 315 MB with the system allocator,
at the same speed (bench/run, two diff runs each). jemalloc is used where pyarrow has it,
the system allocator otherwise. An operator's `ARROW_DEFAULT_MEMORY_POOL` still decides
when set.

The garbage collector: a sync allocates Python objects by the thousand per batch, and each
full collection walks every object the process holds, most of them the modules imported
at start-up, which live as long as the process. Frozen, they are left out of every later
collection (perf showed collections at about 3% of a 1M-row run's CPU samples before).
"""

from __future__ import annotations

import gc
import os

import pyarrow as pa


def tune_for_syncing() -> None:
    """Call once the process has imported and built what it keeps for its lifetime."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        try:
            pool = pa.jemalloc_memory_pool()
        except NotImplementedError:  # a pyarrow built without jemalloc
            pool = pa.system_memory_pool()
        pa.set_memory_pool(pool)
    gc.collect()
    gc.freeze()
