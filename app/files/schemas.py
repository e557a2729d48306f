from __future__ import annotations

from app.schema import CamelStruct


class TargetFileCreate(CamelStruct):
    name: str
    delimiter: str = ","
    encoding: str = "utf-8"
    header: bool = True


class TargetFileOut(CamelStruct):
    id: str
    name: str
    delimiter: str
    encoding: str
    header: bool
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
