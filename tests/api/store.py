"""Reading the SQL store directly, to check what is at rest (hashes, sealed credentials)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from app.db.engine import create_engine
from app.settings import Settings


def stored_rows(settings: Settings, sql: str, **params: Any) -> list[dict[str, Any]]:
    async def query() -> list[dict[str, Any]]:
        engine = create_engine(settings)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text(sql), params)
                return [dict(row._mapping) for row in result]
        finally:
            await engine.dispose()

    return asyncio.run(query())
