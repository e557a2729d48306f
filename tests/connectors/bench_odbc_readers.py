"""pyodbc fetchmany vs arrow-odbc over the same ODBC connection string (not collected by
pytest). Each reader produces Arrow record batches, which is what the engine needs.

    .venv/bin/python -m tests.connectors.bench_odbc_readers postgres --rows 1000000
    .venv/bin/python -m tests.connectors.bench_odbc_readers standin
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import arrow_odbc
import pyarrow as pa
import pyodbc

from connectors.base import Environment
from connectors.postgresql import PostgresConnector
from connectors.sqlserver import SqlServerConnector
from tests.standins.tds.fixtures import PASSWORD, USERNAME

BATCH = 50_000


def with_pyodbc(text: str, query: str) -> int:
    rows = 0
    with pyodbc.connect(text) as connection:
        cursor = connection.cursor()
        cursor.execute(query)
        names = [d[0] for d in cursor.description]
        while chunk := cursor.fetchmany(BATCH):
            columns = list(zip(*chunk, strict=True))
            batch = pa.RecordBatch.from_arrays([pa.array(c) for c in columns], names=names)
            rows += batch.num_rows
    return rows


def with_arrow_odbc(text: str, query: str, map_schema: Callable[[pa.Schema], pa.Schema]) -> int:
    connection = arrow_odbc.connect(text)
    reader = connection.read_arrow_batches(
        query, batch_size=BATCH, max_text_size=1024, map_schema=map_schema
    )
    return sum(batch.num_rows for batch in reader)


def measure(label: str, run: Callable[[], int]) -> None:
    started = time.perf_counter()
    rows = run()
    seconds = time.perf_counter() - started
    print(f"{label:<28} {rows:>9} rows {seconds:6.2f} s {rows / seconds:>10,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", choices=["postgres", "standin"])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=14330)
    parser.add_argument("--driver", default="FreeTDS")
    args = parser.parse_args()
    env = Environment()
    if args.target == "postgres":
        setup = pyodbc.connect(
            "DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1;DATABASE=test;UID=postgres",
            autocommit=True,
        )
        setup.execute("DROP TABLE IF EXISTS bench_rows")
        setup.execute(
            "CREATE TABLE bench_rows AS SELECT n AS id, 'name ' || n AS name, "
            "(n % 1000) + 0.25 AS price, n / 7.0::float8 AS ratio, now() AS at, "
            "n % 2 = 0 AS even, 'city ' || (n % 97) AS city, n::bigint * 3 AS big, "
            "current_date AS day, md5(n::text) AS hash, (n % 5)::smallint AS bucket, "
            "n::numeric(12,2) AS amount "
            f"FROM generate_series(1, {args.rows}) AS n"
        )
        connector: PostgresConnector | SqlServerConnector = PostgresConnector(
            {"server": "127.0.0.1", "username": "postgres", "password": "unused-fake"}, {}, env
        )
        text = connector.connection_string("test", 600)
        query = "SELECT * FROM bench_rows"
    else:
        connector = SqlServerConnector(
            {
                "server": "127.0.0.1",
                "port": args.port,
                "username": USERNAME,
                "password": PASSWORD,
                "encrypt": False,
            },
            {"driver": args.driver},
            env,
        )
        text = connector.connection_string("SalesDB", 600)
        query = "SELECT * FROM dbo.Numbers"
    measure("pyodbc fetchmany -> Arrow", lambda: with_pyodbc(text, query))
    measure("arrow-odbc", lambda: with_arrow_odbc(text, query, connector.map_schema))
    measure(
        "connector.fetch (arrow-odbc)",
        lambda: sum(
            b.num_rows
            for b in connector.fetch(
                {
                    "databaseName": "test" if args.target == "postgres" else "SalesDB",
                    "query": query,
                },
                lambda _: None,
            ).batches
        ),
    )


if __name__ == "__main__":
    main()
