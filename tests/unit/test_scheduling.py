"""Slot arithmetic (`app.scheduling`): when hourly, daily and weekly schedules run, in their
IANA timezone, across DST changes both ways. Expected slots are worked out by hand from
the 2026 transition dates:
- America/New_York: spring forward Sun 8 Mar 02:00 EST -> 03:00 EDT; fall back Sun 1 Nov
  02:00 EDT -> 01:00 EST.
- Europe/Berlin: spring forward Sun 29 Mar 02:00 CET -> 03:00 CEST; fall back Sun 25 Oct
  03:00 CEST -> 02:00 CET.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.scheduling import next_slot_after, parse_cadence


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def slot(frequency: str, after: str, **config: Any) -> str:
    cadence, problems = parse_cadence(frequency, config)
    assert cadence is not None, problems
    return f"{next_slot_after(cadence, utc(after)):%Y-%m-%dT%H:%M:%SZ}"


# --- hourly ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "config", "expected"),
    [
        pytest.param("2026-02-12T10:30:00Z", {}, "2026-02-12T11:00:00Z", id="utc-top-of-next-hour"),
        pytest.param(
            "2026-02-12T10:59:59Z", {}, "2026-02-12T11:00:00Z", id="utc-one-second-before"
        ),
        pytest.param(
            "2026-02-12T11:00:00Z",
            {},
            "2026-02-12T12:00:00Z",
            id="utc-exactly-on-slot-is-not-after",
        ),
        pytest.param(
            "2026-02-12T10:14:59Z", {"minute": 15}, "2026-02-12T10:15:00Z", id="minute-15-this-hour"
        ),
        pytest.param(
            "2026-02-12T10:15:00Z", {"minute": 15}, "2026-02-12T11:15:00Z", id="minute-15-next-hour"
        ),
        pytest.param(
            "2026-02-12T23:50:00Z", {"minute": 45}, "2026-02-13T00:45:00Z", id="crosses-midnight"
        ),
        pytest.param("2026-12-31T23:30:00Z", {}, "2027-01-01T00:00:00Z", id="crosses-new-year"),
    ],
)
def test_hourly_slot_in_utc(after: str, config: dict[str, Any], expected: str) -> None:
    assert slot("hourly", after, **config) == expected


@pytest.mark.parametrize(
    ("zone", "minute", "after", "expected"),
    [
        # +05:30: local minute 0 is UTC minute 30, local minute 30 is UTC minute 0.
        pytest.param(
            "Asia/Kolkata",
            0,
            "2026-02-12T10:00:00Z",
            "2026-02-12T10:30:00Z",
            id="kolkata-local-top-of-hour",
        ),
        pytest.param(
            "Asia/Kolkata",
            30,
            "2026-02-12T10:00:00Z",
            "2026-02-12T11:00:00Z",
            id="kolkata-minute-30",
        ),
        pytest.param(
            "Asia/Kolkata",
            45,
            "2026-02-12T10:00:00Z",
            "2026-02-12T10:15:00Z",
            id="kolkata-minute-45",
        ),
        # +05:45
        pytest.param(
            "Asia/Kathmandu",
            0,
            "2026-02-12T10:00:00Z",
            "2026-02-12T10:15:00Z",
            id="kathmandu-local-top-of-hour",
        ),
        # -03:30
        pytest.param(
            "America/St_Johns",
            0,
            "2026-02-12T10:00:00Z",
            "2026-02-12T10:30:00Z",
            id="st-johns-minus-3-30",
        ),
        pytest.param(
            "Europe/Berlin",
            0,
            "2026-02-12T10:00:00Z",
            "2026-02-12T11:00:00Z",
            id="whole-hour-offset-same-as-utc",
        ),
    ],
)
def test_hourly_minute_is_the_local_minute_in_half_hour_offset_zones(
    zone: str, minute: int, after: str, expected: str
) -> None:
    assert slot("hourly", after, minute=minute, timezone=zone) == expected


def test_hourly_slot_across_spring_forward_skips_the_missing_local_hour() -> None:
    # 01:45 EST; local 02:30 does not exist, the next :30 is 03:30 EDT.
    assert (
        slot("hourly", "2026-03-08T06:45:00Z", minute=30, timezone="America/New_York")
        == "2026-03-08T07:30:00Z"
    )


def test_hourly_slot_across_fall_back_runs_in_the_repeated_local_hour_too() -> None:
    # 01:30 EDT ran at 05:30Z; 01:30 EST an hour later is a new real hour.
    assert (
        slot("hourly", "2026-11-01T05:30:00Z", minute=30, timezone="America/New_York")
        == "2026-11-01T06:30:00Z"
    )


# --- daily -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "config", "expected"),
    [
        pytest.param(
            "2026-02-12T05:59:00Z", {"syncTime": "06:00"}, "2026-02-12T06:00:00Z", id="later-today"
        ),
        pytest.param(
            "2026-02-12T06:00:00Z",
            {"syncTime": "06:00"},
            "2026-02-13T06:00:00Z",
            id="exactly-on-slot-means-tomorrow",
        ),
        pytest.param("2026-02-12T10:30:00Z", {}, "2026-02-13T00:00:00Z", id="default-midnight-utc"),
        pytest.param(
            "2026-02-28T23:30:00Z",
            {"syncTime": "23:45"},
            "2026-02-28T23:45:00Z",
            id="last-minutes-of-february",
        ),
        pytest.param(
            "2026-02-12T10:00:00Z",
            {"syncTime": "06:00", "timezone": "America/New_York"},
            "2026-02-12T11:00:00Z",
            id="new-york-winter",
        ),
        pytest.param(
            "2026-07-12T10:00:00Z",
            {"syncTime": "06:00", "timezone": "America/New_York"},
            "2026-07-13T10:00:00Z",
            id="new-york-summer-exactly-now-is-not-after",
        ),
        pytest.param(
            "2026-02-12T10:00:00Z",
            {"syncTime": "09:00", "timezone": "Asia/Tokyo"},
            "2026-02-13T00:00:00Z",
            id="tokyo-ahead-of-utc",
        ),
        pytest.param(
            "2026-02-12T23:00:00Z",
            {"syncTime": "08:00", "timezone": "Asia/Kolkata"},
            "2026-02-13T02:30:00Z",
            id="kolkata-half-hour",
        ),
        pytest.param(
            "2026-02-12T10:00:00Z",
            {"syncTime": "00:30", "timezone": "Pacific/Kiritimati"},
            "2026-02-12T10:30:00Z",
            id="utc-plus-14",
        ),
    ],
)
def test_daily_slot(after: str, config: dict[str, Any], expected: str) -> None:
    assert slot("daily", after, **config) == expected


@pytest.mark.parametrize(
    ("zone", "sync_time", "after", "expected"),
    [
        # 02:30 does not exist on 8 Mar in New York; it runs at 03:30 EDT.
        pytest.param(
            "America/New_York",
            "02:30",
            "2026-03-08T05:00:00Z",
            "2026-03-08T07:30:00Z",
            id="new-york",
        ),
        # 02:15 does not exist on 29 Mar in Berlin; it runs at 03:15 CEST.
        pytest.param(
            "Europe/Berlin", "02:15", "2026-03-28T23:00:00Z", "2026-03-29T01:15:00Z", id="berlin"
        ),
    ],
)
def test_daily_slot_on_spring_forward_day_runs_when_the_gap_ends(
    zone: str, sync_time: str, after: str, expected: str
) -> None:
    assert slot("daily", after, syncTime=sync_time, timezone=zone) == expected


@pytest.mark.parametrize(
    ("zone", "sync_time", "after", "expected"),
    [
        # Nuuk springs forward at Sat 30 Mar 2024 23:00 -02 -> Sun 31 Mar 00:00 -01: Saturday's
        # 23:30 does not exist and runs at Sunday 00:30 -01 (01:30Z). At Sunday 00:10 local
        # (01:10Z) that run is still ahead.
        pytest.param(
            "America/Nuuk",
            "23:30",
            "2024-03-31T01:10:00Z",
            "2024-03-31T01:30:00Z",
            id="nuuk",
        ),
        # Pyongyang moved from +08:30 to +09:00 at Fri 4 May 2018 23:30 -> Sat 5 May 00:00:
        # Friday's 23:45 runs at Saturday 00:15 +09 (15:15Z), after Saturday 00:05 (15:05Z).
        pytest.param(
            "Asia/Pyongyang",
            "23:45",
            "2018-05-04T15:05:00Z",
            "2018-05-04T15:15:00Z",
            id="pyongyang",
        ),
    ],
)
def test_daily_slot_shifted_past_midnight_by_a_gap_still_runs_on_the_next_local_day(
    zone: str, sync_time: str, after: str, expected: str
) -> None:
    assert slot("daily", after, syncTime=sync_time, timezone=zone) == expected


@pytest.mark.parametrize(
    ("zone", "sync_time", "after", "expected"),
    [
        pytest.param(
            "America/New_York",
            "01:30",
            "2026-11-01T04:00:00Z",
            "2026-11-01T05:30:00Z",
            id="new-york-first-occurrence",
        ),
        pytest.param(
            "America/New_York",
            "01:30",
            "2026-11-01T05:30:00Z",
            "2026-11-02T06:30:00Z",
            id="new-york-not-again-an-hour-later",
        ),
        pytest.param(
            "Europe/Berlin",
            "02:30",
            "2026-10-24T22:00:00Z",
            "2026-10-25T00:30:00Z",
            id="berlin-first-occurrence",
        ),
        pytest.param(
            "Europe/Berlin",
            "02:30",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z",
            id="berlin-not-again-an-hour-later",
        ),
    ],
)
def test_daily_slot_on_fall_back_day_runs_once_at_the_first_occurrence(
    zone: str, sync_time: str, after: str, expected: str
) -> None:
    assert slot("daily", after, syncTime=sync_time, timezone=zone) == expected


@pytest.mark.parametrize(
    ("zone", "after", "expected"),
    [
        pytest.param(
            "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T10:00:00Z", id="new-york-spring"
        ),
        pytest.param(
            "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T11:00:00Z", id="new-york-fall"
        ),
        pytest.param(
            "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T04:00:00Z", id="berlin-spring"
        ),
        pytest.param(
            "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T05:00:00Z", id="berlin-fall"
        ),
    ],
)
def test_daily_slot_keeps_its_wall_clock_time_when_the_offset_changes(
    zone: str, after: str, expected: str
) -> None:
    assert slot("daily", after, syncTime="06:00", timezone=zone) == expected


# --- weekly ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "config", "expected"),
    [
        # 2026-02-09 and 2026-02-16 are Mondays.
        pytest.param(
            "2026-02-09T07:59:00Z",
            {"dayOfWeek": "monday", "syncTime": "08:00"},
            "2026-02-09T08:00:00Z",
            id="this-monday",
        ),
        pytest.param(
            "2026-02-09T08:00:00Z",
            {"dayOfWeek": "monday", "syncTime": "08:00"},
            "2026-02-16T08:00:00Z",
            id="exactly-on-slot-means-next-week",
        ),
        pytest.param(
            "2026-02-12T10:00:00Z",
            {"dayOfWeek": "monday", "syncTime": "08:00"},
            "2026-02-16T08:00:00Z",
            id="thursday-to-monday",
        ),
        pytest.param(
            "2026-02-16T00:00:00Z",
            {"dayOfWeek": "sunday", "syncTime": "23:30"},
            "2026-02-22T23:30:00Z",
            id="wraps-to-sunday",
        ),
        pytest.param(
            "2026-02-15T23:31:00Z",
            {"dayOfWeek": "sunday", "syncTime": "23:30"},
            "2026-02-22T23:30:00Z",
            id="just-missed-a-whole-week",
        ),
        pytest.param(
            "2026-02-12T10:00:00Z",
            {"dayOfWeek": "Friday", "syncTime": "17:00"},
            "2026-02-13T17:00:00Z",
            id="day-name-any-case",
        ),
        pytest.param(
            "2026-02-12T10:00:00Z", {}, "2026-02-16T00:00:00Z", id="defaults-monday-midnight"
        ),
        pytest.param(
            "2026-12-30T12:00:00Z",
            {"dayOfWeek": "monday", "syncTime": "08:00"},
            "2027-01-04T08:00:00Z",
            id="crosses-new-year",
        ),
    ],
)
def test_weekly_slot_in_utc(after: str, config: dict[str, Any], expected: str) -> None:
    assert slot("weekly", after, **config) == expected


@pytest.mark.parametrize(
    ("config", "after", "expected"),
    [
        # Monday 06:00 in Tokyo is Sunday 21:00 UTC: the local day is ahead of UTC.
        pytest.param(
            {"dayOfWeek": "monday", "syncTime": "06:00", "timezone": "Asia/Tokyo"},
            "2026-02-15T20:00:00Z",
            "2026-02-15T21:00:00Z",
            id="tokyo-monday-is-sunday-utc",
        ),
        # Sunday 20:00 in Los Angeles is Monday 04:00 UTC: the local day is behind UTC.
        pytest.param(
            {"dayOfWeek": "sunday", "syncTime": "20:00", "timezone": "America/Los_Angeles"},
            "2026-02-16T03:00:00Z",
            "2026-02-16T04:00:00Z",
            id="los-angeles-sunday-is-monday-utc",
        ),
        pytest.param(
            {"dayOfWeek": "saturday", "syncTime": "23:00", "timezone": "Pacific/Kiritimati"},
            "2026-02-14T08:00:00Z",
            "2026-02-14T09:00:00Z",
            id="utc-plus-14",
        ),
    ],
)
def test_weekly_slot_when_the_local_day_differs_from_the_utc_day(
    config: dict[str, Any], after: str, expected: str
) -> None:
    assert slot("weekly", after, **config) == expected


def test_weekly_slot_skips_to_next_monday_after_dst_change() -> None:
    # Mon 23 Mar 08:00 CET (07:00Z) just ran; Mon 30 Mar 08:00 is CEST (06:00Z).
    assert (
        slot(
            "weekly",
            "2026-03-23T07:00:00Z",
            dayOfWeek="monday",
            syncTime="08:00",
            timezone="Europe/Berlin",
        )
        == "2026-03-30T06:00:00Z"
    )


def test_weekly_slot_on_spring_forward_sunday_runs_when_the_gap_ends() -> None:
    assert (
        slot(
            "weekly",
            "2026-03-02T00:00:00Z",
            dayOfWeek="sunday",
            syncTime="02:30",
            timezone="America/New_York",
        )
        == "2026-03-08T07:30:00Z"
    )


def test_weekly_slot_on_fall_back_sunday_runs_once() -> None:
    first = slot(
        "weekly",
        "2026-10-26T00:00:00Z",
        dayOfWeek="sunday",
        syncTime="01:30",
        timezone="America/New_York",
    )
    after_first = slot(
        "weekly", first, dayOfWeek="sunday", syncTime="01:30", timezone="America/New_York"
    )

    assert (first, after_first) == ("2026-11-01T05:30:00Z", "2026-11-08T06:30:00Z")


# --- cadence parsing --------------------------------------------------------------------------------


def test_cadence_defaults_are_minute_0_midnight_monday_utc() -> None:
    cadence, problems = parse_cadence("weekly", {})

    assert problems == []
    assert cadence is not None
    assert (
        cadence.minute,
        cadence.sync_time.isoformat(),
        cadence.weekday,
        str(cadence.timezone),
    ) == (0, "00:00:00", 0, "UTC")


@pytest.mark.parametrize(
    ("frequency", "config", "fields"),
    [
        pytest.param("monthly", {}, ["frequency"], id="frequency"),
        pytest.param("daily", {"syncTime": "24:00"}, ["config.syncTime"], id="syncTime"),
        pytest.param("weekly", {"dayOfWeek": "tues"}, ["config.dayOfWeek"], id="dayOfWeek"),
        pytest.param("hourly", {"minute": 60}, ["config.minute"], id="minute"),
        pytest.param("daily", {"timezone": "Europe/Atlantis"}, ["config.timezone"], id="timezone"),
        pytest.param(
            None,
            {"syncTime": 6, "timezone": None},
            ["frequency", "config.syncTime", "config.timezone"],
            id="all-at-once",
        ),
    ],
)
def test_cadence_problems_name_each_field(
    frequency: Any, config: dict[str, Any], fields: list[str]
) -> None:
    cadence, problems = parse_cadence(frequency, config)

    assert cadence is None
    assert [p["field"] for p in problems] == fields


def test_cadence_problems_tell_the_user_what_each_field_must_be() -> None:
    _, problems = parse_cadence(
        "monthly",
        {"minute": 60, "syncTime": "6:00", "dayOfWeek": "tues", "timezone": "Europe/Atlantis"},
    )

    assert problems == [
        {"field": "frequency", "message": "must be one of hourly, daily, weekly"},
        {"field": "config.minute", "message": "must be a whole number from 0 to 59"},
        {"field": "config.syncTime", "message": "must be HH:MM (24h), e.g. 06:00"},
        {"field": "config.dayOfWeek", "message": "must be a weekday name: monday … sunday"},
        {
            "field": "config.timezone",
            "message": "must be an IANA timezone name, e.g. Europe/Berlin or UTC",
        },
    ]


@pytest.mark.parametrize("minute", [0, 59])
def test_minute_accepts_the_whole_range_of_an_hour(minute: int) -> None:
    cadence, problems = parse_cadence("hourly", {"minute": minute})

    assert problems == []
    assert cadence is not None and cadence.minute == minute


@pytest.mark.parametrize("minute", [-1, 60, True, False, "15", 15.0, None])
def test_minute_refuses_anything_but_a_whole_number_from_0_to_59(minute: Any) -> None:
    cadence, problems = parse_cadence("hourly", {"minute": minute})

    assert cadence is None
    assert [p["field"] for p in problems] == ["config.minute"]


@pytest.mark.parametrize("zone", ["", 5, ["UTC"], "../etc/passwd"])
def test_timezone_refuses_what_is_not_a_zone_name(zone: Any) -> None:
    cadence, problems = parse_cadence("daily", {"timezone": zone})

    assert cadence is None
    assert [p["field"] for p in problems] == ["config.timezone"]


def test_hourly_slot_is_a_whole_minute_even_when_asked_mid_second() -> None:
    cadence, _ = parse_cadence("hourly", {"minute": 15})
    assert cadence is not None

    after = datetime(2026, 2, 12, 10, 14, 59, 999_999, tzinfo=UTC)

    assert next_slot_after(cadence, after) == datetime(2026, 2, 12, 10, 15, tzinfo=UTC)


@pytest.fixture
def server_clock_in_kiritimati(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's own timezone (TZ) 14 hours ahead of UTC, 25 ahead of Pago Pago."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("server_clock_in_kiritimati")
@pytest.mark.parametrize(
    ("frequency", "config", "after", "expected"),
    [
        pytest.param(
            "hourly", {"minute": 15}, "2026-02-12T10:00:00Z", "2026-02-12T10:15:00Z", id="hourly"
        ),
        pytest.param(
            "daily",
            {"syncTime": "06:00"},
            "2026-02-12T10:00:00Z",
            "2026-02-13T06:00:00Z",
            id="daily",
        ),
        # 23:30 on the 12th in Pago Pago is already the 14th on the server: the slot is
        # still 23:45 on the schedule's own 12th.
        pytest.param(
            "daily",
            {"syncTime": "23:45", "timezone": "Pacific/Pago_Pago"},
            "2026-02-13T10:30:00Z",
            "2026-02-13T10:45:00Z",
            id="daily-on-the-schedules-own-day",
        ),
        pytest.param(
            "weekly",
            {"dayOfWeek": "friday", "syncTime": "17:00", "timezone": "Europe/Berlin"},
            "2026-02-12T10:00:00Z",
            "2026-02-13T16:00:00Z",
            id="weekly",
        ),
    ],
)
def test_slots_are_in_utc_and_the_schedules_zone_whatever_the_servers_timezone(
    frequency: str, config: dict[str, Any], after: str, expected: str
) -> None:
    cadence, problems = parse_cadence(frequency, config)
    assert cadence is not None, problems

    result = next_slot_after(cadence, utc(after))

    assert result.utcoffset() == timedelta(0)
    assert result == utc(expected)
