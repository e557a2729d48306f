"""Where a tenant may make the service connect (`connectors.network_policy`), as rules:

- loopback, link-local (cloud metadata), unspecified, "this network", multicast, reserved and
  site-local addresses are refused whatever the policy, unless the operator lists them;
- private (non-global) addresses are the policy's choice (`allow_private`);
- an IPv6 address that carries an IPv4 address is judged by the address it carries.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from connectors.network_policy import (
    AddressRefused,
    LookupUnavailable,
    NetworkPolicy,
    address_problem,
    embedded_ipv4,
    parse_address,
    resolve_checked,
)

STRICT = NetworkPolicy(allow_private=False)
LENIENT = NetworkPolicy(allow_private=True)
LOOPBACK_LISTED = NetworkPolicy(
    allowed_networks=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")),
    allow_private=False,
)

LOOPBACK = "a loopback address (this machine)"
LINK_LOCAL = "a link-local address (cloud metadata, neighbours)"
UNSPECIFIED = "an unspecified address (this machine)"
MULTICAST = "a multicast address"
RESERVED = "a reserved address"
SITE_LOCAL = "a site-local address"
PRIVATE = "a private (non-public) address"

# --- special addresses: refused with or without allow_private ----------------------------------

SPECIAL = [
    ("127.0.0.1", LOOPBACK),
    ("127.8.9.10", LOOPBACK),
    ("::1", LOOPBACK),
    ("169.254.169.254", LINK_LOCAL),
    ("fe80::1", LINK_LOCAL),
    ("0.0.0.0", UNSPECIFIED),
    ("0.1.2.3", UNSPECIFIED),
    ("::", UNSPECIFIED),
    ("224.0.0.1", MULTICAST),
    ("ff02::1", MULTICAST),
    ("240.0.0.1", RESERVED),
    ("255.255.255.255", RESERVED),
    ("fec0::1", SITE_LOCAL),
]


@pytest.mark.parametrize("policy", [STRICT, LENIENT], ids=["strict", "allow-private"])
@pytest.mark.parametrize(("address", "kind"), SPECIAL, ids=[a for a, _ in SPECIAL])
def test_special_addresses_are_refused_even_when_private_ones_are_allowed(
    address: str, kind: str, policy: NetworkPolicy
) -> None:
    assert address_problem(parse_address(address), policy) == kind


# --- IPv6 forms carrying an IPv4 address are what they carry -----------------------------------

# Teredo obfuscates the client address (bits inverted): ~7f00:0001 = 80ff:fffe.
EMBEDDED = [
    ("::ffff:127.0.0.1", "127.0.0.1", LOOPBACK, "mapped"),
    ("::127.0.0.1", "127.0.0.1", LOOPBACK, "compatible"),
    ("2002:7f00:1::1", "127.0.0.1", LOOPBACK, "6to4"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1", LOOPBACK, "teredo"),
    ("64:ff9b::7f00:1", "127.0.0.1", LOOPBACK, "nat64-well-known"),
    ("64:ff9b:1::7f00:1", "127.0.0.1", LOOPBACK, "nat64-local-use"),
    ("::ffff:169.254.169.254", "169.254.169.254", LINK_LOCAL, "mapped-metadata"),
    ("64:ff9b::a9fe:a9fe", "169.254.169.254", LINK_LOCAL, "nat64-metadata"),
    ("2002:a9fe:a9fe::1", "169.254.169.254", LINK_LOCAL, "6to4-metadata"),
    ("::ffff:0.0.0.0", "0.0.0.0", UNSPECIFIED, "mapped-unspecified"),
]


@pytest.mark.parametrize(
    ("address", "carried", "kind"),
    [pytest.param(*case[:3], id=case[3]) for case in EMBEDDED],
)
def test_an_ipv6_form_carrying_a_special_ipv4_address_is_refused_as_that_address(
    address: str, carried: str, kind: str
) -> None:
    ip = parse_address(address)
    assert embedded_ipv4(ip) == ipaddress.IPv4Address(carried)
    assert address_problem(ip, STRICT) == kind
    assert address_problem(ip, LENIENT) == kind


@pytest.mark.parametrize(
    "address",
    ["::ffff:10.0.0.1", "::10.0.0.1", "2002:a00:1::1", "64:ff9b::a00:1", "64:ff9b:1::a00:1"],
)
def test_an_ipv6_form_carrying_a_private_address_follows_allow_private(address: str) -> None:
    ip = parse_address(address)
    assert address_problem(ip, STRICT) == PRIVATE
    assert address_problem(ip, LENIENT) is None


@pytest.mark.parametrize("address", ["::1", "::", "2606:4700:4700::1111", "fe80::1"])
def test_plain_ipv6_addresses_carry_no_ipv4_address(address: str) -> None:
    assert embedded_ipv4(parse_address(address)) is None


# --- public and private addresses ----------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_are_allowed_by_every_policy(address: str) -> None:
    assert address_problem(parse_address(address), STRICT) is None
    assert address_problem(parse_address(address), LENIENT) is None


@pytest.mark.parametrize(
    "address",
    ["10.0.0.8", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fc00::1", "fd12:3456::1"],
)
def test_private_addresses_are_allowed_only_with_allow_private(address: str) -> None:
    assert address_problem(parse_address(address), STRICT) == PRIVATE
    assert address_problem(parse_address(address), LENIENT) is None


def test_an_ipv6_zone_is_ignored_when_parsing() -> None:
    assert address_problem(parse_address("fe80::1%eth0"), LENIENT) == LINK_LOCAL


# --- networks the operator lists ---------------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"])
def test_listed_networks_admit_loopback_and_its_mapped_form(address: str) -> None:
    assert address_problem(parse_address(address), LOOPBACK_LISTED) is None


@pytest.mark.parametrize(
    ("address", "kind"), [("169.254.169.254", LINK_LOCAL), ("10.0.0.1", PRIVATE)]
)
def test_listed_networks_admit_nothing_else(address: str, kind: str) -> None:
    assert address_problem(parse_address(address), LOOPBACK_LISTED) == kind


# --- resolving: every address checked, the checked one returned ---------------------------------

HINT = "an operator can allow it with SOME_SETTING"


def test_localhost_is_refused_naming_the_host_the_kind_and_the_operator_hint() -> None:
    policy = NetworkPolicy(allow_private=True, operator_hint=HINT)
    with pytest.raises(AddressRefused) as refused:
        resolve_checked("localhost", 443, policy)
    message = str(refused.value)
    assert "'localhost' resolves to" in message
    assert LOOPBACK in message
    assert message.endswith(f"; {HINT}")


def test_an_address_literal_is_refused_naming_itself() -> None:
    with pytest.raises(AddressRefused, match=r"^169\.254\.169\.254 is a link-local address"):
        resolve_checked("169.254.169.254", 80, LENIENT)


def test_a_listed_network_lets_localhost_resolve_to_the_checked_address() -> None:
    assert resolve_checked("localhost", 443, LOOPBACK_LISTED) in {"127.0.0.1", "::1"}


def test_a_host_that_does_not_resolve_is_refused_by_name() -> None:
    with pytest.raises(
        AddressRefused, match=r"^the host 'nothing-here\.invalid' does not resolve$"
    ):
        resolve_checked("nothing-here.invalid", 443, LENIENT)


# --- edge cases -------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["64:ff9b:1:7f00:0:1:808:808", "64:ff9b:1:a9fe:a9:fe00::"])
def test_local_use_nat64_with_the_ipv4_address_in_the_middle_is_refused(address: str) -> None:
    """RFC 6052's /48../56 layouts put the IPv4 address before the last 32 bits, where its
    meaning depends on the gateway: only the /96 layout is judged by what it carries."""
    problem = address_problem(parse_address(address), LENIENT)
    assert problem is not None and problem.startswith("a reserved address")


def test_a_dns_server_that_does_not_answer_is_a_temporary_failure_not_a_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_answer(*_args: object, **_kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_answer)
    with pytest.raises(LookupUnavailable, match="could not be looked up just now"):
        resolve_checked("db.example.com", 5432, NetworkPolicy())


@pytest.mark.parametrize(
    "printed",
    ["fe80::1%eth0", "fe80::1%2", "fe80::1%a%b"],  # a Linux interface name may hold a %
)
def test_parsing_drops_the_zone_from_the_first_percent_sign(printed: str) -> None:
    assert parse_address(printed) == ipaddress.IPv6Address("fe80::1")


@pytest.mark.parametrize(("address", "carried"), [("::2", "0.0.0.2"), ("::ff", "0.0.0.255")])
def test_ipv4_compatible_addresses_start_right_after_the_ipv6_loopback(
    address: str, carried: str
) -> None:
    assert embedded_ipv4(parse_address(address)) == ipaddress.IPv4Address(carried)
    assert address_problem(parse_address(address), LENIENT) == UNSPECIFIED


def test_an_address_just_above_the_ipv4_compatible_range_carries_none() -> None:
    ip = parse_address("::1:7f00:1")

    assert embedded_ipv4(ip) is None
    assert address_problem(ip, LENIENT) == RESERVED  # ::/8 itself


@pytest.mark.parametrize("address", ["64:ff9b:1::1:808:808", "64:ff9b:1:8000::808:808"])
def test_local_use_nat64_with_any_bit_set_in_the_middle_is_refused_whatever_it_carries(
    address: str,
) -> None:
    # The last 32 bits alone would read as 8.8.8.8, a public address.
    assert address_problem(parse_address(address), LENIENT) == (
        "a reserved address (NAT64 with the IPv4 address inside)"
    )


def test_a_refusal_without_an_operator_hint_ends_with_the_refusal() -> None:
    with pytest.raises(AddressRefused) as refused:
        resolve_checked("169.254.169.254", 80, LENIENT)

    assert str(refused.value) == (
        "169.254.169.254 is a link-local address (cloud metadata, neighbours) and may not be reached"
    )


def test_a_host_name_that_cannot_be_encoded_is_refused_as_not_resolving() -> None:
    host = "a" * 64 + ".example.com"  # a DNS label holds at most 63 characters

    with pytest.raises(AddressRefused) as refused:
        resolve_checked(host, 443, LENIENT)

    assert str(refused.value) == f"the host {host!r} does not resolve"
