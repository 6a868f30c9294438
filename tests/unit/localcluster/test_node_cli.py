"""`python -m e2e.localcluster up|node` without root: one line that says so and how to run it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from e2e.localcluster.__main__ import main


@pytest.mark.parametrize("command", ["up", "node"])
def test_without_root_the_command_says_so_and_how_to_run_it(command: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main([command, "--kubeconfig", str(tmp_path / "kubeconfig")]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert f"localcluster: {command} needs root" in line
    assert "sudo " in line and f"-m e2e.localcluster {command} --kubeconfig {tmp_path / 'kubeconfig'}" in line
    assert not (tmp_path / "kubeconfig").exists()  # nothing was started
