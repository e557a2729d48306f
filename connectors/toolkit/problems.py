"""Validation problems as the error a connection test or run fails with.

Connectors check what a data source or schedule holds twice: when it is saved (every
Problem is reported) and again before each run or test, where the first problem fails the
call as a ConfigError naming its field, worded as the API words it (`config.range must…`).
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import ConfigError, Problem


def config_error(problem: Problem) -> ConfigError:
    return ConfigError(f"{problem.field} {problem.message}", field=problem.field)


def raise_first_problem(problems: Sequence[Problem]) -> None:
    """Raises ConfigError for the first of `problems`; returns when there are none."""
    if problems:
        raise config_error(problems[0])
