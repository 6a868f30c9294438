"""`make demo`'s program with real Ray (`python -m e2e.demo --exit-when-ready`): the operator's Deployment `1/1`
with its pod Running, the sample answers 6, then it stops.

The demo runs its own local cluster, here with a prefix and CIDRs of its own (`lcd`, pods 10.232.0.0/16,
Services 10.100.0.0/16), so it shares nothing with the suites' stack; it must leave nothing behind.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e.localcluster.node.lifeline import die_with_parent
from e2e.localstack import ROOT, free_port
from e2e.suites.conftest import leftovers

PREFIX = "lcd"


@pytest.mark.timeout(420)
def test_real_demo_prints_the_answer_6_and_stops_cleanly(tmp_path: Path) -> None:
    t0 = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "e2e.demo", "--exit-when-ready", "--port", str(free_port()), "--kubeconfig",
         str(tmp_path / "kubeconfig"), "--prefix", PREFIX, "--pod-cidr", "10.232.0.0/16", "--service-cidr",
         "10.100.0.0/16"],
        cwd=ROOT, capture_output=True, text=True, timeout=400, check=False,
        preexec_fn=die_with_parent(signal.SIGTERM),  # a killed test run stops the demo, which stops the rest
        env={"PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR": str(tmp_path),
             "HOME": str(tmp_path)},
    )
    took = time.monotonic() - t0
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    lines = out.splitlines()
    deployments = lines.index("$ kubectl get deployments -n ray-system")
    assert lines[deployments + 2].split()[:4] == ["ray-operator", "1/1", "1", "1"], lines[deployments:deployments + 3]
    pods = lines.index("$ kubectl get pods -n ray-system")
    assert lines[pods + 2].split()[1:3] == ["1/1", "Running"], lines[pods:pods + 3]
    asked = next(i for i, line in enumerate(lines) if line.startswith("$ curl") and '["MANGO", 2]' in line)
    assert lines[asked + 1] == "6", lines[asked:asked + 3]
    for shown in ("rayservice.ray.io/rayservice-sample", "raycluster.ray.io/rayservice-sample-raycluster-",
                  "rayservice-sample-serve-svc", "-head-", "-worker-small-group-"):
        assert shown in out, shown
    rows = [line.split() for line in lines if line.startswith("rayservice.ray.io/rayservice-sample ")]
    assert ["rayservice.ray.io/rayservice-sample", "created"] in rows
    assert any(row[1] == "Running" for row in rows), rows
    assert f"KUBECONFIG={tmp_path / 'kubeconfig'}" in out and ":8000" in out
    assert not leftovers(PREFIX), leftovers(PREFIX)
    print(f"\nreal demo: answered 6 and stopped cleanly in {took:.0f} s")
