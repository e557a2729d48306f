from __future__ import annotations

import pytest

from app.sync.headers import normalise_headers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["id", "name"], ["id", "name"]),
        (["id", "", "  ", None], ["id", "column_2", "column_3", "column_4"]),
        (["name", "name", "name"], ["name", "name_2", "name_3"]),
        (["name", "name_2", "name"], ["name", "name_2", "name_3"]),
        ([" padded "], ["padded"]),
    ],
)
def test_blank_headers_are_named_and_duplicates_numbered(
    raw: list[str | None], expected: list[str]
) -> None:
    assert normalise_headers(raw) == expected
