"""Style and types are part of the build: ruff's lint rules, ruff's formatting and
mypy --strict run with the suite, so a style or type error fails CI like a failing test.
The rules themselves live in pyproject.toml ([tool.ruff], [tool.mypy])."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["app", "connectors", "bench", "tests"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_finds_no_lint_problem() -> None:
    result = _run("ruff", "check", "--no-cache", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_is_formatted_as_ruff_formats_it() -> None:
    result = _run("ruff", "format", "--check", "--no-cache", *CHECKED)
    assert result.returncode == 0, (
        f"{result.stdout}{result.stderr}\nrun `.venv/bin/ruff format {' '.join(CHECKED)}`"
    )


def test_mypy_strict_finds_no_type_error_in_app_and_connectors(tmp_path: Path) -> None:
    result = _run("mypy", "--strict", "--cache-dir", str(tmp_path / "mypy"), "app", "connectors")
    assert result.returncode == 0, result.stdout + result.stderr
