"""The Event recorder against the embedded API server: `kubectl describe` material, never a flood."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from e2e.localcluster.apiserver import LocalApiServer
from rayservice.controller.events import EventRecorder
from rayservice.kube import CONFIG_MAPS, EVENTS, KubeClient
from rayservice.testing import FakeClock


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[KubeClient]:
    client = await KubeClient.from_kubeconfig(str(kubeconfig))
    try:
        yield client
    finally:
        await client.close()


async def test_repeated_event_bumps_count_instead_of_creating_another(kube: KubeClient,
                                                                      apiserver: LocalApiServer) -> None:
    obj = await kube.create(CONFIG_MAPS, {"metadata": {"name": "subject"}}, namespace="default")
    clock = FakeClock()
    recorder = EventRecorder(kube, clock=clock)
    for _ in range(3):
        await recorder.emit(obj, "Warning", "FailedToSubmitServeConfig", "dashboard unreachable")
    await recorder.emit(obj, "Normal", "CreatedCluster", "created rayservice-sample-raycluster-abcde")
    events = (await kube.list(EVENTS, namespace="default", field_selector="involvedObject.name=subject")).items
    by_reason = {e["reason"]: e for e in events}
    assert len(events) == 2
    assert by_reason["FailedToSubmitServeConfig"]["count"] == 3
    assert by_reason["FailedToSubmitServeConfig"]["involvedObject"]["uid"] == obj["metadata"]["uid"]
    assert by_reason["CreatedCluster"]["type"] == "Normal"


async def test_after_the_window_a_new_event_is_created(kube: KubeClient, apiserver: LocalApiServer) -> None:
    obj = await kube.create(CONFIG_MAPS, {"metadata": {"name": "subject"}}, namespace="default")
    clock = FakeClock()
    recorder = EventRecorder(kube, clock=clock, dedupe_window_s=60)
    await recorder.emit(obj, "Warning", "Failed", "x")
    clock.step(61)
    await recorder.emit(obj, "Warning", "Failed", "x")
    events = (await kube.list(EVENTS, namespace="default", field_selector="involvedObject.name=subject")).items
    assert len(events) == 2


async def test_an_event_that_cannot_be_written_never_fails_the_caller(kube: KubeClient,
                                                                      apiserver: LocalApiServer) -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "missing", "uid": "u"}}
    await EventRecorder(kube).emit(obj, "Normal", "Something", "namespace does not exist")
    assert [r.code for r in apiserver.faults.log if r.resource == "events"] == [404]
