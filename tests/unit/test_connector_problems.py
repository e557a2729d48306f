"""A validation's first problem fails a run or test as a ConfigError naming its field
(`connectors.toolkit.problems`)."""

from __future__ import annotations

import pytest

from connectors.base import ConfigError, Problem
from connectors.toolkit.problems import config_error, raise_first_problem


def test_no_problems_raise_nothing() -> None:
    raise_first_problem([])


def test_the_first_problem_fails_with_its_field_and_message_as_the_api_words_them() -> None:
    problems = [Problem("config.range", "must be A1 notation"), Problem("config.x", "later")]
    with pytest.raises(ConfigError) as error:
        raise_first_problem(problems)
    assert error.value.message == "config.range must be A1 notation"
    assert error.value.field == "config.range"


def test_one_problem_becomes_one_config_error() -> None:
    error = config_error(Problem("settings.driver", "is not offered"))
    assert (error.message, error.field) == ("settings.driver is not offered", "settings.driver")
