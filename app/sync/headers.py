"""Column names a CSV can carry: blanks named, duplicates numbered."""

from __future__ import annotations

from collections.abc import Sequence


def normalise_headers(raw: Sequence[str | None]) -> list[str]:
    """`["id", "", "name", "name"]` → `["id", "column_2", "name", "name_2"]`.

    Blank headers are named by their 1-based position so a user can find the column in the
    source; a repeated name gets `_2`, `_3`… in order of appearance.
    """
    names: list[str] = []
    seen: set[str] = set()
    for position, header in enumerate(raw, start=1):
        base = (header or "").strip() or f"column_{position}"
        name, counter = base, 2
        while name in seen:
            name, counter = f"{base}_{counter}", counter + 1
        seen.add(name)
        names.append(name)
    return names
