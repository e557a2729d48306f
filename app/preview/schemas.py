"""Preview bodies: the unsaved schedule sent, and the sample with its counts and warnings."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar.params import KwargDefinition

from app.scheduling import FREQUENCIES
from app.schema import CamelStruct

_OBJECT_ID = KwargDefinition(schema_extra={"format": "uuid"})


class PreviewBody(CamelStruct):
    """A schedule not yet saved: its config is validated as creating it would be."""

    data_source_id: Annotated[str, _OBJECT_ID]
    config: Annotated[
        dict[str, Any],
        KwargDefinition(
            description="As in a schedule: timing, sync options and the source selection; "
            "selection keys missing here come from the data source's settings"
        ),
    ] = msgspec.field(default_factory=dict)
    target_file_id: Annotated[
        str | None,
        KwargDefinition(
            schema_extra={"format": "uuid"},
            description="The file the schedule would write: the counts compare with its "
            "current version. Without it every row counts as added.",
        ),
    ] = None
    frequency: Annotated[
        str,
        KwargDefinition(
            schema_extra={"enum": list(FREQUENCIES)},
            description="Validated with the config's timing keys, as in a schedule",
        ),
    ] = "daily"


class PreviewWarning(CamelStruct):
    code: Annotated[
        str,
        KwargDefinition(
            description="primary_key | blank_header | duplicate_header | safety_hold | "
            "type_changed | formulas_escaped"
        ),
    ]
    message: str


class PreviewChanges(CamelStruct):
    added: int
    updated: int
    deleted: int


class Preview(CamelStruct):
    columns: list[str]
    rows: Annotated[
        list[list[str]],
        KwargDefinition(description="The first rows as the CSV renders them, in column order"),
    ]
    row_count: int
    changes: PreviewChanges
    columns_added: list[str]
    columns_removed: list[str]
    warnings: list[PreviewWarning]


class PreviewAnswer(CamelStruct):
    success: bool
    preview: Preview
