"""What a Sheets schedule asks for (`config`) and what a Sheets data source holds
(`credentials`, `settings`): shape checks without network, and the parsed selection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.base import JSON, Problem
from connectors.google_sheets.a1 import (
    MAX_ROW,
    WHOLE_SHEET,
    CellRange,
    RangeSyntaxError,
    parse_a1_range,
    split_sheet_prefix,
    spreadsheet_id_from,
)
from connectors.google_sheets.endpoints import endpoint_problems
from connectors.toolkit.problems import raise_first_problem

VALUE_RENDERS = ("formatted", "unformatted")
MAX_RETRY_BUDGET_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class SheetSelection:
    spreadsheet_id: str
    sheet_name: str
    cells: CellRange
    # 1-based within `cells`: with range A5:L100 and headerRow 2 the header is sheet row 6.
    header_row: int
    unformatted: bool


def selection_problems(selection: JSON) -> list[Problem]:
    problems: list[Problem] = []
    spreadsheet = selection.get("spreadsheetId")
    if not isinstance(spreadsheet, str) or not spreadsheet.strip():
        problems.append(Problem("config.spreadsheetId", "is required: the spreadsheet's id or URL"))
    elif spreadsheet_id_from(spreadsheet) is None:
        problems.append(
            Problem(
                "config.spreadsheetId",
                "must be a spreadsheet id or its URL "
                "(https://docs.google.com/spreadsheets/d/<id>/edit)",
            )
        )
    sheet_name = selection.get("sheetName")
    if not isinstance(sheet_name, str) or not sheet_name:
        problems.append(Problem("config.sheetName", "is required: the sheet's exact title"))
    cells: CellRange | None = WHOLE_SHEET
    if "range" in selection and selection["range"] is not None:
        cells, problem = _parse_range(selection["range"], sheet_name)
        if problem:
            problems.append(problem)
    header_row = selection.get("headerRow", 1)
    if header_row is not None:
        problem = _header_row_problem(header_row, "config.headerRow")
        if problem:
            problems.append(problem)
        elif cells and cells.last_row is not None:
            height = cells.last_row - cells.first_row + 1
            if header_row > height:
                problems.append(
                    Problem(
                        "config.headerRow",
                        f"is {header_row} but config.range has only {height} row(s); "
                        "headerRow counts from the range's first row",
                    )
                )
    render = selection.get("valueRender", "formatted")
    if render is not None and render not in VALUE_RENDERS:
        problems.append(
            Problem("config.valueRender", 'must be "formatted" (default) or "unformatted"')
        )
    return problems


def _header_row_problem(value: Any, field: str) -> Problem | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROW:
        return Problem(field, f"must be a whole number from 1 to {MAX_ROW:,} (Sheets' last row)")
    return None


def _parse_range(value: Any, sheet_name: Any) -> tuple[CellRange | None, Problem | None]:
    if not isinstance(value, str) or not value.strip():
        return None, Problem("config.range", "must be A1 notation such as A1:L1000")
    try:
        prefix, cells_text = split_sheet_prefix(value)
        if prefix is not None and prefix != sheet_name:
            return None, Problem(
                "config.range",
                f"names sheet {prefix!r} but config.sheetName is {sheet_name!r}; put only the "
                "cells in range (e.g. A1:L1000) and the sheet in sheetName",
            )
        return parse_a1_range(cells_text), None
    except RangeSyntaxError as error:
        return None, Problem("config.range", str(error))


def parse_selection(selection: JSON) -> SheetSelection:
    """The selection, or ConfigError for its first problem."""
    raise_first_problem(selection_problems(selection))
    spreadsheet_id = spreadsheet_id_from(selection["spreadsheetId"])
    assert spreadsheet_id is not None  # checked above
    cells = WHOLE_SHEET
    if selection.get("range") is not None:
        _, cells_text = split_sheet_prefix(selection["range"])
        cells = parse_a1_range(cells_text)
    return SheetSelection(
        spreadsheet_id=spreadsheet_id,
        sheet_name=selection["sheetName"],
        cells=cells,
        header_row=selection.get("headerRow") or 1,
        unformatted=selection.get("valueRender") == "unformatted",
    )


def credentials_problems(
    credentials: JSON, settings: JSON, allowed_hosts: frozenset[str]
) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(credentials, dict):
        return [Problem("credentials", "must be an object")]
    kinds = [key for key in ("serviceAccountInfo", "oauth") if key in credentials]
    if len(kinds) != 1:
        problems.append(
            Problem(
                "credentials",
                "give exactly one of serviceAccountInfo (a service account's JSON key) or "
                "oauth ({clientId, clientSecret, refreshToken})",
            )
        )
    elif kinds[0] == "serviceAccountInfo":
        problems += _service_account_problems(credentials["serviceAccountInfo"])
    else:
        problems += _oauth_problems(credentials["oauth"])

    problems += endpoint_problems(credentials, settings, allowed_hosts)
    budget = settings.get("retryBudgetSeconds")
    if budget is not None and (
        isinstance(budget, bool)
        or not isinstance(budget, int | float)
        or not 0 <= budget <= MAX_RETRY_BUDGET_SECONDS
    ):
        problems.append(
            Problem(
                "settings.retryBudgetSeconds",
                f"must be a number of seconds from 0 to {MAX_RETRY_BUDGET_SECONDS:.0f}",
            )
        )
    # A default for schedules' config.headerRow; checked here too so it is refused on save.
    if settings.get("headerRow") is not None:
        problem = _header_row_problem(settings["headerRow"], "settings.headerRow")
        if problem:
            problems.append(problem)
    return problems


def _service_account_problems(info: Any) -> list[Problem]:
    field = "credentials.serviceAccountInfo"
    if not isinstance(info, dict):
        return [Problem(field, "must be the service account's JSON key (an object)")]
    problems = []
    if info.get("type", "service_account") != "service_account":
        problems.append(
            Problem(f"{field}.type", 'must be "service_account" (this is another kind of key)')
        )
    email = info.get("client_email")
    if not isinstance(email, str) or "@" not in email:
        problems.append(Problem(f"{field}.client_email", "is required: the account's email"))
    key = info.get("private_key")
    if not isinstance(key, str) or "-----BEGIN" not in key or "PRIVATE KEY-----" not in key:
        problems.append(
            Problem(f"{field}.private_key", "is required: the PEM private key from the JSON key")
        )
    return problems


def _oauth_problems(oauth: Any) -> list[Problem]:
    if not isinstance(oauth, dict):
        return [Problem("credentials.oauth", "must be {clientId, clientSecret, refreshToken}")]
    return [
        Problem(f"credentials.oauth.{key}", "is required")
        for key in ("clientId", "clientSecret", "refreshToken")
        if not isinstance(oauth.get(key), str) or not oauth[key].strip()
    ]
