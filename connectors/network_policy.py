"""Which network addresses the service may be made to reach by what a user typed.

One module for every address a tenant makes the service connect to: webhook URLs and
database hosts. The rules:

- A host is resolved once, every address it resolves to is checked, and the connection
  goes to the address that was checked (`resolve_checked`), so DNS cannot answer one way to
  the check and another way to the connection (DNS rebinding).
- Always refused unless the operator lists the network: loopback, link-local (the cloud
  metadata service 169.254.169.254 included), unspecified, "this network" (0.0.0.0/8),
  multicast and reserved addresses. Private ranges are a caller's choice: a company's
  internal database is what a SQL source is for; a webhook is not.
- IPv6 forms that carry an IPv4 address are judged by the address they carry: IPv4-mapped
  (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), 6to4 (2002::/16), Teredo (2001::/32) and
  NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48). `[::ffff:127.0.0.1]`,
  `[64:ff9b::a9fe:a9fe]` (169.254.169.254) and friends are what they carry.
- Endpoint overrides (Sheets/Graph/token roots) name hosts, not addresses: which names they
  may use is `connectors.toolkit.endpoint_overrides`.

Refusals name the host and the kind of address, never whether anything listens there: the
check happens before any connection, so a refused host cannot be used to probe ports.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class AddressRefused(ValueError):
    """Why a destination may not be reached, phrased for the user."""


class NameNotFound(AddressRefused):
    """The host name does not resolve: a typo or a name this network's DNS does not know,
    rather than a destination the policy refuses."""


class LookupUnavailable(Exception):
    """DNS gave no answer this time (EAI_AGAIN): worth trying again later, not a refusal."""


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """`allowed_networks`: what the operator allows although it is special (loopback…).
    `allow_private`: whether private and other non-global ranges may be reached.
    `operator_hint`: the sentence telling how an operator would allow a refused address."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    allow_private: bool = True
    operator_hint: str = ""


def parse_address(text: str) -> IPAddress:
    """An address as getaddrinfo prints it, without an IPv6 zone (`fe80::1%eth0`)."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, if it is one of the forms that do."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in network for network in _NAT64_NETWORKS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    # IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks); :: and ::1 are
    # the IPv6 unspecified and loopback addresses themselves.
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip))
    return None


def _special_kind(ip: IPAddress) -> str | None:
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address (cloud metadata, neighbours)"
    if ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in _THIS_NETWORK):
        return "an unspecified address (this machine)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    return None


def address_problem(ip: IPAddress, policy: NetworkPolicy) -> str | None:
    """What kind of address `ip` is when `policy` refuses it, or None when it may be
    reached. An IPv6 form that carries an IPv4 address is judged by that address."""
    # The local-use NAT64 prefix may also carry the IPv4 address in the middle (RFC 6052's
    # /48../64 layouts), where it cannot be read without the gateway's configuration: only
    # the /96 layout (the address in the last 32 bits) is accepted.
    if ip in _NAT64_NETWORKS[1] and (int(ip) >> 32) & ((1 << 48) - 1):
        return "a reserved address (NAT64 with the IPv4 address inside)"
    # A translation form's own range says nothing about where it leads: the carried
    # address is the destination.
    address = embedded_ipv4(ip) or ip
    if any(address in network for network in policy.allowed_networks):
        return None
    kind = _special_kind(address)
    if kind:
        return kind
    if not policy.allow_private and not address.is_global:
        return "a private (non-public) address"
    return None


def resolve_checked(host: str, port: int, policy: NetworkPolicy) -> str:
    """Resolves `host` and returns the address to connect to, after checking every address
    it resolves to against `policy`. Raises AddressRefused, or LookupUnavailable when DNS
    did not answer. Blocking: call from a thread."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as failure:
        if failure.errno == socket.EAI_AGAIN:
            raise LookupUnavailable(
                f"the host {host!r} could not be looked up just now (DNS did not answer)"
            ) from None
        raise NameNotFound(f"the host {host!r} does not resolve") from None
    except UnicodeError:
        raise NameNotFound(f"the host {host!r} does not resolve") from None
    # In the resolver's order of preference (RFC 6724), without repeats.
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        problem = address_problem(parse_address(address), policy)
        if problem:
            shown = host if host == address else f"{host!r} resolves to {address}, which"
            raise AddressRefused(
                f"{shown} is {problem} and may not be reached"
                + (f"; {policy.operator_hint}" if policy.operator_hint else "")
            )
    return addresses[0]
