"""Which URLs may replace a vendor's endpoint (`connectors.toolkit.endpoint_overrides`):
an absolute https URL on one of the vendor's hosts for that endpoint, or on a host the
operator listed (over http too); never with credentials, a query or a fragment."""

from __future__ import annotations

import pytest

from connectors.base import Problem
from connectors.toolkit.endpoint_overrides import Endpoint, endpoint_problem, override_problems

VENDOR = frozenset({"api.vendor.test"})
OPERATOR = frozenset({"proxy.corp.test", "*.internal.test"})


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://api.vendor.test/v1", None),
        ("https://API.vendor.test./v1", None),
        ("https://proxy.corp.test/v1", None),
        ("http://proxy.corp.test:8080/v1", None),
        ("http://a.internal.test/v1", None),
        ("https://xn--bcher-kva.internal.test/v1", None),
        ("https://bücher.internal.test/v1", None),
        ("http://api.vendor.test/v1", "must use https"),
        ("http://internal.test/v1", "host 'internal.test' is not allowed"),
        ("https://api.other-vendor.test/v1", "host 'api.other-vendor.test' is not allowed"),
        ("https://169.254.169.254/latest", "host '169.254.169.254' is not allowed"),
        ("https://api.vendor.test.evil.test/", "is not allowed"),
        ("https://user:pw@api.vendor.test/v1", "must not contain credentials"),
        ("https://@api.vendor.test/v1", "must not contain credentials"),
        ("https://api.vendor.test/v1?x=1", "must not contain credentials, a query"),
        ("https://api.vendor.test/v1#top", "must not contain credentials, a query or a fragment"),
        ("https://api.vendor.test:port/v1", "must be an absolute https URL"),
        ("https://api.vendor.test:70000/v1", "must be an absolute https URL"),
        ("ftp://api.vendor.test/v1", "must be an absolute https URL"),
        ("api.vendor.test/v1", "must be an absolute https URL"),
        ("", "must be an https URL"),
        ("   ", "must be an https URL"),
        (42, "must be an https URL"),
    ],
)
def test_an_override_names_a_vendor_host_over_https_or_an_operator_host(
    url: object, problem: str | None
) -> None:
    found = endpoint_problem(url, VENDOR, OPERATOR, "https://api.vendor.test/v1")
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://user@api.vendor.test/v1", "must not contain credentials, a query or a fragment"),
        ("https://:pw@api.vendor.test/v1", "must not contain credentials, a query or a fragment"),
        ("http://api.vendor.test/v1", "must use https"),
        ("ftp://api.vendor.test/v1", "must be an absolute https URL such as https://x/v1"),
        ("", "must be an https URL such as https://x/v1"),
        (
            "https://elsewhere.test/v1",
            "host 'elsewhere.test' is not allowed; the operator must add it to "
            "ENDPOINT_ALLOWLIST (the vendor's own hosts are always allowed: "
            "api.vendor.test, login.vendor.test)",
        ),
    ],
)
def test_refusals_read_in_full(url: str, problem: str) -> None:
    vendor = frozenset({"login.vendor.test", "api.vendor.test"})
    assert endpoint_problem(url, vendor, frozenset(), "https://x/v1") == problem


def test_each_override_is_checked_against_its_own_vendor_hosts_and_named_by_its_field() -> None:
    api = Endpoint("settings.apiUrl", frozenset({"api.vendor.test"}), "https://api.vendor.test")
    login = Endpoint("settings.loginUrl", frozenset({"login.vendor.test"}), "https://login.x")
    overrides = [
        (login, None),  # not overridden
        (api, "https://login.vendor.test"),  # the other endpoint's host
        (login, "https://login.vendor.test/token"),
        (login, "login.vendor.test/token"),
    ]
    assert override_problems(overrides, frozenset()) == [
        Problem(
            "settings.apiUrl",
            "host 'login.vendor.test' is not allowed; the operator must add it to "
            "ENDPOINT_ALLOWLIST (the vendor's own hosts are always allowed: api.vendor.test)",
        ),
        Problem("settings.loginUrl", "must be an absolute https URL such as https://login.x"),
    ]
