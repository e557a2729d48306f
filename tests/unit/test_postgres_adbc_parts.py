"""The pure parts of the postgresql source type's ADBC path: the connection string it
writes, the driver's error texts reduced to the sentence a user may see, and the type
conversions that make its batches the psqlODBC path's (tests/connectors/
test_postgresql_adbc.py runs them against PostgreSQL)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pyarrow as pa
import pytest

from connectors.base import ConfigError
from connectors.odbc.errors import classify
from connectors.postgresql.adbc_errors import as_diagnostic, sentence
from connectors.postgresql.adbc_types import (
    batch_converter,
    numeric_precision_and_scale,
    server_side_casts,
    uuid_text,
    with_server_side_casts,
)
from connectors.postgresql.conninfo import conninfo, quoted
from connectors.postgresql.login import PostgresLogin


def test_every_conninfo_value_is_one_quoted_value() -> None:
    assert quoted("a b") == "'a b'"
    assert quoted("it's") == "'it\\'s'"
    assert quoted("back\\slash") == "'back\\\\slash'"
    login = PostgresLogin("db.example.com", 5433, "u", "p' host=evil", "sales", "verify-full")
    assert conninfo(login, "sales", "10.0.0.5", 7) == (
        "host='db.example.com' hostaddr='10.0.0.5' port='5433' dbname='sales' user='u' "
        "password='p\\' host=evil' sslmode='verify-full' connect_timeout='7' "
        "application_name='DataSync'"
    )


QUERY_TEXT = "SELECT secret_column FROM payroll"


@pytest.mark.parametrize(
    ("text", "told"),
    [
        (
            'IO: [libpq] Failed to connect: connection to server at "10.0.0.5", port 5432 '
            'failed: FATAL:  password authentication failed for user "u"\n',
            'connection to server at "10.0.0.5", port 5432 failed: FATAL:  password '
            'authentication failed for user "u"',
        ),
        (
            'INVALID_ARGUMENT: Failed to prepare query: ERROR:  relation "x" does not exist\n'
            f"LINE 1: {QUERY_TEXT}\n        ^\n\nQuery was: {QUERY_TEXT}. SQLSTATE: 42P01",
            'ERROR:  relation "x" does not exist',
        ),
        (
            "[libpq] Execution error [PGRES_FATAL_ERROR]: ERROR:  canceling statement due to "
            "statement timeout\n. SQLSTATE: 57014",
            "ERROR:  canceling statement due to statement timeout",
        ),
    ],
)
def test_only_the_servers_or_libpqs_sentence_is_kept_never_the_query(text: str, told: str) -> None:
    assert sentence(text) == told
    assert "payroll" not in sentence(text)


def test_a_connect_failure_without_sqlstate_reads_as_psqlodbcs_08001() -> None:
    refused = Exception(
        'IO: [libpq] Failed to connect: connection to server at "127.0.0.1", port 1 failed: '
        "Connection refused\n\tIs the server running on that host?\n"
    )
    assert str(as_diagnostic(refused, connecting=True)).startswith("State: 08001,")
    lost = OSError("IO: [libpq] server closed the connection unexpectedly")
    assert str(as_diagnostic(lost)).startswith("State: 08006,")
    timeout = OSError(
        "[libpq] Execution error [PGRES_FATAL_ERROR]: ERROR:  canceling statement due to "
        "statement timeout\n"
    )
    assert str(as_diagnostic(timeout)).startswith("State: 57014,")


def test_the_sqlstate_the_server_gave_decides_the_classification() -> None:
    class DriverError(Exception):
        sqlstate = "42P01"

    error = classify(
        as_diagnostic(DriverError('NOT_FOUND: Failed to prepare query: ERROR:  relation "x"')),
        secrets=[],
    )
    assert isinstance(error, ConfigError) and error.field == "config.query"


@pytest.mark.parametrize(
    ("typmod", "declared"),
    [
        (((12 << 16) | 2) + 4, (12, 2)),
        (((38 << 16) | 10) + 4, (38, 10)),
        (((1000 << 16) | 0) + 4, (1000, 0)),
        (-1, None),  # numeric without precision
        (((5 << 16) | (-2 & 0x7FF)) + 4, None),  # numeric(5, -2), PostgreSQL 15
    ],
)
def test_numeric_precision_and_scale_come_from_the_type_modifier(
    typmod: int, declared: tuple[int, int] | None
) -> None:
    assert numeric_precision_and_scale(typmod) == declared


def test_uuids_become_psqlodbcs_upper_case_text_nulls_and_slices_included() -> None:
    values = [uuid.UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff"), None, uuid.UUID(int=1)]
    array = pa.array([None if v is None else v.bytes for v in values], pa.binary(16))
    expected = [
        "6F9619FF-8B86-D011-B42D-00C04FC964FF",
        None,
        "00000000-0000-0000-0000-000000000001",
    ]
    assert uuid_text(array).to_pylist() == expected
    assert uuid_text(array.slice(1)).to_pylist() == expected[1:]
    assert uuid_text(pa.ExtensionArray.from_storage(pa.uuid(), array)).to_pylist() == expected


def test_columns_the_server_must_convert_are_read_through_a_subquery_by_position() -> None:
    def field(name: str, kind: pa.DataType, pg_type: str) -> pa.Field:
        return pa.field(name, kind, metadata={"POSTGRESQL:type": pg_type})

    schema = pa.schema(
        [
            field("x", pa.int32(), "int4"),
            field("x", pa.month_day_nano_interval(), "interval"),
            field("", pa.int64(), "money"),
            # The driver's own text of a numeric costs more CPU than the rest of a row.
            field("n", pa.opaque(pa.string(), "numeric", "PostgreSQL"), "numeric"),
        ]
    )
    casts = server_side_casts(schema)
    assert sorted(casts) == [1, 2, 3]
    assert with_server_side_casts("SELECT 1", 4, casts) == (
        'SELECT "c0", CASE WHEN num_nulls("c1") = 0 THEN format(\'%s\', "c1") END, '
        '"c2"::numeric::float8, "c3"::text '
        'FROM (\nSELECT 1\n) AS datasync_query("c0", "c1", "c2", "c3")'
    )


NUMERIC = pa.opaque(pa.string(), "numeric", "PostgreSQL")


def numeric_field(name: str, typmod: int) -> pa.Field:
    metadata = {"POSTGRESQL:type": "numeric", "POSTGRESQL:typmod": str(typmod)}
    return pa.field(name, NUMERIC, metadata=metadata)


def test_numeric_columns_come_from_the_servers_text_with_the_declared_scale() -> None:
    """The driver describes numeric(10, 2) and unconstrained numeric; the server sends
    both as text (server_side_casts); the batches then carry the psqlODBC path's types
    under the query's own names."""
    described = pa.schema([numeric_field("price", (10 << 16 | 2) + 4), numeric_field("x", -1)])
    read = pa.schema([pa.field("c0", pa.string()), pa.field("c1", pa.string())])
    convert = batch_converter(described, read)

    batch = convert(
        pa.record_batch([pa.array(["12.50", None]), pa.array(["NaN", "1.230"])], schema=read)
    )

    assert batch.schema.names == ["price", "x"]
    assert batch.schema.types == [pa.decimal128(10, 2), pa.string()]
    assert batch.column(0).to_pylist() == [Decimal("12.50"), None]
    assert batch.column(1).to_pylist() == ["NaN", "1.230"]


def test_nan_in_a_numeric_with_precision_is_refused_naming_the_column() -> None:
    described = pa.schema([numeric_field("price", (10 << 16 | 2) + 4)])
    read = pa.schema([pa.field("c0", pa.string())])

    with pytest.raises(ConfigError) as raised:
        batch_converter(described, read)(pa.record_batch([pa.array(["NaN"])], schema=read))

    assert raised.value.field == "config.query" and "'price'" in raised.value.message
