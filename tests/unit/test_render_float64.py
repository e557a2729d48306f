"""float64 cells: a double whose shortest repr is short is written as is; a noisy one (over 16
characters, 0.30000000000000004) as its exact binary value rounded half to even to 15
significant digits, which is what `format(x, ".15g")` gives. Arrow's notation throughout,
except that noisy magnitudes outside [1e-8, 1e14) keep `.15g`'s (exponent unpadded)."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pytest

from app.sync.render import render_column


def arrow_notation(number: str) -> str:
    """A number's text (Python's repr or format's) in the notation Arrow writes doubles in:
    positional for decimal exponents -6 … 9, else `d.ddde+x` / `d.ddde-x`; no trailing zeros."""
    sign = "-" if number.startswith("-") else ""
    mantissa, _, exponent = number.lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    power = int(exponent or 0) + len(whole) - 1 - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    if not digits:
        return sign + "0"
    if not -7 < power < 10:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"
    if power < 0:
        return f"{sign}0.{'0' * (-power - 1)}{digits}"
    whole, fraction = digits[: power + 1].ljust(power + 1, "0"), digits[power + 1 :]
    return sign + whole + ("." + fraction if fraction else "")


def expected_text(value: float) -> str:
    shortest = arrow_notation(repr(value))
    if len(shortest) <= 16:
        return shortest
    fifteen = format(value, ".15g")
    if 1e-8 <= abs(value) < 1e14:
        return arrow_notation(fifteen)
    return fifteen.replace("e-0", "e-")


def doubles(count: int) -> np.ndarray:
    """Every kind of finite double, count // 8 of each kind, from a fixed seed."""
    rng = np.random.default_rng(20260212)
    n = count // 8
    sign = rng.choice([-1.0, 1.0], n)
    # The doubles nearest 15 digits followed by a 5, on either side of the tie.
    near_ties = [
        float(f"{digits}5e{exponent}")
        for digits, exponent in zip(
            rng.integers(10**14, 10**15, n), rng.integers(-330, 290, n), strict=True
        )
    ]
    near_ties_in_fast_range = [
        float(f"{digits}5e{exponent}")
        for digits, exponent in zip(
            rng.integers(10**14, 10**15, n), rng.integers(-23, 0, n), strict=True
        )
    ]
    # Exact ties: 16 significant digits ending in 5, which doubles hold exactly when the
    # fraction is a multiple of 1/2, 1/4 or 1/8 (1234567890123.125).
    places = rng.integers(1, 4, n)
    wholes = rng.integers(10 ** (15 - places), 10 ** (16 - places))
    odd = 2 * rng.integers(0, 2 ** (places - 1)) + 1
    exact_ties = (wholes * 2.0**places + odd) / 2.0**places
    kinds = [
        rng.random(n) * 10.0 ** rng.integers(-10, 16, n) * sign,
        rng.integers(0, 2**64, n, dtype=np.uint64).view(np.float64),  # any bits: any exponent
        np.array(near_ties),
        np.array(near_ties_in_fast_range),
        exact_ties * sign,
        rng.integers(2**53, 2**63, n).astype(np.float64) * rng.choice([1.0, 1e3], n),
        rng.integers(1, 2**52, n, dtype=np.uint64).view(np.float64) * sign,  # subnormal
        np.nextafter(10.0 ** rng.integers(-9, 16, n), np.inf * sign),  # beside powers of ten
    ]
    values = np.concatenate(kinds)
    return values[np.isfinite(values)]


def test_every_double_renders_as_its_exactly_rounded_15_significant_digits() -> None:
    values = doubles(200_000)

    rendered = render_column(pa.array(values)).to_pylist()

    pairs = zip(values.tolist(), rendered, strict=True)
    wrong = [(value, text) for value, text in pairs if text != expected_text(value)]
    assert wrong[:5] == []  # (double, its text), the first few of any wrong ones


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1.000000000000002, "1", id="sixteen-digits-round-to-fifteen"),
        pytest.param(100000000000000.02, "100000000000000", id="just-above-1e14"),
        pytest.param(1.2345678901234567e20, "1.23456789012346e+20", id="huge"),
        pytest.param(1.2345678901234567e-9, "1.23456789012346e-9", id="tiny-exponent-unpadded"),
        pytest.param(-1.2345678901234567e-9, "-1.23456789012346e-9", id="tiny-negative"),
        pytest.param(1.2345678901234568e-05, "0.0000123456789012346", id="small"),
        pytest.param(9.999999999999999e-9, "1e-8", id="rounds-up-into-the-vectorised-range"),
        pytest.param(99999999999999.98, "1e+14", id="rounds-up-out-of-the-vectorised-range"),
        # Next to a decimal tie the nearest 15-digit neighbour wins, up or down, however
        # the product with the power of ten rounds.
        pytest.param(6.635144112206675e-07, "6.63514411220667e-7", id="tie-rounds-down"),
        pytest.param(0.6362046447471075, "0.636204644747107", id="tie-rounds-down-2"),
        pytest.param(9276418911191.605, "9.27641891119161e+12", id="tie-rounds-up"),
        pytest.param(49190622690.04605, "4.91906226900461e+10", id="tie-rounds-up-2"),
        pytest.param(0.2969171920967835, "0.296917192096784", id="just-above-a-tie"),
        pytest.param(0.07865556726991485, "0.0786555672699149", id="just-above-a-tie-2"),
        pytest.param(53250.29854517125, "53250.2985451713", id="just-above-a-tie-3"),
        pytest.param(-83076186141213.55, "-8.30761861412135e+13", id="just-below-a-tie"),
        # A double exactly on the tie rounds half to even.
        pytest.param(1234567890123.125, "1.23456789012312e+12", id="exact-tie-to-even-down"),
        pytest.param(-1234567890123.375, "-1.23456789012338e+12", id="exact-tie-to-even-up"),
        pytest.param(1234567890123455.0, "1.23456789012346e+15", id="exact-tie-huge"),
        pytest.param(2.0**60, "1.15292150460685e+18", id="integer-above-2**53"),
    ],
)
def test_noisy_doubles_render_as_their_nearest_15_significant_digits(
    value: float, expected: str
) -> None:
    assert render_column(pa.array([value, None, 0.5], pa.float64())).to_pylist() == [
        expected,
        None,
        "0.5",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(-5e-324, "-5e-324", id="subnormal-shortest"),
        pytest.param(-0.0, "-0", id="negative-zero"),
        pytest.param(1e-7, "1e-7", id="power-of-ten"),
        pytest.param(-0.0000012345678, "-0.0000012345678", id="sixteen-characters"),
    ],
)
def test_doubles_with_a_short_repr_render_as_it(value: float, expected: str) -> None:
    noisy = 0.1 + 0.2
    assert render_column(pa.array([value, noisy])).to_pylist() == [expected, "0.3"]


def test_rendering_extreme_doubles_raises_no_numpy_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rendered = render_column(
            pa.array([1.2345678901234567e300, -1.7976931348623157e308, 0.1 + 0.2, -5e-324])
        )

    assert rendered.to_pylist() == [
        "1.23456789012346e+300",
        "-1.79769313486232e+308",
        "0.3",
        "-5e-324",
    ]
