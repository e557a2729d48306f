"""Change detection before fetch: when a run may skip fetching because the source says
nothing changed since the fetch that made the current file.

A connector that offers `change_marker` (connectors/base.py) answers one cheap metadata
request with a short text that differs whenever the selected data may have changed. The
engine reads it before every fetch and stores it with the file it publishes. A later run
skips the fetch only when all of these hold, so that a skip can never hide data the file
does not reflect:

- the schedule has `changeDetection: "auto"` (the default), and the run is not forced;
- the current file version was written by this schedule, under the same settings
  (a fingerprint of the source, its settings, the selection and the file's format: any
  change there needs a fetch to take effect);
- the full fetch that file came from started less than `fullRefreshHours` ago (a safety
  net for changes a marker cannot see, such as volatile spreadsheet formulas);
- the marker read now equals the stored one.

The marker is read before the fetch and stored with its result, so a change made while the
fetch runs is seen by the next run. Everything here is pure; app/sync/engine.py does the
reading and the storing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.selection import TIMING_KEYS
from connectors.base import JSON

# target_files.change_marker's width; a plugin's longer marker is stored as its digest.
MAX_STORED_MARKER = 200
AUTO = "auto"
OFF = "off"
MODES = (AUTO, OFF)
DEFAULT_FULL_REFRESH_HOURS = 24
MIN_FULL_REFRESH_HOURS = 1
MAX_FULL_REFRESH_HOURS = 720  # 30 days
OPTION_KEYS = frozenset({"changeDetection", "fullRefreshHours"})


def option_problems(config: JSON) -> list[dict[str, str]]:
    """What is wrong with a schedule's change detection options (absent is fine)."""
    problems: list[dict[str, str]] = []
    mode = config.get("changeDetection")
    if mode is not None and mode not in MODES:
        problems.append(
            {
                "field": "config.changeDetection",
                "message": f"must be one of {', '.join(MODES)} (default {AUTO})",
            }
        )
    hours = config.get("fullRefreshHours")
    if hours is not None and not _whole_hours_in_bounds(hours):
        problems.append(
            {
                "field": "config.fullRefreshHours",
                "message": f"must be a whole number of hours from {MIN_FULL_REFRESH_HOURS} "
                f"to {MAX_FULL_REFRESH_HOURS} (default {DEFAULT_FULL_REFRESH_HOURS})",
            }
        )
    return problems


def _whole_hours_in_bounds(hours: Any) -> bool:
    if isinstance(hours, bool) or not isinstance(hours, int):
        return False
    return MIN_FULL_REFRESH_HOURS <= hours <= MAX_FULL_REFRESH_HOURS


@dataclass(frozen=True, slots=True)
class Options:
    """A schedule's change detection options, as a run applies them."""

    enabled: bool = True
    full_refresh: timedelta = timedelta(hours=DEFAULT_FULL_REFRESH_HOURS)

    @classmethod
    def of(cls, config: JSON) -> Options:
        """The options of a stored config; values that no longer validate read as the
        defaults' safer side (detection off for an unknown mode)."""
        enabled = config.get("changeDetection", AUTO) == AUTO
        hours = config.get("fullRefreshHours", DEFAULT_FULL_REFRESH_HOURS)
        if not _whole_hours_in_bounds(hours):
            hours = DEFAULT_FULL_REFRESH_HOURS
        return cls(enabled=enabled, full_refresh=timedelta(hours=hours))


@dataclass(frozen=True, slots=True)
class StoredMarker:
    """What the target file holds about the fetch its current version came from."""

    marker: str | None = None
    fingerprint: str | None = None
    schedule_id: uuid.UUID | None = None
    fully_fetched_at: datetime | None = None


def fingerprint(
    data_source_id: uuid.UUID, source_type: str, source_settings: JSON, selection: JSON, fmt: Any
) -> str:
    """A digest of everything that decides what a fetch would produce besides the source's
    data: a change to any of it must be fetched to take effect. When the schedule runs and
    how change detection is tuned decide nothing about the data, so they are left out.
    `fmt` is the file's CSV format (its repr is stable: a frozen dataclass of plain
    values)."""
    deciding = {k: v for k, v in selection.items() if k not in TIMING_KEYS | OPTION_KEYS}
    text = json.dumps(
        [str(data_source_id), source_type, source_settings, deciding, repr(fmt)],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def may_skip(
    stored: StoredMarker,
    *,
    options: Options,
    forced: bool,
    schedule_id: uuid.UUID,
    current_fingerprint: str,
    file_version: int,
    now: datetime,
) -> bool:
    """Whether a marker equal to the stored one would let this run skip its fetch."""
    if not options.enabled or forced or file_version < 1:
        return False
    if stored.marker is None or stored.fully_fetched_at is None:
        return False
    if stored.schedule_id != schedule_id or stored.fingerprint != current_fingerprint:
        return False
    return now - stored.fully_fetched_at < options.full_refresh


def storable(marker: str | None) -> str | None:
    """The marker as the store keeps it: as given when it fits, else its digest (equal
    markers still store equal, different ones different)."""
    if marker is None or len(marker) <= MAX_STORED_MARKER:
        return marker
    return "sha256:" + hashlib.sha256(marker.encode()).hexdigest()


def unchanged(stored: StoredMarker, marker: str | None) -> bool:
    """The source's marker says nothing changed since the stored fetch."""
    return marker is not None and marker == stored.marker


def skipped_note(reason: str) -> str:
    """The run's note when the source refused the metadata request."""
    return f"skipped: {reason}"
