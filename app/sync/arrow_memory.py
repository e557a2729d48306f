"""Which allocator Arrow uses in a process that syncs.

pyarrow allocates through mimalloc by default. A sync allocates and frees its batches on
four threads at once (app/sync/snapshot.py), and mimalloc keeps each thread's freed pages
for that thread: at 1M rows a diff run peaked at 370 to 404 MB of RSS with it, against
292 to 296 MB with jemalloc and 292 to 315 MB with the system allocator, at the same speed
(bench/run, two diff runs each). jemalloc is used where pyarrow has it, the system
allocator otherwise. An operator's `ARROW_DEFAULT_MEMORY_POOL` still decides when set.
"""

from __future__ import annotations

import os

import pyarrow as pa


def use_jemalloc_unless_chosen() -> None:
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)
