"""Change sets read from either backend, including those an older release saved (positions
without stems, versions under their old `v{n}` names)."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.sync.change_sets import ChangeSetGone, change_set_csv, save_positions
from app.sync.csv_store import CsvStore, version_stem
from app.sync.diff import ChangeSet
from tests.object_store_server import S3Server
from tests.storage.backends import BACKENDS, object_store
from tests.sync.tables import read_csv


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, s3_server: S3Server, tmp_path: Path) -> CsvStore:
    return CsvStore(object_store(request.param, s3_server, tmp_path), tmp_path / "staging")


def put_snapshot(store: CsvStore, file_id: uuid.UUID, stem: str, rows: list[list[str]]) -> None:
    staged = store.temp_path(file_id, ".parquet")
    columns = list(zip(*rows, strict=True))
    pq.write_table(pa.table({"id": columns[0], "name": columns[1]}), staged)
    store.objects.put_file(store.version_keys(file_id, stem).parquet, staged)


def positions(added: list[int], updated: list[int], deleted: list[int]) -> ChangeSet:
    as_array = lambda values: np.array(values, dtype=np.int64)  # noqa: E731
    return ChangeSet(added=as_array(added), updated=as_array(updated), deleted=as_array(deleted))


OLD = [["1", "Ann"], ["2", "Bob"]]
NEW = [["2", "Bobby"], ["3", "Cid"]]
EXPECTED = [
    ["_change", "id", "name"],
    ["added", "3", "Cid"],
    ["updated", "2", "Bobby"],
    ["deleted", "1", "Ann"],
]


def test_a_change_set_is_built_from_the_two_versions_it_names_and_kept_in_the_store(
    store: CsvStore,
) -> None:
    file_id, run_id = uuid.uuid4(), uuid.uuid4()
    old_stem, new_stem = version_stem(1, uuid.uuid4()), version_stem(2, run_id)
    put_snapshot(store, file_id, old_stem, OLD)
    put_snapshot(store, file_id, new_stem, NEW)
    save_positions(store, file_id, run_id, positions([1], [0], [0]), (2, new_stem), (1, old_stem))

    key = change_set_csv(store, file_id, run_id, ",")

    assert key == store.change_csv_key(file_id, run_id)
    assert read_csv(store.objects.local_copy(key).read_text()) == EXPECTED


def test_a_change_set_an_older_release_saved_reads_its_versions_by_their_old_names(
    store: CsvStore,
) -> None:
    file_id, run_id = uuid.uuid4(), uuid.uuid4()
    put_snapshot(store, file_id, "v1", OLD)
    put_snapshot(store, file_id, "v2", NEW)
    staged = store.temp_path(file_id, ".npz")
    with open(staged, "wb") as handle:  # the layout older releases wrote: no stems
        np.savez(
            handle,
            added=np.array([1]),
            updated=np.array([0]),
            deleted=np.array([0]),
            versions=np.array([2, 1], dtype=np.int64),
        )
    store.objects.put_file(store.change_positions_key(file_id, run_id), staged)

    key = change_set_csv(store, file_id, run_id, ",")

    assert read_csv(store.objects.local_copy(key).read_text()) == EXPECTED


def test_a_change_set_whose_old_version_was_pruned_is_gone(store: CsvStore) -> None:
    file_id, run_id = uuid.uuid4(), uuid.uuid4()
    new_stem = version_stem(2, run_id)
    put_snapshot(store, file_id, new_stem, NEW)
    save_positions(
        store, file_id, run_id, positions([1], [0], [0]), (2, new_stem), (1, "v1-pruned")
    )
    with pytest.raises(ChangeSetGone):
        change_set_csv(store, file_id, run_id, ",")
