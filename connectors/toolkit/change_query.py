"""`config.changeQuery`: the one-row query a SQL source answers to say whether its data
may have changed (connectors/base.py, change_marker).

The query is typed by tenants, so it is held to exactly the rules of `config.query`
(connectors/odbc/read_only.py): one statement that only reads, checked on the text that
runs. Its one row becomes the marker: each value rendered the same way every time it has
the same value (an exact decimal as its digits, a timestamp in ISO form with its zone,
bytes as hex), so the same row read twice gives the same marker whichever driver read it
(psqlODBC, ADBC or SQL Server's ODBC driver hand over the same Arrow types for a value).
The rendering is hashed: a marker is stored with every schedule's run state, and a row may
hold long text.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from connectors.base import JSON, ConfigError, Problem
from connectors.odbc.read_only import checked_query, read_only_problem

FIELD = "config.changeQuery"
KEY = "changeQuery"
MARKER_PREFIX = "row:"


def change_query_problems(selection: JSON, dialect: str) -> list[Problem]:
    """What is wrong with `config.changeQuery` in `selection` (absent is fine)."""
    query = selection.get(KEY)
    if query is None:
        return []
    if not isinstance(query, str):
        return [Problem(FIELD, "must be text (one SELECT statement returning one row)")]
    if not query.strip():
        # An emptied form field means "no change query", not a broken one.
        return []
    problem = read_only_problem(query, dialect)
    return [Problem(FIELD, problem)] if problem else []


def checked_change_query(selection: JSON, dialect: str) -> str | None:
    """The exact text to run for the selection's change query, or None when it has none.
    ConfigError naming `config.changeQuery` when the query breaks the read-only rule."""
    problems = change_query_problems(selection, dialect)
    if problems:
        raise ConfigError(f"{problems[0].field} {problems[0].message}", field=FIELD)
    query = selection.get(KEY)
    if not isinstance(query, str) or not query.strip():
        return None
    return checked_query(query, dialect)


def marker_of_batches(batches: Iterable[pa.RecordBatch]) -> str:
    """The marker of a change query's result, which must be exactly one row: a query that
    returns none or several cannot say whether the data changed, and a silent choice
    would skip fetches that were needed."""
    rows: list[list[Any]] = []
    for batch in batches:
        rows.extend(
            [batch.column(index)[row].as_py() for index in range(batch.num_columns)]
            for row in range(batch.num_rows)
        )
        if len(rows) > 1:
            break
    if len(rows) != 1:
        got = "no row" if not rows else "more than one row"
        raise ConfigError(
            f"{FIELD} must return exactly one row (for example SELECT MAX(updated_at), "
            f"COUNT(*) FROM orders); it returned {got}",
            field=FIELD,
        )
    return marker_of_row(rows[0])


def marker_of_row(values: Iterable[Any]) -> str:
    """The marker of one row of Python values (as Arrow's `as_py` gives them)."""
    rendered = json.dumps([_rendered(value) for value in values], separators=(",", ":"))
    return MARKER_PREFIX + hashlib.sha256(rendered.encode("utf-8")).hexdigest()


def _rendered(value: Any) -> list[str]:
    """A value as [kind, text]: the kind keeps 1 (a number) and '1' (text) apart."""
    if value is None:
        return ["null", ""]
    if isinstance(value, bool):  # before int: True is an int
        return ["bool", "true" if value else "false"]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, decimal.Decimal):
        # Normalised so that 1.50 read once as decimal(10,2) and once as numeric is equal.
        return ["decimal", format(value.normalize(), "f") if value.is_finite() else str(value)]
    if isinstance(value, float):
        return ["float", repr(value) if math.isfinite(value) else str(value)]
    if isinstance(value, str):
        return ["text", value]
    if isinstance(value, bytes | bytearray | memoryview):
        return ["bytes", bytes(value).hex()]
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return ["timestamp", value.isoformat()]
    if isinstance(value, dt.date | dt.time):
        return [type(value).__name__, value.isoformat()]
    if isinstance(value, dt.timedelta):
        return ["interval", repr(value)]
    if isinstance(value, list | tuple):
        return ["list", json.dumps([_rendered(item) for item in value])]
    if isinstance(value, dict):
        items = sorted((str(k), _rendered(v)) for k, v in value.items())
        return ["map", json.dumps(items)]
    # Anything else Arrow may hand over (a UUID, a pandas-free extension value) has a
    # stable str; its type name keeps it apart from text that reads the same.
    text = str(value)
    return [type(value).__name__, base64.b64encode(text.encode("utf-8")).decode("ascii")]
