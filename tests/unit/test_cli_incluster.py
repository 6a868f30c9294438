"""Which configuration `rayservice run` loads: in-cluster inside a pod, else the kubeconfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from rayservice.cli import CliError, _Settings, _settings, build_parser


def settings_for(*argv: str) -> _Settings:
    return _settings(build_parser().parse_args(["run", *argv]))


def test_inside_a_pod_without_kubeconfig_the_in_cluster_configuration_is_used(monkeypatch: pytest.MonkeyPatch,
                                                                               tmp_path: Path) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "not-read"))
    assert settings_for().kubeconfig is None


def test_a_kubeconfig_flag_wins_over_the_in_cluster_configuration(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\n")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    assert settings_for("--kubeconfig", str(config)).kubeconfig == str(config)


def test_outside_a_pod_the_kubeconfig_variable_is_read_and_a_missing_file_is_a_clear_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\n")
    monkeypatch.setenv("KUBECONFIG", str(config))
    assert settings_for().kubeconfig == str(config)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(CliError, match=f"kubeconfig {tmp_path / 'missing'} does not exist"):
        settings_for()
