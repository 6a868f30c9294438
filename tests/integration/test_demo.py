"""The simulated demo works (`make demo-sim`, `python -m e2e.demo --simulated`): the sample RayService gets to Running.

The real demo (`make demo`, real Ray, root) is covered by e2e/suites/test_demo.py.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_simulated_demo_brings_the_sample_rayservice_to_running_and_stops_cleanly(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = subprocess.run(
        [sys.executable, "-m", "e2e.demo", "--port", str(port), "--kubeconfig", str(tmp_path / "kc"),
         "--exit-when-ready", "--simulated"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
        env={"PATH": str(Path(sys.executable).parent), "TMPDIR": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "rayservice.ray.io/rayservice-sample created" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("rayservice-sample ")]
    assert rows and rows[0][1] == "Running"
    assert "rayservice-sample-serve-svc" in result.stdout
