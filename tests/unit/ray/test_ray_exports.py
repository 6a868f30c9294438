"""The ``rayservice.ray`` surface: ``__all__`` complete and sorted, dashboard URLs, error messages."""

from __future__ import annotations

import inspect

import pytest

import rayservice.ray
from rayservice.ray import DashboardRejected, dashboard_url


def _ruff_order(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_the_way_ruff_sorts_it_and_complete() -> None:
    exported = list(rayservice.ray.__all__)
    assert exported == sorted(exported, key=_ruff_order)
    own = {
        name
        for name, value in vars(rayservice.ray).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith("rayservice.ray")
    }
    assert own <= set(exported)


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("10.244.0.10", 8265, "http://10.244.0.10:8265"),
        ("fd00::10", 8265, "http://[fd00::10]:8265"),
        ("svc-head-svc.ns.svc.cluster.local", 9000, "http://svc-head-svc.ns.svc.cluster.local:9000"),
    ],
)
def test_dashboard_url_defaults_to_port_8265_and_brackets_ipv6(host: str, port: int, url: str) -> None:
    assert dashboard_url(host, port) == url
    assert dashboard_url(host) == url.rsplit(":", 1)[0] + ":8265"


def test_rejection_keeps_the_whole_body_and_shows_only_its_start() -> None:
    error = DashboardRejected(400, "x" * 2_000, what="PUT /api/serve/applications/")
    assert error.body == "x" * 2_000
    assert str(error).startswith("PUT /api/serve/applications/: HTTP 400: xxx")
    assert len(str(error)) < 600
