"""What a worker sets for its whole process once started (app/sync/process_tuning.py).
Each case runs in a process of its own: both choices are process-wide."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import gc, json
import pyarrow as pa
from app.sync.process_tuning import tune_for_syncing
tune_for_syncing()
print(json.dumps({"pool": pa.default_memory_pool().backend_name, "frozen": gc.get_freeze_count()}))
"""


def tuned(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_arrow_allocates_through_jemalloc_and_start_up_objects_are_frozen() -> None:
    found = tuned()

    assert found["pool"] == "jemalloc"
    assert isinstance(found["frozen"], int) and found["frozen"] > 10_000


@pytest.mark.parametrize("chosen", ["system", "mimalloc"])
def test_an_operators_choice_of_allocator_stands(chosen: str) -> None:
    assert tuned(ARROW_DEFAULT_MEMORY_POOL=chosen)["pool"] == chosen
