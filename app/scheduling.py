"""When a schedule runs: slot arithmetic for hourly, daily and weekly schedules.

Times are wall-clock times in the schedule's IANA timezone; slots are returned in UTC.
DST rules, chosen to match what cron-like schedulers do:
- a wall time that does not exist on a spring-forward day (02:30 when clocks jump 02:00 →
  03:00) runs when the gap ends, shifted by the gap (03:30);
- a wall time that happens twice on a fall-back day runs once, at its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Frequency(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"


# Before Python 3.12 `"hourly" in Frequency` raises TypeError; a tuple of the members holds
# their values.
FREQUENCIES = tuple(Frequency)
UTC_ZONE = ZoneInfo("UTC")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SYNC_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Cadence:
    """The timing part of a schedule, validated."""

    frequency: Frequency
    minute: int = 0  # hourly
    sync_time: time = time(0, 0)  # daily, weekly
    weekday: int = 0  # weekly, Monday = 0
    timezone: ZoneInfo = UTC_ZONE


def parse_cadence(
    frequency: Any, config: dict[str, Any]
) -> tuple[Cadence | None, list[dict[str, str]]]:
    """Reads frequency and timing keys of a config; returns the cadence or the problems."""
    problems: list[dict[str, str]] = []
    if frequency not in FREQUENCIES:
        problems.append({"field": "frequency", "message": "must be one of hourly, daily, weekly"})
    minute = config.get("minute", 0)
    if isinstance(minute, bool) or not isinstance(minute, int) or not 0 <= minute <= 59:
        problems.append(
            {"field": "config.minute", "message": "must be a whole number from 0 to 59"}
        )
    sync_time = config.get("syncTime", "00:00")
    match = _SYNC_TIME.match(sync_time) if isinstance(sync_time, str) else None
    if match is None:
        problems.append({"field": "config.syncTime", "message": "must be HH:MM (24h), e.g. 06:00"})
    day = config.get("dayOfWeek", "monday")
    if not isinstance(day, str) or day.lower() not in WEEKDAYS:
        problems.append(
            {"field": "config.dayOfWeek", "message": "must be a weekday name: monday … sunday"}
        )
    zone_name = config.get("timezone", "UTC")
    zone = None
    try:
        zone = ZoneInfo(zone_name) if isinstance(zone_name, str) and zone_name else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        problems.append(
            {
                "field": "config.timezone",
                "message": "must be an IANA timezone name, e.g. Europe/Berlin or UTC",
            }
        )
    if problems or zone is None or match is None:
        return None, problems
    return (
        Cadence(
            frequency=Frequency(frequency),
            minute=int(minute),
            sync_time=time(int(match.group(1)), int(match.group(2))),
            weekday=WEEKDAYS.index(str(day).lower()),
            timezone=zone,
        ),
        [],
    )


def next_slot_after(cadence: Cadence, after: datetime) -> datetime:
    """The first slot strictly after `after` (an aware datetime), in UTC."""
    after = after.astimezone(UTC)
    if cadence.frequency == Frequency.HOURLY:
        return _next_hourly(cadence, after)
    local_day = after.astimezone(cadence.timezone).date()
    # Eight days always contain the next weekly slot. Start a day early: a gap that ends at
    # midnight (Nuuk, Pyongyang) shifts the day before's slot into this local day.
    for offset in range(-1, 9):
        day = local_day + timedelta(days=offset)
        if cadence.frequency == Frequency.WEEKLY and day.weekday() != cadence.weekday:
            continue
        wall = datetime.combine(day, cadence.sync_time, tzinfo=cadence.timezone)
        slot = _resolve(wall)
        if slot > after:
            return slot
    raise AssertionError("no slot within eight days")  # unreachable for valid cadences


def _next_hourly(cadence: Cadence, after: datetime) -> datetime:
    # Offsets can be :30 or :45 (India, Nepal), so the slot is where the *local* minute
    # matches; walking minutes is simple and at most 120 steps.
    candidate = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(121):
        if candidate.astimezone(cadence.timezone).minute == cadence.minute:
            return candidate
        candidate += timedelta(minutes=1)
    raise AssertionError("no hourly slot within two hours")


def _resolve(wall: datetime) -> datetime:
    """Wall time → UTC with the DST rules in the module docstring.

    zoneinfo maps a non-existent time with fold=0 using the offset before the transition,
    which lands exactly one gap later, and an ambiguous one to its first occurrence.
    """
    return wall.replace(fold=0).astimezone(UTC)
