"""When a run may skip its fetch: the source's marker equals the stored one, and the stored
one still describes the current file (same schedule, same settings, a full fetch recent
enough); and how a schedule's options are read and checked."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.sync.change_detection import (
    DEFAULT_FULL_REFRESH_HOURS,
    Options,
    StoredMarker,
    fingerprint,
    may_skip,
    option_problems,
    skipped_note,
    storable,
    unchanged,
)
from app.sync.snapshot import CsvFormat

SCHEDULE = uuid.UUID("00000000-0000-4000-8000-000000000001")
OTHER_SCHEDULE = uuid.UUID("00000000-0000-4000-8000-000000000002")
SOURCE = uuid.UUID("00000000-0000-4000-8000-0000000000aa")
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
FINGERPRINT = "f" * 64
STORED = StoredMarker(
    marker="drive:41@2026-12-03T09:00:00.000Z",
    fingerprint=FINGERPRINT,
    schedule_id=SCHEDULE,
    fully_fetched_at=NOW - timedelta(hours=3),
)


def skip(stored: StoredMarker = STORED, **overrides: object) -> bool:
    arguments: dict[str, object] = {
        "options": Options(),
        "forced": False,
        "schedule_id": SCHEDULE,
        "current_fingerprint": FINGERPRINT,
        "file_version": 3,
        "now": NOW,
    }
    arguments.update(overrides)
    return may_skip(stored, **arguments)  # type: ignore[arg-type]


def test_a_recent_fetch_by_this_schedule_under_the_same_settings_may_be_skipped() -> None:
    assert skip()


def test_detection_off_never_skips() -> None:
    assert not skip(options=Options(enabled=False))


def test_a_forced_run_always_fetches() -> None:
    assert not skip(forced=True)


@pytest.mark.parametrize("version", [0, -1])
def test_a_file_without_a_version_is_fetched(version: int) -> None:
    assert not skip(file_version=version)


def test_the_first_version_may_be_skipped_to() -> None:
    assert skip(file_version=1)


def test_a_file_published_without_a_marker_is_fetched() -> None:
    assert not skip(replace(STORED, marker=None))


def test_a_file_without_a_full_fetch_time_is_fetched() -> None:
    assert not skip(replace(STORED, fully_fetched_at=None))


def test_a_file_another_schedule_wrote_is_fetched() -> None:
    assert not skip(schedule_id=OTHER_SCHEDULE)
    assert not skip(replace(STORED, schedule_id=None))


def test_changed_settings_are_fetched() -> None:
    assert not skip(current_fingerprint="0" * 64)
    assert not skip(replace(STORED, fingerprint=None))


def test_a_full_fetch_is_due_once_full_refresh_hours_have_passed() -> None:
    every_4h = Options(full_refresh=timedelta(hours=4))
    fetched = NOW - timedelta(hours=4)
    assert skip(replace(STORED, fully_fetched_at=fetched + timedelta(seconds=1)), options=every_4h)
    assert not skip(replace(STORED, fully_fetched_at=fetched), options=every_4h)
    assert not skip(
        replace(STORED, fully_fetched_at=fetched - timedelta(seconds=1)), options=every_4h
    )


def test_equal_markers_are_unchanged_and_anything_else_is_not() -> None:
    assert unchanged(STORED, STORED.marker)
    assert not unchanged(STORED, "drive:42@2026-12-03T10:00:00.000Z")
    assert not unchanged(STORED, None)
    assert not unchanged(replace(STORED, marker=None), None)


def test_options_default_to_auto_and_a_daily_full_refresh() -> None:
    options = Options.of({})
    assert options.enabled
    assert (
        options.full_refresh == timedelta(hours=DEFAULT_FULL_REFRESH_HOURS) == timedelta(hours=24)
    )


def test_options_are_read_from_the_config() -> None:
    assert Options.of({"changeDetection": "auto", "fullRefreshHours": 6}) == Options(
        True, timedelta(hours=6)
    )
    assert not Options.of({"changeDetection": "off"}).enabled


def test_stored_options_that_no_longer_validate_read_as_the_safe_side() -> None:
    assert not Options.of({"changeDetection": "sometimes"}).enabled
    for hours in (0, 721, "6", True, 1.5):
        assert Options.of({"fullRefreshHours": hours}).full_refresh == timedelta(hours=24)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"changeDetection": "auto"},
        {"changeDetection": "off"},
        {"fullRefreshHours": 1},
        {"fullRefreshHours": 720},
    ],
)
def test_valid_options_have_no_problems(config: dict[str, object]) -> None:
    assert option_problems(config) == []


@pytest.mark.parametrize("mode", ["Auto", "on", "", 1, True])
def test_an_unknown_mode_is_refused_naming_the_choices(mode: object) -> None:
    [problem] = option_problems({"changeDetection": mode})
    assert problem["field"] == "config.changeDetection"
    assert "auto, off" in problem["message"]


@pytest.mark.parametrize("hours", [0, 721, -1, 1.5, "24", True, False])
def test_full_refresh_hours_out_of_bounds_are_refused_with_the_bounds(hours: object) -> None:
    [problem] = option_problems({"fullRefreshHours": hours})
    assert problem["field"] == "config.fullRefreshHours"
    assert "from 1 to 720" in problem["message"]


def test_both_options_are_reported_at_once() -> None:
    fields = [p["field"] for p in option_problems({"changeDetection": "x", "fullRefreshHours": 0})]
    assert fields == ["config.changeDetection", "config.fullRefreshHours"]


def _fingerprint(**changes: object) -> str:
    arguments: dict[str, object] = {
        "data_source_id": SOURCE,
        "source_type": "google-sheets",
        "source_settings": {"retryBudgetSeconds": 60},
        "selection": {"spreadsheetId": "1ABC", "sheetName": "Data", "syncTime": "06:00"},
        "fmt": CsvFormat(),
    }
    arguments.update(changes)
    return fingerprint(**arguments)  # type: ignore[arg-type]


def test_the_fingerprint_is_stable_and_ignores_key_order() -> None:
    assert _fingerprint() == _fingerprint()
    reordered = {"syncTime": "06:00", "sheetName": "Data", "spreadsheetId": "1ABC"}
    assert _fingerprint(selection=reordered) == _fingerprint()


@pytest.mark.parametrize(
    "change",
    [
        {"data_source_id": uuid.UUID("00000000-0000-4000-8000-0000000000bb")},
        {"source_type": "microsoft-excel"},
        {"source_settings": {"retryBudgetSeconds": 30}},
        {"selection": {"spreadsheetId": "1ABC", "sheetName": "Other", "syncTime": "06:00"}},
        {"fmt": CsvFormat(delimiter=";")},
    ],
)
def test_anything_that_decides_the_data_changes_the_fingerprint(change: dict[str, object]) -> None:
    assert _fingerprint(**change) != _fingerprint()


def test_timing_and_change_detection_options_leave_the_fingerprint_alone() -> None:
    tuned = {
        "spreadsheetId": "1ABC",
        "sheetName": "Data",
        "syncTime": "07:30",
        "timezone": "Europe/Berlin",
        "changeDetection": "auto",
        "fullRefreshHours": 6,
    }
    assert _fingerprint(selection=tuned) == _fingerprint()


def test_the_note_says_detection_was_skipped_and_why() -> None:
    reason = "the service account lacks drive.metadata.readonly"
    assert skipped_note(reason) == f"skipped: {reason}"


def test_a_marker_that_fits_is_stored_as_it_is() -> None:
    assert storable(None) is None
    assert storable("ctag:" + "x" * 195) == "ctag:" + "x" * 195


def test_a_longer_marker_is_stored_as_its_digest_equal_for_equal_markers() -> None:
    long, other = "row:" + "a" * 197, "row:" + "a" * 196 + "b"
    assert storable(long) == storable(long)
    assert storable(long) != storable(other)
    assert storable(long).startswith("sha256:")  # type: ignore[union-attr]
    assert len(storable(long)) <= 200  # type: ignore[arg-type]


def test_a_fingerprint_is_the_same_from_one_release_to_the_next() -> None:
    # Stored fingerprints outlive the code that wrote them: if the digest's text changed
    # with an upgrade, every schedule would fetch in full once, all at the same time.
    assert (
        fingerprint(
            uuid.UUID("00000000-0000-4000-8000-000000000001"),
            "postgresql",
            {"driver": "ADBC"},
            {"query": "SELECT 1", "primaryKey": ["id"]},
            CsvFormat(),
        )
        == "b57bcc620f1c6a23de297d05a23791f98f1f7e7003e8e4aae80301d91abbe8b4"
    )
