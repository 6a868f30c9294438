"""kubectl cp against the local cluster: tar over exec, into and out of a pod's private /tmp."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.kubectl import Kubectl

from .conftest import Cluster, requires_root

pytestmark = [pytest.mark.node, pytest.mark.kubectl, requires_root]


async def test_kubectl_cp_copies_a_file_and_a_folder_into_a_pod_and_back(cluster: Cluster, tmp_path: Path) -> None:
    cluster.create("pods", {"metadata": {"name": "box"}, "spec": {"containers": [{
        "name": "main", "image": "busybox", "command": ["sh", "-c", "exec sleep 3600"]}]}})
    await cluster.until(lambda: ((cluster.get("pods", "box") or {}).get("status") or {}).get("phase") == "Running",
                        what="box Running")
    kubectl = Kubectl(str(Path(sys.executable).parent / "kubectl"), cluster.kubeconfig)
    (tmp_path / "note.txt").write_text("prices: mango 3\n")
    (tmp_path / "folder" / "deeper").mkdir(parents=True)
    (tmp_path / "folder" / "deeper" / "data.bin").write_bytes(bytes(range(256)) * 64)
    await kubectl.run("cp", str(tmp_path / "note.txt"), "default/box:/tmp/note.txt")
    await kubectl.run("cp", str(tmp_path / "folder"), "box:/tmp/folder")
    _, out, _ = await kubectl.run("exec", "box", "--", "sh", "-c", "cat /tmp/note.txt; ls /tmp/folder/deeper")
    assert out == "prices: mango 3\ndata.bin\n"
    await kubectl.run("cp", "default/box:/tmp/note.txt", str(tmp_path / "back.txt"))
    await kubectl.run("cp", "box:/tmp/folder", str(tmp_path / "folder-back"))
    assert (tmp_path / "back.txt").read_text() == "prices: mango 3\n"
    assert (tmp_path / "folder-back" / "deeper" / "data.bin").read_bytes() == bytes(range(256)) * 64
