"""A target file's objects in either backend: a version is published under keys named by its
run, pruning keeps the versions asked for and the newest change sets, deleting the file
removes everything under it."""

from __future__ import annotations

import math
import time
import uuid
from pathlib import Path

import pytest

from app.sync.csv_store import CsvStore, stored_stem, version_stem
from tests.object_store_server import S3Server
from tests.storage.backends import BACKENDS, object_store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, s3_server: S3Server, tmp_path: Path) -> CsvStore:
    objects = object_store(request.param, s3_server, tmp_path)
    return CsvStore(objects, tmp_path / "staging")


def publish(store: CsvStore, file_id: uuid.UUID, stem: str, text: str = "id\n1\n") -> None:
    staged = {}
    for part in ("csv", "parquet", "hashes"):
        path = store.temp_path(file_id, f".{part}")
        path.write_text(f"{text}{part}")
        staged[part] = path
    store.publish(file_id, stem, **staged)
    assert not any(path.exists() for path in staged.values())


def until_the_next_second() -> None:
    now = time.time()
    time.sleep(math.ceil(now) - now + 0.01)


def keys(store: CsvStore, file_id: uuid.UUID) -> set[str]:
    return {found.key.removeprefix(f"{file_id}/") for found in store.objects.list(str(file_id))}


def test_a_version_is_published_under_keys_named_by_its_run(store: CsvStore) -> None:
    file_id, run_id = uuid.uuid4(), uuid.uuid4()
    stem = version_stem(3, run_id)
    publish(store, file_id, stem, "id\n7\n")
    assert stem == f"v3-{run_id.hex}"
    assert keys(store, file_id) == {f"{stem}.csv", f"{stem}.parquet", f"{stem}.hashes.npy"}
    csv_key = store.version_keys(file_id, stem).csv
    assert store.objects.local_copy(csv_key).read_text() == "id\n7\ncsv"


def test_a_run_losing_the_race_for_a_version_cannot_overwrite_the_winners_objects(
    store: CsvStore,
) -> None:
    file_id, winner, loser = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    publish(store, file_id, version_stem(2, winner), "winner\n")
    publish(store, file_id, version_stem(2, loser), "loser\n")
    winners = store.version_keys(file_id, version_stem(2, winner))
    assert store.objects.local_copy(winners.csv).read_text() == "winner\ncsv"


def test_versions_published_before_stems_carried_the_run_are_read_by_their_old_names(
    store: CsvStore,
) -> None:
    file_id = uuid.uuid4()
    publish(store, file_id, stored_stem(1, None))
    assert keys(store, file_id) == {"v1.csv", "v1.parquet", "v1.hashes.npy"}


def test_all_but_the_newest_change_sets_are_stale_with_their_csv(store: CsvStore) -> None:
    file_id = uuid.uuid4()
    runs = [uuid.uuid4() for _ in range(3)]
    for run_id in runs:  # oldest first
        # S3 keeps an object's time to the second: runs are that far apart at the least.
        until_the_next_second()
        for key in (
            store.change_positions_key(file_id, run_id),
            store.change_csv_key(file_id, run_id),
        ):
            staged = store.temp_path(file_id, ".tmp")
            staged.write_bytes(b"x")
            store.objects.put_file(key, staged)
    assert sorted(store.stale_change_sets(file_id, keep=1)) == sorted(
        f"{file_id}/changes/{run_id}.{kind}" for run_id in runs[:-1] for kind in ("npz", "csv")
    )


def test_deleting_a_file_removes_its_objects_and_staged_files_and_no_other_files(
    store: CsvStore,
) -> None:
    doomed, other = uuid.uuid4(), uuid.uuid4()
    publish(store, doomed, version_stem(1, uuid.uuid4()))
    publish(store, other, version_stem(1, uuid.uuid4()))
    leftover = store.temp_path(doomed, ".csv")
    leftover.write_text("staged by a crashed run")
    store.delete(doomed)
    assert keys(store, doomed) == set()
    assert not leftover.exists()
    assert len(keys(store, other)) == 3


def test_a_starting_run_removes_what_runs_staged_but_not_change_set_work(
    store: CsvStore,
) -> None:
    file_id = uuid.uuid4()
    staged = store.temp_path(file_id, ".parquet")
    building = store.scratch_path(file_id, ".csv")
    staged.write_text("a crashed run's")
    building.write_text("a change set being built")
    store.remove_temp_files(file_id)
    assert (staged.exists(), building.exists()) == (False, True)


def test_a_store_given_a_folder_stages_in_it_so_publishing_is_a_rename(tmp_path: Path) -> None:
    store = CsvStore(tmp_path)
    file_id = uuid.uuid4()
    assert store.temp_path(file_id, ".csv").parent == tmp_path / str(file_id)
    publish(store, file_id, "v1")
    assert (tmp_path / str(file_id) / "v1.csv").read_text() == "id\n1\ncsv"
