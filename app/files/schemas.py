from __future__ import annotations

from msgspec import UNSET, UnsetType

from app.schema import CamelStruct


class TargetFileCreate(CamelStruct):
    name: str
    delimiter: str = ","
    encoding: str = "utf-8"
    header: bool = True
    # Prefix text that would start a spreadsheet formula with "'". None: on for files synced
    # from spreadsheets, off for databases.
    escape_formulas: bool | None = None


class TargetFileUpdate(CamelStruct):
    name: str | None = None
    escape_formulas: bool | UnsetType | None = UNSET


class TargetFileOut(CamelStruct):
    id: str
    name: str
    delimiter: str
    encoding: str
    header: bool
    escape_formulas: bool | None
    size_bytes: int
    row_count: int
    column_count: int
    checksum: str
    version: int
    created_at: str
    updated_at: str


class FileVersionOut(CamelStruct):
    version: int
    size_bytes: int
    row_count: int
    column_count: int
    checksum: str
    run_id: str | None
    created_at: str
