"""A spreadsheet's number as its user sees it (`connectors.toolkit.spreadsheet_numbers`):
at most 15 significant digits, plain decimal notation, no trailing zeros. One rule for
Google Sheets and Excel."""

from __future__ import annotations

import pytest

from connectors.toolkit.spreadsheet_numbers import number_text


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (42, "42"),
        (42.0, "42"),
        (-17.0, "-17"),
        (-0.5, "-0.5"),
        (1234.5, "1234.5"),
        (0.0, "0"),
        (-0.0, "0"),
    ],
)
def test_whole_numbers_have_no_fraction_and_others_no_trailing_zeros(
    number: float, text: str
) -> None:
    assert number_text(number) == text


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.1 + 0.2, "0.3"),
        (1 / 3, "0.333333333333333"),
        (2 / 3, "0.666666666666667"),
        (123456789012345678.0, "123456789012346000"),
        (2.0**60, "1152921504606850000"),
    ],
)
def test_doubles_show_at_most_fifteen_significant_digits(number: float, text: str) -> None:
    assert number_text(number) == text


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1e-7, "0.0000001"),
        (1e15, "1000000000000000"),
        (1.5e20, "150000000000000000000"),
        (12345678901.5, "12345678901.5"),
        (4915112345678.0, "4915112345678"),  # a phone number typed as a number
    ],
)
def test_numbers_never_show_an_exponent(number: float, text: str) -> None:
    assert number_text(number) == text


def test_an_integer_from_the_api_is_exact_whatever_its_size() -> None:
    assert number_text(2**60) == "1152921504606846976"


@pytest.mark.parametrize(("number", "text"), [(float("inf"), "inf"), (float("nan"), "nan")])
def test_what_is_no_finite_number_keeps_pythons_name(number: float, text: str) -> None:
    assert number_text(number) == text
