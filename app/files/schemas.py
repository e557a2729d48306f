"""Target file bodies.

The request limits are documented with `KwargDefinition` rather than enforced by msgspec:
app.files.service checks them itself so that one answer names every bad field in plain
words. Both read the constants below, so the document states exactly what is enforced.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from litestar.params import KwargDefinition
from msgspec import UNSET, UnsetType

from app.schema import CamelStruct, Pagination

DELIMITERS = (",", ";", "\t", "|")
ENCODINGS = ("utf-8", "utf-8-sig")
FILE_NAME_MAX = 255
# The name goes into Content-Disposition: no path separators, quotes or line breaks, and
# something besides white space. Python's `re` and ECMA-262 read this pattern alike.
_NAME_CHAR = r'[^/\\"\r\n\x00]'
FILE_NAME_PATTERN = rf'^{_NAME_CHAR}*[^/\\"\r\n\x00\s]{_NAME_CHAR}*$'
FILE_NAME = re.compile(FILE_NAME_PATTERN)

_NAME = KwargDefinition(
    min_length=1,
    max_length=FILE_NAME_MAX,
    pattern=FILE_NAME_PATTERN,
    description=f'1 to {FILE_NAME_MAX} characters, not only spaces, without / \\ " or line '
    "breaks; surrounding spaces are dropped",
)
_ESCAPE_FORMULAS = msgspec.Meta(
    description="Prefix `'` to text a spreadsheet would run as a formula (a cell starting "
    "with =, +, -, @, a tab or a carriage return); null: on for files synced from "
    "spreadsheets, off for databases"
)


class TargetFileCreate(CamelStruct):
    name: Annotated[str, _NAME]
    delimiter: Annotated[
        str, KwargDefinition(schema_extra={"enum": list(DELIMITERS)}, description="Field separator")
    ] = ","
    encoding: Annotated[
        str,
        KwargDefinition(
            schema_extra={"enum": list(ENCODINGS)},
            description="utf-8-sig writes a byte order mark, for Excel",
        ),
    ] = "utf-8"
    header: Annotated[bool, msgspec.Meta(description="Write the column names first")] = True
    escape_formulas: Annotated[bool | None, _ESCAPE_FORMULAS] = None


class TargetFileUpdate(CamelStruct):
    """Partial update: omitted fields keep their values; the next sync writes the change."""

    name: Annotated[str | None, _NAME] = None
    escape_formulas: Annotated[bool | UnsetType | None, _ESCAPE_FORMULAS] = UNSET


class TargetFileOut(CamelStruct):
    id: str
    name: str
    delimiter: str
    encoding: str
    header: bool
    escape_formulas: Annotated[bool | None, _ESCAPE_FORMULAS]
    size_bytes: int
    row_count: int
    column_count: int
    checksum: Annotated[
        str, msgspec.Meta(description="SHA-256 of the content, hex; the content's ETag")
    ]
    version: Annotated[
        int, msgspec.Meta(description="The current version; 0 until the first sync writes it")
    ]
    created_at: str
    updated_at: str


class FileVersionOut(CamelStruct):
    version: int
    size_bytes: int
    row_count: int
    column_count: int
    checksum: Annotated[str, msgspec.Meta(description="SHA-256 of this version's content, hex")]
    run_id: Annotated[str | None, msgspec.Meta(description="The sync run that wrote it")]
    created_at: str


class FileCreated(CamelStruct):
    success: Literal[True]
    file: TargetFileOut
    message: str


class FileList(CamelStruct):
    success: Literal[True]
    files: list[TargetFileOut]
    total_count: int
    pagination: Pagination


class FileDetail(CamelStruct):
    success: Literal[True]
    file: TargetFileOut


class FileUpdated(CamelStruct):
    success: Literal[True]
    file: TargetFileOut
    message: str


class FileVersionList(CamelStruct):
    """The kept versions, newest first (the service keeps the last FILE_VERSIONS_KEPT)."""

    success: Literal[True]
    versions: list[FileVersionOut]
    total_count: int
