"""kubectl 1.37 as people type it against the local cluster (simulated node, the project's CRDs installed).

One test per form: `get events --sort-by`, `get -w`, `-o wide`, `-o custom-columns`, `-o jsonpath`, `-o yaml`
back through `apply`, `-l` and `--field-selector`, `describe` of every kind served, `explain`, `edit` with
`EDITOR`, `patch --type=json|merge|strategic`, `scale`, `rollout status`, `delete --wait`, the `create`
generators that send protobuf (deployment, job, service); and what is not served answers with kube's own error.
(`kubectl cp` needs exec into a pod: tests/localcluster_node.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.localcluster.apiserver import LocalApiServer
from tests.kubectl import Kubectl

pytestmark = pytest.mark.kubectl
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "manifests" / "samples" / "ray.io_v1_rayservice.yaml"
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}}


@pytest.fixture
async def cluster() -> AsyncIterator[LocalApiServer]:
    server = LocalApiServer(port=0, simulate_node=True, bookmark_interval_s=0.5)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def kubectl(kubectl_bin: str, cluster: LocalApiServer, tmp_path: Path) -> Kubectl:
    k = Kubectl(kubectl_bin, cluster.write_kubeconfig(tmp_path / "kubeconfig"), cache_dir=tmp_path / "cache")
    await k.run("apply", "-f", str(ROOT / "manifests" / "crd"))
    return k


async def until(server: LocalApiServer, condition: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    """Re-check after every write the API server makes, until `condition()` is truthy."""
    sub = server.store.subscribe(None)
    try:
        async with asyncio.timeout(timeout_s):
            while not (result := condition()):
                await sub.queue.get()
            return result
    finally:
        server.store.unsubscribe(sub)


def running_web_pods(server: LocalApiServer) -> list[dict[str, Any]]:
    return [p for p in server.store.list(("", "pods"), "default")
            if (p["metadata"].get("labels") or {}).get("app") == "web" and not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") == "Running"]


async def web(kubectl: Kubectl, cluster: LocalApiServer, replicas: int = 2) -> None:
    await kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump(DEPLOYMENT))
    await until(cluster, lambda: len(running_web_pods(cluster)) == replicas)


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


def event(name: str, reason: str, last: datetime, kind: str = "Deployment", type_: str = "Normal") -> dict[str, Any]:
    stamp = last.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {"kind": kind, "name": "web", "namespace": "default", "apiVersion": "apps/v1"},
            "reason": reason, "message": f"{reason} happened", "type": type_, "count": 1,
            "firstTimestamp": stamp, "lastTimestamp": stamp, "source": {"component": "test"}}


async def test_get_events_sorted_by_last_timestamp_prints_kubes_event_columns_oldest_first(
        kubectl: Kubectl, cluster: LocalApiServer) -> None:
    now = datetime.now(UTC)
    # created newest first, so the order printed is the sort's, not the store's
    for name, reason, ago in (("a-new", "Third", 0), ("b-mid", "Second", 60), ("c-old", "First", 600)):
        await kubectl.run("create", "-f", "-", stdin=yaml.safe_dump(
            event(name, reason, now - timedelta(seconds=ago), type_="Warning" if reason == "Second" else "Normal")))
    _, out, _ = await kubectl.run("get", "events", "--sort-by=.lastTimestamp")
    table = rows(out)
    assert table[0] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert [r[2] for r in table[1:]] == ["First", "Second", "Third"]
    assert table[1][:4] == ["10m", "Normal", "First", "deployment/web"]
    assert table[2][1] == "Warning" and table[2][4:] == ["Second", "happened"]


async def test_get_events_sorted_after_a_rollout_lists_the_controllers_events(
        kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await web(kubectl, cluster)
    _, out, _ = await kubectl.run("get", "events", "--sort-by=.lastTimestamp")
    table = rows(out)
    assert table[0][:3] == ["LAST", "SEEN", "TYPE"]
    reasons = {(r[2], r[3]) for r in table[1:]}
    assert ("ScalingReplicaSet", "deployment/web") in reasons
    assert any(reason == "SuccessfulCreate" and obj.startswith("replicaset/web-") for reason, obj in reasons)


async def test_get_watch_prints_a_change_in_the_lists_columns(kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await kubectl.run("create", "configmap", "w1", "--from-literal=a=1")
    proc = await asyncio.create_subprocess_exec(*kubectl.prefix, "get", "configmaps", "-w",
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(30):
            header = (await proc.stdout.readline()).decode().split()
            assert header == ["NAME", "DATA", "AGE"]
            seen = []
            while "w1" not in (line := (await proc.stdout.readline()).decode().split() or [""])[0]:
                seen.append(line)
            assert line[:2] == ["w1", "1"]
            await kubectl.run("patch", "configmap", "w1", "-p", '{"data": {"a": "1", "b": "2"}}')
            changed = (await proc.stdout.readline()).decode().split()
            assert changed[:2] == ["w1", "2"] and len(changed) == 3, changed  # DATA kept, no second header
            await kubectl.run("create", "configmap", "w2")
            added = (await proc.stdout.readline()).decode().split()
            assert added[:2] == ["w2", "0"], added
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def test_output_wide_adds_kubes_wide_columns(kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await web(kubectl, cluster)
    _, out, _ = await kubectl.run("get", "pods", "-o", "wide")
    header, *pods = rows(out)
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS",
                      "GATES"]
    assert len(pods) == 2 and all(p[2] == "Running" and p[6] == "sim-node" for p in pods)
    ips = {p["status"]["podIP"] for p in running_web_pods(cluster)}
    assert {p[5] for p in pods} == ips
    _, out, _ = await kubectl.run("get", "deployment", "web", "-o", "wide")
    assert rows(out) == [["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
                         ["web", "2/2", "2", "2", rows(out)[1][4], "main", "nginx:1.27", "app=web"]]


async def test_output_custom_columns_prints_the_named_paths(kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await web(kubectl, cluster)
    _, out, _ = await kubectl.run("get", "pods", "-o",
                                  "custom-columns=NAME:.metadata.name,PHASE:.status.phase,IMAGE:.spec.containers[0].image")
    header, *pods = rows(out)
    assert header == ["NAME", "PHASE", "IMAGE"]
    assert sorted(pods) == sorted([[p["metadata"]["name"], "Running", "nginx:1.27"] for p in running_web_pods(cluster)])


async def test_output_jsonpath_prints_the_selected_values(kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await web(kubectl, cluster)
    _, out, _ = await kubectl.run("get", "pods", "-o", "jsonpath={.items[*].metadata.name}")
    assert sorted(out.split()) == sorted(p["metadata"]["name"] for p in running_web_pods(cluster))
    _, out, _ = await kubectl.run("get", "deployment", "web", "-o",
                                  "jsonpath={.spec.replicas}/{.status.readyReplicas} {.metadata.labels.app}")
    assert out == "2/2 web"
    _, out, _ = await kubectl.run("get", "pods", "-o",
                                  'jsonpath={range .items[*]}{.metadata.name}={.status.phase}{"\\n"}{end}')
    assert sorted(out.splitlines()) == sorted(f"{p['metadata']['name']}=Running" for p in running_web_pods(cluster))


async def test_output_yaml_round_trips_through_apply(kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await web(kubectl, cluster)
    await kubectl.run("apply", "-f", str(SAMPLE))
    for kind, name in (("deployment", "web"), ("rayservice", "rayservice-sample"), ("configmap", "kube-root-ca.crt")):
        _, out, _ = await kubectl.run("get", kind, name, "-o", "yaml")
        obj = yaml.safe_load(out)
        obj["metadata"].setdefault("labels", {})["edited"] = "yes"
        _, applied, err = await kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump(obj))
        assert applied.strip().endswith("configured"), (applied, err)
        _, out, _ = await kubectl.run("get", kind, name, "-o", "jsonpath={.metadata.labels.edited}")
        assert out == "yes", kind
        _, again, _ = await kubectl.run("get", kind, name, "-o", "yaml")
        assert yaml.safe_load(again)["spec" if "spec" in obj else "data"] == obj["spec" if "spec" in obj else "data"]


async def test_label_and_field_selectors_choose_what_is_listed(kubectl: Kubectl, cluster: LocalApiServer) -> None:
    for name, labels in (("red", "color=red,size=big"), ("blue", "color=blue,size=big"), ("plain", "")):
        await kubectl.run("create", "configmap", name)
        if labels:
            await kubectl.run("label", "configmap", name, *labels.split(","))

    async def names(*args: str) -> list[str]:
        _, out, _ = await kubectl.run("get", "configmaps", *args, "-o", "name")
        return out.split()

    assert await names("-l", "color=red") == ["configmap/red"]
    assert await names("-l", "color in (red,blue),size=big") == ["configmap/blue", "configmap/red"]
    assert await names("-l", "color,color!=blue") == ["configmap/red"]
    assert await names("-l", "!color") == ["configmap/kube-root-ca.crt", "configmap/plain"]
    assert await names("--field-selector", "metadata.name=blue") == ["configmap/blue"]
    assert await names("--field-selector", "metadata.name!=blue", "-l", "size=big") == ["configmap/red"]
    await web(kubectl, cluster)
    _, out, _ = await kubectl.run("get", "pods", "--field-selector", "status.phase=Running", "-o", "name")
    assert len(out.split()) == 2
    code, _, err = await kubectl.run("get", "pods", "--field-selector", "spec.bogus=x", ok=False)
    assert code == 1 and err.startswith("Error from server (BadRequest): Unable to find") and "spec.bogus" in err
    code, _, err = await kubectl.run("get", "configmaps", "-l", "a in b", ok=False)
    assert code == 1 and "unable to parse requirement" in err


SERVED: list[tuple[str, str, dict[str, Any]]] = [
    ("configmaps", "cm1", {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}),
    ("secrets", "s1", {"apiVersion": "v1", "kind": "Secret", "stringData": {"k": "v"}}),
    ("services", "svc1", {"apiVersion": "v1", "kind": "Service",
                          "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    ("serviceaccounts", "sa1", {"apiVersion": "v1", "kind": "ServiceAccount"}),
    ("namespaces", "ns1", {"apiVersion": "v1", "kind": "Namespace"}),
    ("pods", "pod1", {"apiVersion": "v1", "kind": "Pod",
                      "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
    ("jobs.batch", "job1", {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}),
    ("leases.coordination.k8s.io", "lease1", {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                              "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}}),
    ("roles.rbac.authorization.k8s.io", "role1", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                                                  "rules": [{"apiGroups": [""], "resources": ["pods"],
                                                             "verbs": ["get"]}]}),
    ("rolebindings.rbac.authorization.k8s.io", "rb1", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "role1"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa1", "namespace": "default"}]}),
    ("clusterroles.rbac.authorization.k8s.io", "cr1", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]}),
    ("clusterrolebindings.rbac.authorization.k8s.io", "crb1", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr1"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa1", "namespace": "default"}]}),
]


async def test_describe_shows_every_kind_served_and_review_kinds_answer_method_not_allowed(
        kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await web(kubectl, cluster)
    await kubectl.run("apply", "-f", str(SAMPLE))
    for _, name, body in SERVED:
        await kubectl.run("create", "-f", "-", stdin=yaml.safe_dump({**body, "metadata": {"name": name}}))
    await until(cluster, lambda: cluster.store.list(("discovery.k8s.io", "endpointslices"), "default"))
    code, resources, _ = await kubectl.run("api-resources", "-o", "name")
    listable = {line for line in resources.split()}
    described: dict[str, str] = {}
    for resource in sorted(listable):
        code, out, err = await kubectl.run("describe", resource, "-A", ok=False)
        described[resource] = out + err
        assert "Traceback" not in out + err and "panic" not in out + err, (resource, out + err)
        if resource.endswith(("reviews.authentication.k8s.io", "reviews.authorization.k8s.io")):
            assert code == 1 and err.strip() == ("Error from server (MethodNotAllowed): the server does not allow "
                                                 "this method on the requested resource"), (resource, err)
            continue
        assert code == 0, (resource, err)
    for resource, name, _ in SERVED:
        assert "Name:" in described[resource] and name in described[resource], (resource, described[resource])
    for resource, name in (("deployments.apps", "web"), ("replicasets.apps", "web-"), ("nodes", "sim-node"),
                           ("rayservices.ray.io", "rayservice-sample"), ("events", "web"),
                           ("endpointslices.discovery.k8s.io", "svc1"),
                           ("customresourcedefinitions.apiextensions.k8s.io", "rayservices.ray.io")):
        assert "Name:" in described[resource] and name in described[resource], (resource, described[resource])
    _, out, _ = await kubectl.run("describe", "rayservice", "rayservice-sample")
    assert out.splitlines()[0].split() == ["Name:", "rayservice-sample"] and "serveConfigV2:" in out
    assert "Ray Cluster Config:" in out


async def test_explain_rayservice_serve_config_v2_names_its_type_and_meaning(kubectl: Kubectl) -> None:
    _, out, _ = await kubectl.run("explain", "rayservice.spec.serveConfigV2")
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    assert lines[:4] == ["GROUP:      ray.io", "KIND:       RayService", "VERSION:    v1",
                         "FIELD: serveConfigV2 <string>"]
    assert "DESCRIPTION:" in lines and "Serve" in out
    code, _, err = await kubectl.run("explain", "rayservice.spec.nothing", ok=False)
    assert code == 1 and 'field "nothing" does not exist' in err


async def test_edit_with_an_editor_script_changes_the_object(kubectl: Kubectl, cluster: LocalApiServer,
                                                             tmp_path: Path) -> None:
    await web(kubectl, cluster)
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/replicas: 2/replicas: 3/' \"$1\"\n")
    editor.chmod(0o755)
    proc = await asyncio.create_subprocess_exec(*kubectl.prefix, "edit", "deployment", "web",
                                                env={"EDITOR": str(editor), "PATH": "/usr/bin:/bin"},
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0 and out.decode().strip() == "deployment.apps/web edited", err.decode()
    await until(cluster, lambda: len(running_web_pods(cluster)) == 3)


async def test_patch_json_merge_and_strategic_as_kube_takes_them(kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await web(kubectl, cluster)
    await kubectl.run("patch", "deployment", "web", "--type=json",
                      "-p", '[{"op": "replace", "path": "/spec/replicas", "value": 1}]')
    await kubectl.run("patch", "deployment", "web", "--type=merge", "-p", '{"metadata": {"labels": {"tier": "front"}}}')
    image = '{"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}}'
    await kubectl.run("patch", "deployment", "web", "--type=strategic", "-p", image)
    d = cluster.store.get(("apps", "deployments"), "default", "web") or {}
    assert d["spec"]["replicas"] == 1 and d["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert [(c["name"], c["image"]) for c in d["spec"]["template"]["spec"]["containers"]] == [("main", "nginx:1.28")]
    await kubectl.run("apply", "-f", str(SAMPLE))
    rs = ("rayservice", "rayservice-sample")
    await kubectl.run("patch", *rs, "--type=merge", "-p", '{"metadata": {"labels": {"a": "b"}}}')
    code, _, err = await kubectl.run("patch", *rs, "--type=strategic", "-p", "{}", ok=False)
    assert code == 1 and "application/strategic-merge-patch+json is not supported by ray.io/v1, Kind=RayService" in err
    code, _, err = await kubectl.run("patch", "deployment", "web", "--type=json",
                                     "-p", '[{"op": "remove", "path": "/spec/nothing"}]', ok=False)
    assert (code, err.strip()) == (1, "The request is invalid: the server rejected our request due to an error in "
                                      "our request")  # kube's words for a JSON patch that does not apply


async def test_scale_and_rollout_status(kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await web(kubectl, cluster)
    _, out, _ = await kubectl.run("scale", "deployment", "web", "--replicas=3")
    assert out.strip() == "deployment.apps/web scaled"
    _, out, _ = await kubectl.run("rollout", "status", "deployment/web", "--timeout=30s")
    assert out.strip().splitlines()[-1] == 'deployment "web" successfully rolled out'
    assert len(running_web_pods(cluster)) == 3
    code, _, err = await kubectl.run("scale", "deployment", "nope", "--replicas=1", ok=False)
    assert code == 1 and err.strip() == 'Error from server (NotFound): deployments.apps "nope" not found'


async def test_delete_wait_returns_once_the_object_is_gone(kubectl: Kubectl, cluster: LocalApiServer) -> None:
    await kubectl.run("create", "-f", "-", stdin=yaml.safe_dump({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}))
    deleting = asyncio.create_task(kubectl.run("delete", "configmap", "held", "--wait=true", "--timeout=30s"))
    held = await until(cluster, lambda: (cm := cluster.store.get(("", "configmaps"), "default", "held"))
                       and cm["metadata"].get("deletionTimestamp") and cm)
    assert not deleting.done()  # still waiting: the finalizer holds the object
    await kubectl.run("patch", "configmap", "held", "--type=merge", "-p", '{"metadata": {"finalizers": null}}')
    _, out, _ = await deleting
    assert out.strip() == 'configmap "held" deleted from default namespace' and held
    assert cluster.store.get(("", "configmaps"), "default", "held") is None
    code, _, err = await kubectl.run("delete", "configmap", "held", "--wait", ok=False)
    assert code == 1 and err.strip() == 'Error from server (NotFound): configmaps "held" not found'


@pytest.mark.parametrize(("args", "error"), [
    (("get", "frobs"), 'error: the server doesn\'t have a resource type "frobs"'),
    (("get", "ingresses"), 'error: the server doesn\'t have a resource type "ingresses"'),
    (("get", "tokenreviews"),
     "Error from server (MethodNotAllowed): the server does not allow this method on the requested resource"),
    (("get", "pods", "nope"), 'Error from server (NotFound): pods "nope" not found'),
    (("describe", "rayservice", "nope"), 'Error from server (NotFound): rayservices.ray.io "nope" not found'),
    (("top", "pods"), "error: Metrics API not available"),
    (("get", "--raw", "/nothing"), "Error from server (NotFound): the server could not find the requested resource"),
])
async def test_what_is_not_served_answers_with_kubes_own_error(kubectl: Kubectl, args: tuple[str, ...],
                                                               error: str) -> None:
    code, out, err = await kubectl.run(*args, ok=False)
    assert (code, out, err.strip()) == (1, "", error)


@pytest.mark.parametrize(("args", "plural"), [
    (("deployment", "d1", "--image=nginx:1.27", "--port=80", "--replicas=3"), ("apps", "deployments")),
    (("deployment", "d0", "--image=nginx", "--replicas=0"), ("apps", "deployments")),
    (("job", "j1", "--image=busybox", "--", "echo", "hi"), ("batch", "jobs")),
    (("service", "clusterip", "s1", "--tcp=80:8080", "--tcp=443:https"), ("", "services")),
    (("service", "nodeport", "s2", "--tcp=80:http"), ("", "services")),
])
async def test_kubectl_create_generators_store_what_a_client_dry_run_prints(
        kubectl: Kubectl, cluster: LocalApiServer, args: tuple[str, ...], plural: tuple[str, str]) -> None:
    # kubectl sends these bodies as protobuf; the stored spec must be what the same command prints as JSON
    split = args.index("--") if "--" in args else len(args)
    _, printed, _ = await kubectl.run("create", *args[:split], "--dry-run=client", "-o", "json", *args[split:])
    want = json.loads(printed)
    _, out, _ = await kubectl.run("create", *args)
    name = want["metadata"]["name"]
    assert out.strip().endswith(f"/{name} created")
    stored = cluster.store.get(plural, "default", name) or {}
    assert stored["metadata"].get("labels") == want["metadata"].get("labels")
    for key, value in want["spec"].items():
        if key in ("ports", "template") or value == {}:  # {}: left for the server's defaults
            continue
        assert stored["spec"][key] == value, key
    if "template" in want["spec"]:
        got = stored["spec"]["template"]["spec"]["containers"]
        def essentials(c: dict[str, Any]) -> dict[str, Any]:  # the server defaults each port's protocol
            return {"name": c["name"], "image": c["image"], "command": c.get("command"),
                    "ports": [p["containerPort"] for p in c.get("ports") or []]}

        assert [essentials(c) for c in got] == [essentials(c) for c in want["spec"]["template"]["spec"]["containers"]]
    if "ports" in want["spec"]:
        assert [{k: p[k] for k in ("name", "port", "targetPort", "protocol")} for p in stored["spec"]["ports"]] == \
            want["spec"]["ports"]
