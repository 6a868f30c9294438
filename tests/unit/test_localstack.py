"""The e2e stack's own decisions (e2e/localstack.py), without a cluster: what counts as a started local cluster
and a rolled-out operator Deployment."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from e2e.localstack import READY_LINE, LocalStack, StackConfig, is_deployment_available, is_pod_ready


def test_a_second_start_waits_for_its_own_ready_line_not_the_one_an_earlier_run_appended(tmp_path: Path) -> None:
    (tmp_path / "localcluster.log").write_text(f"localcluster: node (earlier run); {READY_LINE} and cleans up\n")
    stack = LocalStack(StackConfig(workdir=tmp_path))
    stack._spawn("localcluster", [sys.executable, "-c", "print('localcluster: starting', flush=True)"])
    stack._procs["localcluster"].wait(30)
    assert READY_LINE in stack.log("localcluster")  # the whole log still has the earlier run
    assert stack.new_log("localcluster") == "localcluster: starting\n"


def test_an_unknown_operator_mode_is_refused_naming_the_modes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="operator must be one of cluster, host, not 'pod'"):
        StackConfig(workdir=tmp_path, operator="pod")  # type: ignore[arg-type]


def deployment(*, generation: int = 2, observed: int = 2, replicas: int = 1, updated: int = 1, available: int = 1,
               condition: str = "True") -> dict[str, Any]:
    return {"metadata": {"name": "ray-operator", "generation": generation}, "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "availableReplicas": available,
                       "conditions": [{"type": "Available", "status": condition}]}}


def test_a_deployment_counts_as_rolled_out_only_when_observed_updated_and_available() -> None:
    assert is_deployment_available(deployment())
    assert not is_deployment_available(None)
    assert not is_deployment_available(deployment(observed=1))  # the controller has not seen the new spec yet
    assert not is_deployment_available(deployment(replicas=2, updated=2, available=1))
    assert not is_deployment_available(deployment(replicas=2, updated=1, available=2))  # an old pod still counts
    assert not is_deployment_available(deployment(condition="False"))


def test_a_pod_is_ready_when_running_with_the_ready_condition_and_not_being_deleted() -> None:
    pod: dict[str, Any] = {"metadata": {}, "status": {"phase": "Running",
                                                      "conditions": [{"type": "Ready", "status": "True"}]}}
    assert is_pod_ready(pod)
    assert not is_pod_ready({**pod, "metadata": {"deletionTimestamp": "2026-12-07T01:00:00Z"}})
    assert not is_pod_ready({**pod, "status": {**pod["status"], "phase": "Pending"}})
    assert not is_pod_ready({**pod, "status": {"phase": "Running", "conditions": [{"type": "Ready",
                                                                                  "status": "False"}]}})
