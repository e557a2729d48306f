"""Schedule bodies as the reference page shows them.

The request limits are documented with `KwargDefinition` rather than enforced by msgspec:
the service checks them itself (app.schedules.service, app.scheduling) so that one answer
lists every bad field at once, each in plain words; the numbers come from the same
constants, so the document never claims a limit the service does not hold.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import KwargDefinition

from app.scheduling import FREQUENCIES, WEEKDAYS
from app.schema import CamelStruct, Pagination
from app.sync.change_detection import (
    DEFAULT_FULL_REFRESH_HOURS,
    MAX_FULL_REFRESH_HOURS,
    MIN_FULL_REFRESH_HOURS,
    MODES,
)

NAME_MAX = 200

_SYNC_TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"


def _config_properties(nullable: bool) -> dict[str, Schema]:
    """The config keys every source type shares. Source types add their selection keys
    (spreadsheetId, query…); in an update, null removes a key."""

    def typed(*types: OpenAPIType) -> list[OpenAPIType] | OpenAPIType:
        kinds = [*types, OpenAPIType.NULL] if nullable else list(types)
        return kinds if len(kinds) > 1 else kinds[0]

    return {
        "minute": Schema(
            type=typed(OpenAPIType.INTEGER),
            minimum=0,
            maximum=59,
            description="Hourly: the minute of the hour (default 0)",
        ),
        "syncTime": Schema(
            type=typed(OpenAPIType.STRING),
            pattern=_SYNC_TIME_PATTERN,
            description="Daily and weekly: HH:MM, 24-hour, e.g. 06:00 (default 00:00)",
            examples=["06:00"],
        ),
        "dayOfWeek": Schema(
            type=typed(OpenAPIType.STRING),
            enum=[*WEEKDAYS, None] if nullable else list(WEEKDAYS),
            description="Weekly: the day, any letter case (default monday)",
        ),
        "timezone": Schema(
            type=typed(OpenAPIType.STRING),
            description="IANA name the sync time is read in, e.g. Europe/Berlin (default UTC)",
        ),
        "primaryKey": Schema(
            one_of=[
                Schema(type=OpenAPIType.STRING, min_length=1),
                Schema(
                    type=OpenAPIType.ARRAY,
                    items=Schema(type=OpenAPIType.STRING, min_length=1),
                    min_items=1,
                ),
                *([Schema(type=OpenAPIType.NULL)] if nullable else []),
            ],
            description="Column(s) that identify a row: changes are then counted as updates",
        ),
        "headerRow": Schema(
            type=typed(OpenAPIType.INTEGER),
            minimum=1,
            description="The row that holds the column names (default 1)",
        ),
        "maxRowDropPercent": Schema(
            type=typed(OpenAPIType.NUMBER),
            minimum=0,
            maximum=100,
            description="Safety hold: a run that would delete more rows than this is held",
        ),
        "changeDetection": Schema(
            type=typed(OpenAPIType.STRING),
            enum=[*MODES, None] if nullable else list(MODES),
            description="auto (default): before fetching, ask the source whether anything "
            "changed since the last full fetch (Drive version, workbook cTag, the SQL "
            "changeQuery) and skip the fetch when nothing did; off: always fetch",
        ),
        "fullRefreshHours": Schema(
            type=typed(OpenAPIType.INTEGER),
            minimum=MIN_FULL_REFRESH_HOURS,
            maximum=MAX_FULL_REFRESH_HOURS,
            description=f"With change detection, fetch in full at least this often "
            f"(default {DEFAULT_FULL_REFRESH_HOURS}): catches changes the source's marker "
            "cannot see, such as volatile spreadsheet formulas",
        ),
    }


def _config(nullable: bool, description: str) -> Any:
    return KwargDefinition(
        description=description,
        schema_extra={"properties": _config_properties(nullable)},
    )


# Annotated metadata holding dicts cannot sit inside a union (`X | None` hashes it), so each
# limit is a KwargDefinition applied to the whole annotation, optional or not.
_NAME = KwargDefinition(
    min_length=1, max_length=NAME_MAX, description="1 to 200 characters, not only spaces"
)
_FREQUENCY = KwargDefinition(schema_extra={"enum": list(FREQUENCIES)})
_FREQUENCY_OR_NULL = KwargDefinition(schema_extra={"enum": [*FREQUENCIES, None]})
_OBJECT_ID = KwargDefinition(schema_extra={"format": "uuid"})


class ScheduleCreate(CamelStruct):
    name: Annotated[str, _NAME]
    data_source_id: Annotated[str, _OBJECT_ID]
    target_file_id: Annotated[str, _OBJECT_ID]
    frequency: Annotated[str, _FREQUENCY]
    enabled: bool = True
    config: Annotated[
        dict[str, Any],
        _config(
            nullable=False,
            description="Timing, sync options and the source selection (spreadsheetId, "
            "query…); selection keys missing here come from the data source's settings",
        ),
    ] = msgspec.field(default_factory=dict)


class ScheduleUpdate(CamelStruct):
    """Partial update: omitted fields keep their values; `config` is merged key by key
    (a key set to null is removed)."""

    name: Annotated[str | None, _NAME] = None
    data_source_id: Annotated[str | None, _OBJECT_ID] = None
    target_file_id: Annotated[str | None, _OBJECT_ID] = None
    frequency: Annotated[str | None, _FREQUENCY_OR_NULL] = None
    enabled: bool | None = None
    config: Annotated[
        dict[str, Any] | None,
        _config(nullable=True, description="Merged into the stored config; null removes a key"),
    ] = None


_LAST_SYNC_STATUS = KwargDefinition(schema_extra={"enum": ["success", "error", "running", None]})


class ScheduleOut(CamelStruct):
    id: str
    name: str
    data_source_id: str
    data_source_type: str
    data_source_name: str
    target_file_id: str
    target_file_name: str
    frequency: Annotated[str, _FREQUENCY]
    enabled: bool
    config: Annotated[
        dict[str, Any], _config(nullable=False, description="Timing, sync options, selection")
    ]
    last_sync_at: str | None
    next_sync_at: str | None
    last_sync_status: Annotated[str | None, _LAST_SYNC_STATUS]
    last_sync_row_count: int | None
    last_sync_error: str | None
    last_sync_duration: str | None
    last_sync_duration_ms: int | None
    next_retry_at: Annotated[
        str | None,
        msgspec.Meta(description="When the automatic retry of a failed sync is due, if one is"),
    ]
    created_at: str
    updated_at: str


class ScheduleSaved(CamelStruct):
    """The answer to a create or an update."""

    success: Literal[True]
    schedule: ScheduleOut
    message: str


class ScheduleDetail(CamelStruct):
    success: Literal[True]
    schedule: ScheduleOut


class ScheduleList(CamelStruct):
    success: Literal[True]
    schedules: list[ScheduleOut]
    total_count: int
    pagination: Pagination
