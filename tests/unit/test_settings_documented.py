"""Every setting of `app/settings.py` is documented: README.md's "## Configuration" table has
a row naming it as its environment variable (`UPPER_CASE`), and every name in that column is
a real setting. A row may name several (`MAX_RETRIES`, `RETRY_BASE_SECONDS`)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from app.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
NAME = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def configuration_table_names(readme: str) -> set[str]:
    """The names in the first column of the table under "## Configuration"."""
    lines = readme.splitlines()
    assert "## Configuration" in lines, 'README.md has no "## Configuration" section'
    names: set[str] = set()
    for line in lines[lines.index("## Configuration") + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            names.update(NAME.findall(line.split("|")[1]))
    return names


def setting_names() -> set[str]:
    return {field.name.upper() for field in fields(Settings)}


@pytest.mark.parametrize(
    ("readme", "names"),
    [
        pytest.param(
            "## Configuration\n| setting | default |\n|---|---|\n| `LOG_LEVEL` | `INFO` |\n",
            {"LOG_LEVEL"},
            id="one-row",
        ),
        pytest.param(
            "## Configuration\n| `MAX_RETRIES`, `RETRY_BASE_SECONDS` | `3`, `30` |\n",
            {"MAX_RETRIES", "RETRY_BASE_SECONDS"},
            id="several-in-a-row",
        ),
        pytest.param(
            "## Configuration\n| `API_DOCS` | `true` | unlike `WEBHOOK_ALLOW_PRIVATE` |\n",
            {"API_DOCS"},
            id="names-in-other-columns-do-not-count",
        ),
        pytest.param(
            "## Setup\n| `PORT` |\n## Configuration\n| `HOST` |\n## Later\n| `SECRET_KEY` |\n",
            {"HOST"},
            id="tables-of-other-sections-do-not-count",
        ),
    ],
)
def test_the_configuration_table_is_read_from_its_first_column(
    readme: str, names: set[str]
) -> None:
    assert configuration_table_names(readme) == names


def test_every_setting_has_a_row_in_the_readme_configuration_table() -> None:
    documented = configuration_table_names(README.read_text(encoding="utf-8"))

    missing = sorted(setting_names() - documented)

    assert not missing, f'README.md "## Configuration" needs a row for: {", ".join(missing)}'


def test_every_name_in_the_readme_configuration_table_is_a_setting() -> None:
    documented = configuration_table_names(README.read_text(encoding="utf-8"))

    unknown = sorted(documented - setting_names())

    assert not unknown, f"README.md documents settings app/settings.py does not have: {unknown}"
