"""CSV formula escaping: text that would run as a spreadsheet formula gets a leading `'`;
numbers, dates and ordinary text are left exactly as they are."""

from __future__ import annotations

import pyarrow as pa
import pytest

from app.sync.formulas import escape_formulas


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (
            '=HYPERLINK("http://evil.example","click")',
            '\'=HYPERLINK("http://evil.example","click")',
        ),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("=1", "'=1"),
        ("-", "'-"),
        ("+", "'+"),
        ("--", "'--"),
        ("-abc", "'-abc"),
        ("- item", "'- item"),
        ("+1 555 0100", "'+1 555 0100"),
    ],
)
def test_cells_that_start_a_formula_are_prefixed_with_a_quote(cell: str, written: str) -> None:
    assert escape_formulas(pa.array([cell])).to_pylist() == [written]


@pytest.mark.parametrize(
    "cell",
    [
        "-5",
        "+1.5e3",
        "-0.25",
        "-.5",
        "-12.5%",
        "-1,234,567.89",
        "+7",
        "-1E-9",
        "2026-02-12",
        "2026-02-12T10:00:00Z",
        "plain text",
        "a=b",
        "email@example.com",
        "",
        "12",
        "'=already quoted",
    ],
)
def test_numbers_dates_and_ordinary_text_are_left_alone(cell: str) -> None:
    assert escape_formulas(pa.array([cell])).to_pylist() == [cell]


def test_nulls_stay_null_and_positions_are_kept() -> None:
    column = pa.array([None, "=1", "x", None, "-3"])
    assert escape_formulas(column).to_pylist() == [None, "'=1", "x", None, "-3"]


def test_escaping_is_stable_across_runs() -> None:
    column = pa.array(["=A1", "-5", "@x"] * 1000)
    assert escape_formulas(column).equals(escape_formulas(column))
