"""Spreadsheet column letters, as Google Sheets and Excel both name columns: bijective
base 26 (A … Z, AA …). Each source adds its own limits (Excel ends at XFD)."""

from __future__ import annotations


def column_letters(index: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA."""
    if index < 1:
        raise ValueError(f"column index must be >= 1, got {index}")
    letters = ""
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def column_index(letters: str) -> int:
    """A -> 1, Z -> 26, AA -> 27; case-insensitive."""
    index = 0
    for char in letters.upper():
        index = index * 26 + (ord(char) - ord("A") + 1)
    return index
