"""CSV text of canonical strings (`app.sync.csv_text`): RFC 4180 quoting only where a field
needs it, an empty string quoted (`""`) so that it stays apart from a null (nothing), and
the same bytes whichever of the two writers (Arrow's, or the quoting one) a batch takes."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import pyarrow as pa
import pytest

from app.sync.csv_text import csv_lines, header_bytes


def batch(**columns: Sequence[str | None]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {name: pa.array(v, pa.string()) for name, v in columns.items()}
    )


def text(lines: pa.Buffer) -> str:
    return bytes(lines.to_pybytes()).decode()


def test_plain_fields_are_written_bare_one_line_per_row() -> None:
    assert text(csv_lines(batch(id=["1", "2"], name=["Ann", "Bo b"]), ",")) == "1,Ann\n2,Bo b\n"


def test_a_null_is_nothing_and_an_empty_string_is_two_quotes() -> None:
    lines = csv_lines(batch(a=["", None, "x"], b=[None, "", "y"]), ",")

    assert text(lines) == '"",\n,""\nx,y\n'


@pytest.mark.parametrize(
    ("value", "written"),
    [
        pytest.param("a,b", '"a,b"', id="delimiter"),
        pytest.param('say "hi"', '"say ""hi"""', id="quote-doubled"),
        pytest.param("two\nlines", '"two\nlines"', id="line-feed"),
        pytest.param("old\rmac", '"old\rmac"', id="carriage-return"),
        pytest.param("", '""', id="empty"),
        pytest.param("a;b", "a;b", id="another-delimiter-stays-bare"),
        pytest.param("  padded ", "  padded ", id="spaces-stay-bare"),
    ],
)
def test_a_field_is_quoted_only_when_it_holds_the_delimiter_a_quote_or_a_line_break(
    value: str, written: str
) -> None:
    # Next to a plain field and a null, in both writers' batches (with and without "").
    for other in ["plain", ""]:
        lines = csv_lines(batch(first=[value, other], second=["z", None]), ",")
        other_written = '""' if other == "" else other
        assert text(lines) == f"{written},z\n{other_written},\n"


@pytest.mark.parametrize("delimiter", [";", "\t", "|", "^", "]"])
def test_the_delimiter_is_whatever_the_file_uses(delimiter: str) -> None:
    lines = csv_lines(batch(a=["x,y", f"in{delimiter}side", ""], b=["1", "2", None]), delimiter)

    assert text(lines) == (f'x,y{delimiter}1\n"in{delimiter}side"{delimiter}2\n""{delimiter}\n')


def test_a_slice_of_a_batch_writes_only_its_rows() -> None:
    whole = batch(a=["1", "", "x,y", None, "5"], b=["p", "q", "r", "s", "t"])

    assert text(csv_lines(whole.slice(1, 3), ",")) == '"",q\n"x,y",r\n,s\n'
    assert text(csv_lines(whole.slice(4), ",")) == "5,t\n"


def test_the_text_reads_back_as_the_values_with_a_standard_csv_reader() -> None:
    values = ["", "plain", 'q"uote', "a,b", "line\nbreak", "ünï😀", " ", "x\r\ny"]
    lines = text(csv_lines(batch(a=values, b=list(reversed(values))), ","))

    rows = list(csv.reader(io.StringIO(lines, newline="")))

    assert rows == [[a, b] for a, b in zip(values, reversed(values), strict=True)]


def test_an_empty_batch_writes_nothing() -> None:
    assert text(csv_lines(batch(a=[], b=[]), ",")) == ""


@pytest.mark.parametrize(
    ("names", "written"),
    [
        pytest.param(["id", "name"], b"id,name\n", id="plain"),
        pytest.param(["id", "a,b", 'say "x"'], b'id,"a,b","say ""x"""\n', id="quoted"),
        pytest.param(["id", ""], b'id,""\n', id="empty-name"),
    ],
)
def test_the_header_is_one_csv_line_of_the_column_names(names: list[str], written: bytes) -> None:
    assert header_bytes(names, ",") == written


def test_the_header_uses_the_files_delimiter() -> None:
    assert header_bytes(["a", "b;c"], ";") == b'a;"b;c"\n'


def test_a_one_column_batch_quotes_and_terminates_each_row_like_any_other() -> None:
    assert text(csv_lines(batch(only=["", "x", None, "a,b"]), ",")) == '""\nx\n\n"a,b"\n'
