"""Which hosts an allowlist admits (`connectors.toolkit.allowed_hosts`), as rules:

- exact names, and `*.name` for every name below `name` (not `name` itself);
- case, spaces around an entry and a trailing dot do not matter;
- names compare in the ASCII form sent to DNS (IDNA, UTS 46);
- an IP address only matches the same address, never a wildcard;
- what is no host matches nothing.
"""

from __future__ import annotations

import pytest

from connectors.toolkit.allowed_hosts import canonical_host, host_is_listed

ENTRIES = ["*.example.com", "exact.test"]
FULL_WIDTH_EXACT = "\uff45\uff58\uff41\uff43\uff54"  # "exact" in full-width letters
CYRILLIC_EXAMPLE = "\u0435\u0445ample"  # "example" with Cyrillic ie and ha


@pytest.mark.parametrize(
    ("host", "listed"),
    [
        ("a.example.com", True),
        ("deep.a.example.com", True),
        ("A.Example.COM.", True),
        ("example.com", False),
        ("badexample.com", False),
        ("a.example.com.evil.test", False),
        ("exact.test", True),
        ("EXACT.test.", True),
        ("sub.exact.test", False),
        ("exact.test.evil.test", False),
        ("xexact.test", False),
    ],
)
def test_star_dot_example_com_admits_subdomains_but_not_example_com_or_badexample_com(
    host: str, listed: bool
) -> None:
    assert host_is_listed(host, ENTRIES) is listed


@pytest.mark.parametrize(
    "entry", ["exact.test.", " Exact.Test. ", "*.example.com.", "*.EXAMPLE.com", " *.example.com"]
)
def test_entries_match_whatever_their_case_spaces_or_trailing_dot(entry: str) -> None:
    host = "exact.test" if "exact" in entry.lower() else "a.example.com"
    assert host_is_listed(host, [entry])


def test_only_a_trailing_dot_is_dropped_from_a_name() -> None:
    assert host_is_listed("SAND.BOX.", ["sand.box"])
    assert not host_is_listed("sand.bo", ["sand.box"])


@pytest.mark.parametrize(
    ("host", "entry"),
    [
        ("bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "bücher.example"),
        ("BÜCHER.example", "bücher.example"),
        ("shop.bücher.example", "*.xn--bcher-kva.example"),
        ("shop.xn--bcher-kva.example", "*.bücher.example"),
        (FULL_WIDTH_EXACT + ".test", "exact.test"),  # mapped to the name DNS is asked
    ],
)
def test_internationalised_names_match_their_idna_form(host: str, entry: str) -> None:
    assert host_is_listed(host, [entry])


def test_a_look_alike_in_another_script_is_another_host() -> None:
    assert not host_is_listed(CYRILLIC_EXAMPLE + ".com", ["example.com"])
    assert not host_is_listed("a." + CYRILLIC_EXAMPLE + ".com", ["*.example.com"])


@pytest.mark.parametrize(
    ("host", "entries", "listed"),
    [
        ("127.0.0.1", ["127.0.0.1"], True),
        ("::1", ["[::1]"], True),
        ("[::1]", ["::1"], True),
        ("0:0:0:0:0:0:0:1", ["::1"], True),
        ("10.1.2.3", ["*.1.2.3"], False),
        ("127.0.0.2", ["127.0.0.1"], False),
        ("127.0.0.1", ["*.0.0.1"], False),
        ("evil.127.0.0.1", ["*.127.0.0.1"], False),  # a name, not below an address
        ("[::1", ["::1", "::"], False),  # an unbalanced bracket is no address
    ],
)
def test_an_ip_address_matches_only_the_same_address(
    host: str, entries: list[str], listed: bool
) -> None:
    assert host_is_listed(host, entries) is listed


@pytest.mark.parametrize(
    ("host", "entries"),
    [
        ("", ["", "*."]),
        (".", ["."]),
        ("a..example.com", ["a..example.com", "*.example.com"]),
        ("a.example.com", ["*", "*.", "**.example.com", "*.*.com"]),
        ("a" * 64 + ".bücher.example", ["*.bücher.example"]),  # a label too long for IDNA
        ("example.com", []),
    ],
)
def test_what_is_no_host_or_no_entry_matches_nothing(host: str, entries: list[str]) -> None:
    assert not host_is_listed(host, entries)


def test_names_that_idna_refuses_but_dns_serves_stay_as_they_are() -> None:
    assert canonical_host("My_Host.corp") == "my_host.corp"
    assert host_is_listed("my_host.corp", ["MY_HOST.corp"])
