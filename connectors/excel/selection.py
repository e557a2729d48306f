"""What an Excel schedule asks for (`config`) and what an Excel data source holds
(`credentials`, `settings`): shape checks without network, and the parsed selection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.base import JSON, Problem
from connectors.excel.addresses import MAX_ROWS, AddressError, Bounds, parse_a1
from connectors.excel.endpoints import endpoint_problems
from connectors.toolkit.problems import raise_first_problem

# Whose drive holds the workbook, for app-only access: exactly one of these settings.
DRIVE_SETTINGS = ("driveId", "userId", "siteId")
_FORBIDDEN_SHEET_CHARS = set("[]:*?/\\")


@dataclass(frozen=True, slots=True)
class Selection:
    workbook_id: str
    worksheet_name: str
    bounds: Bounds | None
    header_row: int

    @classmethod
    def from_config(cls, config: JSON) -> Selection:
        raise_first_problem(selection_problems(config))
        address = config.get("range")
        return cls(
            workbook_id=str(config["workbookId"]),
            worksheet_name=str(config["worksheetName"]),
            bounds=parse_a1(address) if address else None,
            header_row=int(config.get("headerRow") or 1),
        )


def credentials_problems(
    credentials: JSON, settings: JSON, operator_hosts: frozenset[str]
) -> list[Problem]:
    problems = [
        Problem(f"credentials.{name}", "is required")
        for name in ("tenantId", "clientId")
        if not _is_text(credentials.get(name))
    ]
    has_secret = _is_text(credentials.get("clientSecret"))
    has_refresh = _is_text(credentials.get("refreshToken"))
    if has_secret and has_refresh:
        problems.append(
            Problem(
                "credentials",
                "give either clientSecret (app-only access) or refreshToken (delegated "
                "access), not both",
            )
        )
    elif not (has_secret or has_refresh):
        problems.append(
            Problem(
                "credentials.clientSecret",
                "is required for app-only access (or give credentials.refreshToken for "
                "delegated access to the signed-in user's drive)",
            )
        )
    if has_secret and not has_refresh:
        drives = [name for name in DRIVE_SETTINGS if settings.get(name)]
        if not drives:
            problems.append(
                Problem(
                    "settings.driveId",
                    "app-only access needs settings.driveId, settings.userId or "
                    "settings.siteId to say whose drive holds the workbook",
                )
            )
        elif len(drives) > 1:
            problems.append(
                Problem(f"settings.{drives[1]}", f"give only one of {', '.join(drives)}")
            )
        for name in drives:
            if not _is_text(settings.get(name)):
                problems.append(Problem(f"settings.{name}", "must be a non-empty string"))
    problems += endpoint_problems(settings, operator_hosts)
    # A default for schedules' config.headerRow; checked here too so it is refused on save.
    if settings.get("headerRow") is not None:
        problems += _header_row_problems(settings["headerRow"], "settings.headerRow")
    return problems


def selection_problems(selection: JSON) -> list[Problem]:
    problems: list[Problem] = []
    if not _is_text(selection.get("workbookId")):
        problems.append(Problem("config.workbookId", "is required (the workbook's drive item id)"))
    name = selection.get("worksheetName")
    if not isinstance(name, str) or not _is_text(name):
        problems.append(Problem("config.worksheetName", "is required"))
    elif len(name) > 31 or _FORBIDDEN_SHEET_CHARS & set(name):
        problems.append(
            Problem(
                "config.worksheetName",
                "is not a possible Excel worksheet name (at most 31 characters, none of "
                "[ ] : * ? / \\)",
            )
        )
    address = selection.get("range")
    if address not in (None, ""):
        if not isinstance(address, str):
            problems.append(Problem("config.range", "must be an A1 range such as A1:D100"))
        else:
            try:
                parse_a1(address)
            except AddressError as exc:
                problems.append(Problem("config.range", str(exc)))
    if selection.get("headerRow") is not None:
        problems += _header_row_problems(selection["headerRow"], "config.headerRow")
    return problems


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _header_row_problems(value: Any, field: str) -> list[Problem]:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROWS:
        return [Problem(field, f"must be a whole number from 1 to {MAX_ROWS:,} (Excel's last row)")]
    return []
