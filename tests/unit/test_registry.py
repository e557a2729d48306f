"""Source types come from entry points; one that cannot load is reported, not fatal: the
service and every other type keep working."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from connectors import registry
from connectors.registry import UnavailableSourceType, UnknownSourceType, connector_class


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    (tmp_path / "broken_vendor.py").write_text(
        'raise RuntimeError("the vendor SDK needs a licence file")\n', encoding="utf-8"
    )
    (tmp_path / "silent_vendor.py").write_text("raise KeyError\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [
        EntryPoint("broken", "broken_vendor:Connector", registry.ENTRY_POINT_GROUP),
        EntryPoint("silent", "silent_vendor:Connector", registry.ENTRY_POINT_GROUP),
        EntryPoint("missing", "no_such_vendor_sdk:Connector", registry.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: points)
    registry.connector_class.cache_clear()
    registry._entry_points.cache_clear()
    yield
    registry.connector_class.cache_clear()
    registry._entry_points.cache_clear()
    for name in ("broken_vendor", "silent_vendor"):
        sys.modules.pop(name, None)


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize(
    ("type_name", "reason"),
    [
        ("missing", "No module named 'no_such_vendor_sdk'"),
        ("broken", "the vendor SDK needs a licence file"),
        ("silent", "KeyError"),
    ],
)
def test_a_type_that_fails_to_load_is_unavailable_with_the_reason(
    type_name: str, reason: str
) -> None:
    with pytest.raises(UnavailableSourceType) as raised:
        connector_class(type_name)
    assert raised.value.type_name == type_name
    assert str(raised.value) == (
        f"data source type {type_name!r} is not available on this server: {reason}"
    )


@pytest.mark.usefixtures("installed")
def test_an_unregistered_type_is_unknown_and_the_message_lists_the_known_ones() -> None:
    with pytest.raises(UnknownSourceType, match=r"known types: broken, missing, silent$"):
        connector_class("excel")
