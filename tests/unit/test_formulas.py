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


STRING_TYPES = [
    pytest.param(pa.string(), id="string"),
    pytest.param(pa.large_string(), id="large_string"),
    pytest.param(pa.string_view(), id="string_view"),
]


@pytest.mark.parametrize("text_type", STRING_TYPES)
def test_every_arrow_string_type_is_escaped_and_keeps_its_type(text_type: pa.DataType) -> None:
    column = pa.array(["=1", None, "x", "-3", "@SUM(A1)"], text_type)
    escaped = escape_formulas(column)
    assert escaped.type == text_type
    assert escaped.to_pylist() == ["'=1", None, "x", "-3", "'@SUM(A1)"]


@pytest.mark.parametrize("text_type", STRING_TYPES)
def test_every_arrow_string_type_without_formulas_comes_back_unchanged(
    text_type: pa.DataType,
) -> None:
    column = pa.array(["x", None, "-3"], text_type)
    assert escape_formulas(column).equals(column)


@pytest.mark.parametrize("text_type", STRING_TYPES)
def test_chunked_columns_are_escaped_and_stay_chunked(text_type: pa.DataType) -> None:
    column = pa.chunked_array([["=1", None], [], ["x", "+cmd"]], text_type)
    escaped = escape_formulas(column)
    assert isinstance(escaped, pa.ChunkedArray)
    assert escaped.type == text_type
    assert escaped.to_pylist() == ["'=1", None, "x", "'+cmd"]
