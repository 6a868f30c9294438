"""The placeholder ConfigMap stamping reconciler: one conditional write when needed, none when converged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rayservice.api import ObjectKey
from rayservice.kube import PatchType, Resource
from rayservice.runtime import DONE
from tests.placeholder import STAMP_ANNOTATION, StampDeps, reconcile_stamp, stamp_of

KEY = ObjectKey("default", "settings")


class RecordingPatcher:
    def __init__(self) -> None:
        self.patches: list[tuple[str, str, str | None, Any]] = []

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
    ) -> dict[str, Any]:
        self.patches.append((str(resource), name, namespace, patch))
        return {}


def configmap(data: Mapping[str, str], annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    metadata = {"name": "settings", "namespace": "default", "resourceVersion": "41", "annotations": annotations}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": dict(data)}


async def test_an_unstamped_configmap_gets_one_merge_patch_conditional_on_its_resource_version() -> None:
    patcher = RecordingPatcher()
    cm = configmap({"a": "1"})
    assert await reconcile_stamp(KEY, StampDeps(lookup=lambda key: cm, client=patcher)) == DONE
    ((resource, name, namespace, patch),) = patcher.patches
    assert (resource, name, namespace) == ("configmaps", "settings", "default")
    assert patch == {"metadata": {"resourceVersion": "41", "annotations": {STAMP_ANNOTATION: stamp_of(cm)}}}


async def test_a_converged_configmap_makes_no_write() -> None:
    patcher = RecordingPatcher()
    cm = configmap({"a": "1"})
    cm["metadata"]["annotations"] = {STAMP_ANNOTATION: stamp_of(cm)}
    assert await reconcile_stamp(KEY, StampDeps(lookup=lambda key: cm, client=patcher)) == DONE
    assert patcher.patches == []


async def test_a_configmap_gone_from_the_cache_needs_nothing() -> None:
    patcher = RecordingPatcher()
    assert await reconcile_stamp(KEY, StampDeps(lookup=lambda key: None, client=patcher)) == DONE
    assert patcher.patches == []


def test_the_stamp_depends_on_the_data_only_and_not_on_key_order() -> None:
    assert stamp_of(configmap({"a": "1", "b": "2"})) == stamp_of(configmap({"b": "2", "a": "1"}, {"x": "y"}))
    assert stamp_of(configmap({"a": "1"})) != stamp_of(configmap({"a": "2"}))
    assert stamp_of(configmap({"a": "1"})).startswith("sha256:")
