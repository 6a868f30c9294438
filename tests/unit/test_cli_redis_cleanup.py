"""`ENABLE_GCS_FT_REDIS_CLEANUP` on the operator, read as KubeRay reads it: only `false` (any case) turns the
Redis cleanup of GCS fault tolerant RayClusters off."""

from __future__ import annotations

import pytest

from rayservice.cli import _settings, build_parser


def redis_cleanup(monkeypatch: pytest.MonkeyPatch, value: str | None) -> bool:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")  # in-cluster: no kubeconfig needed
    if value is None:
        monkeypatch.delenv("ENABLE_GCS_FT_REDIS_CLEANUP", raising=False)
    else:
        monkeypatch.setenv("ENABLE_GCS_FT_REDIS_CLEANUP", value)
    return _settings(build_parser().parse_args(["run"])).redis_cleanup


@pytest.mark.parametrize("value", [None, "", "true", "True", "no", "0"])
def test_the_cleanup_is_on_unless_the_variable_says_false(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    assert redis_cleanup(monkeypatch, value) is True


@pytest.mark.parametrize("value", ["false", "FALSE", "False"])
def test_false_in_any_case_turns_it_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    assert redis_cleanup(monkeypatch, value) is False
