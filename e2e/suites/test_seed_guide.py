"""The seed's user guide (rayservice-alpha-user-guide.md), command for command, against the local cluster with real Ray.

One test walks the guide in its order and checks what the guide shows a user: the operator deployed with
`kubectl apply -k manifests/default` (`ray-operator 1/1`, its pod Running), the local alpha sample applied, the
RayService, its head and worker pods Running, the four Services with the guide's names and ports, `describe`,
`kubectl run curl --image=radial/busyboxplus:curl -i --tty` and the guide's curl inside it (-> 6), `kubectl exec -it
curl sh`, `kubectl port-forward service/rayservice-sample-serve-svc LOCAL:8000` (-> 6), `kubectl port-forward
service/rayservice-sample-head-svc LOCAL:8265` with Ray's dashboard rendered by a headless Chromium (its screenshot
kept in the test's output folder), the mango price update (-> 8), the worker-count edit (scaled in place), a cluster
template edit (a pending cluster in `pendingServiceStatus`, then the switch), `kubectl logs` of the operator and the
head, `kubectl exec -it <head> bash` with `ray status`, the sample deleted, the operator deleted, nothing left.

Interactive commands run in a real pseudo-terminal (pexpect), as a user types them. Every wait is bounded; each
step prints its duration. A step that cannot work here fails the test: nothing is skipped.

The test runs a local cluster of its own (prefix `lcg`, pods 10.240.0.0/16, Services 10.106.0.0/16): the guide
deletes the operator and its CRDs at the end, which the shared stack's other suites need. The stack starts with the
operator deployed; the test removes it first so that the guide's `kubectl apply -k` deploys it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pexpect  # type: ignore[import-untyped]
import pytest

from e2e import observe as ob
from e2e.localstack import (
    BIN,
    KUSTOMIZATION,
    OPERATOR_NAMESPACE,
    LocalStack,
    StackConfig,
    StackError,
    free_port,
    wait_for,
)
from e2e.suites.conftest import leftovers

PREFIX = "lcg"

NAME = "rayservice-sample"
HEAD_SVC, SERVE_SVC = f"{NAME}-head-svc", f"{NAME}-serve-svc"
SAMPLE_PATH = ob.ALPHA_LOCAL
SAMPLE = SAMPLE_PATH.read_text()
GUIDE_CURL = ("curl -X POST -H 'Content-Type: application/json' "
              "rayservice-sample-serve-svc.default.svc.cluster.local:8000 -d '[\"MANGO\", 2]'")
# the guide's edits, each on top of the one before
PRICE_4 = SAMPLE.replace("price: 3", "price: 4", 1)
TWO_WORKERS = PRICE_4.replace("      - replicas: 1\n", "      - replicas: 2\n", 1)
# a change of the cluster's template (the head's num-cpus) and a short deletion delay for the old cluster
TEMPLATE_EDIT = TWO_WORKERS.replace('num-cpus: "1"', 'num-cpus: "2"', 1).replace(
    "spec:\n", "spec:\n  rayClusterDeletionDelaySeconds: 5\n", 1)
assert SAMPLE != PRICE_4 != TWO_WORKERS != TEMPLATE_EDIT
GUIDE_PORTS = {"6379/TCP", "8265/TCP", "10001/TCP", "8000/TCP", "52365/TCP"}
END = "'<<''END>>'"  # echoed by the terminal as typed, printed by the shell as <<END>>
DONE = "<<END>>"
PROMPT = r"[#$] "
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,900", "--virtual-time-budget=15000"]
DASHBOARD_NAV = ("Overview", "Jobs", "Serve", "Cluster", "Actors", "Logs")


class Steps:
    """Prints each guide step with its duration and keeps them for the summary."""

    def __init__(self) -> None:
        self.took: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def __call__(self, title: str) -> Iterator[None]:
        print(f"\n$ {title}", flush=True)
        t0 = time.monotonic()
        yield
        took = time.monotonic() - t0
        self.took.append((title, took))
        print(f"  ({took:.1f} s)", flush=True)

    def summary(self) -> str:
        return "\n".join(f"{took:6.1f} s  {title}" for title, took in self.took)


def rows(table: str) -> list[list[str]]:
    """The data rows of a kubectl table, split on whitespace (the header dropped)."""
    return [line.split() for line in table.strip().splitlines()[1:]]


def header(table: str) -> list[str]:
    return table.strip().splitlines()[0].split()


TERMINALS: list[pexpect.spawn] = []  # closed when the test ends, however it ends


def spawn(stack: LocalStack, *args: str, timeout_s: float = 60) -> pexpect.spawn:
    """kubectl in a pseudo-terminal, wide enough that a typed command does not wrap."""
    term = pexpect.spawn(str(BIN / "kubectl"), ["--kubeconfig", str(stack.kubeconfig), *args], timeout=timeout_s,
                         encoding="utf-8", dimensions=(40, 250), env={**os.environ, "TERM": "xterm"})
    TERMINALS.append(term)
    return term


def prompt(term: pexpect.spawn, timeout_s: float = 30) -> None:
    """Wait for the shell's prompt (sh's and bash's, as root: `# `), so that what is typed next follows it."""
    term.expect(PROMPT, timeout=timeout_s)


def typed(term: pexpect.spawn, command: str, timeout_s: float = 60) -> str:
    """Type `command` at the shell prompt in `term`; what it printed (up to the end marker), then the next prompt."""
    term.sendline(f"{command}; echo {END}")
    term.expect_exact(DONE, timeout=timeout_s)  # the marker typed on the command line does not match
    out = str(term.before).rsplit(END, 1)[-1]  # what follows the echoed command line
    prompt(term)
    return out


def curl_in(term: pexpect.spawn) -> str:
    return typed(term, GUIDE_CURL).strip()


def restarted_and_ready(stack: LocalStack, name: str) -> bool:
    """Pod `name` is Ready with a container that was restarted at least once and runs now."""
    pod = stack.get(f"{ob.PODS_PATH}/{name}")
    if pod is None or not ob.is_ready(pod):
        return False
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and all(int(c.get("restartCount") or 0) >= 1 and "running" in (c.get("state") or {})
                                  and c.get("ready") for c in statuses)


@contextlib.contextmanager
def port_forward(stack: LocalStack, target: str, remote: int) -> Iterator[int]:
    """`kubectl port-forward TARGET LOCAL:REMOTE` running; yields LOCAL once kubectl says it forwards."""
    local = free_port()
    proc = subprocess.Popen([str(BIN / "kubectl"), "--kubeconfig", str(stack.kubeconfig), "port-forward", target,
                             f"{local}:{remote}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()  # kubectl prints this once it listens
        assert first.startswith(f"Forwarding from 127.0.0.1:{local} -> {remote}"), first + (
            proc.stdout.read() if proc.poll() is not None else "")
        yield local
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def curl_localhost(port: int) -> str:
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "-X", "POST", "-H", "Content-Type: application/json",
                          f"localhost:{port}", "-d", '["MANGO", 2]'], capture_output=True, text=True, timeout=20,
                         check=False)
    return out.stdout.strip() if out.returncode == 0 else f"curl failed ({out.returncode}): {out.stderr.strip()}"


def chromium(*args: str, timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    assert exe, "Debian's chromium is missing: `make system-deps` installs it (as root)"
    with tempfile.TemporaryDirectory(prefix="seed-guide-chromium-") as profile:
        return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout_s, check=False)


def cluster_of(status: dict[str, Any], which: str) -> str:
    return str((status.get(which) or {}).get("rayClusterName") or "")


def active_nodes(ray_status: str) -> int:
    """How many nodes `ray status` lists as Active."""
    if "Active:" not in ray_status:
        return 0
    active = ray_status.split("Active:", 1)[1].split("Pending:", 1)[0]
    return len(re.findall(r"\b1 node_[0-9a-f]+", active))


def workers(stack: LocalStack, cluster: str) -> list[dict[str, Any]]:
    return [p for p in ob.pods(stack, cluster) if p["metadata"]["labels"].get("ray.io/node-type") == "worker"]


def nothing_left(stack: LocalStack) -> list[str]:
    """What the guide's resources left behind: pods, Services but `kubernetes`, ray.io CRDs, ray-system."""
    left = [f"pod {p['metadata']['namespace']}/{p['metadata']['name']}" for p in stack.list("/api/v1/pods")]
    left += [f"service {s['metadata']['name']}" for s in stack.list("/api/v1/namespaces/default/services")
             if s["metadata"]["name"] != "kubernetes"]
    left += [f"crd {c['metadata']['name']}" for c in
             stack.list("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
             if c["metadata"]["name"].endswith(".ray.io")]
    if stack.get(f"/api/v1/namespaces/{OPERATOR_NAMESPACE}") is not None:
        left.append(f"namespace {OPERATOR_NAMESPACE}")
    return left


@pytest.fixture
def guide_stack(tmp_path: Path) -> Iterator[LocalStack]:
    """A local cluster of this test's own, its operator removed: the guide deploys it."""
    local = LocalStack(StackConfig(workdir=tmp_path / "stack", prefix=PREFIX, pod_cidr="10.240.0.0/16",
                                   service_cidr="10.106.0.0/16"))
    try:
        local.start()
        print(f"\nseed-guide stack: kubeconfig {local.kubeconfig}, logs {local.workdir}/")
        local.kubectl("delete", "-k", str(KUSTOMIZATION), "--wait", "--timeout=120s", timeout_s=150)
        yield local
    finally:
        local.stop()
    assert not leftovers(PREFIX), leftovers(PREFIX)


@pytest.mark.timeout(900)
def test_the_seed_user_guide_command_for_command(guide_stack: LocalStack, tmp_path: Path) -> None:
    stack, step = guide_stack, Steps()
    t_all = time.monotonic()
    try:
        _walk_the_guide(stack, step, stack.kubectl, tmp_path)
    finally:
        while TERMINALS:
            TERMINALS.pop().close(force=True)
    print(f"\nthe seed guide, step by step:\n{step.summary()}\nall in {time.monotonic() - t_all:.0f} s; "
          f"the dashboard's screenshot: {tmp_path / 'ray-dashboard.png'}")


def _walk_the_guide(stack: LocalStack, step: Steps, k: Callable[..., str], out_dir: Path) -> None:
    with step("kubectl apply -k manifests/default"):
        applied = k("apply", "-k", str(KUSTOMIZATION))
        assert "deployment.apps/ray-operator created" in applied, applied
        assert "customresourcedefinition.apiextensions.k8s.io/rayservices.ray.io created" in applied, applied

    with step("kubectl get deployments -n ray-system  (until READY 1/1)"):
        def operator_1_of_1() -> str | None:
            table = k("get", "deployments", "-n", OPERATOR_NAMESPACE)
            return table if [r[:4] for r in rows(table)] == [["ray-operator", "1/1", "1", "1"]] else None
        table = wait_for("ray-operator 1/1", operator_1_of_1, 120)
        print(table)
        assert header(table) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]

    with step("kubectl get pods -n ray-system"):
        table = k("get", "pods", "-n", OPERATOR_NAMESPACE)
        print(table)
        [pod] = rows(table)
        assert re.fullmatch(r"ray-operator-[0-9a-f]+-[0-9a-z]{5}", pod[0]), pod
        assert pod[1:4] == ["1/1", "Running", "0"], pod

    with step(f"kubectl apply -f {SAMPLE_PATH.relative_to(SAMPLE_PATH.parents[2])}"):
        assert k("apply", "-f", str(SAMPLE_PATH)).strip() == f"rayservice.ray.io/{NAME} created"

    with step("kubectl get rayservice"):
        table = k("get", "rayservice")
        print(table)
        assert header(table)[0] == "NAME" and header(table)[-1] == "AGE", table
        assert [r[0] for r in rows(table)] == [NAME], table

    with step("kubectl get pods  (until the head and the worker are Running)"):
        def head_and_worker_running() -> str | None:
            table = k("get", "pods")
            got = rows(table)
            kinds = sorted("head" if "-head-" in r[0] else "worker" if "-worker-small-group-" in r[0] else r[0]
                           for r in got)
            return table if kinds == ["head", "worker"] and all(r[1:3] == ["1/1", "Running"] for r in got) else None
        table = wait_for("the head and the worker pod Running", head_and_worker_running, 240, interval_s=1)
        print(table)
        [cluster] = ob.clusters(stack, NAME)
        assert all(r[0].startswith(f"{cluster}-") for r in rows(table)), table

    with step("kubectl get services"):
        wanted = {"kubernetes", HEAD_SVC, SERVE_SVC, f"{cluster}-head-svc", f"{cluster}-dashboard-svc"}

        def all_services() -> str | None:
            table = k("get", "services")
            return table if {r[0] for r in rows(table)} == wanted else None
        table = wait_for("the guide's services", all_services, 120, interval_s=1)
        print(table)
        assert header(table) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
        ports = {r[0]: set(r[4].split(",")) for r in rows(table)}
        assert all(r[1] == "ClusterIP" and r[3] == "<none>" for r in rows(table)), table
        assert ports["kubernetes"] == {"443/TCP"}
        for head in (HEAD_SVC, f"{cluster}-head-svc"):
            assert GUIDE_PORTS <= ports[head], (head, ports[head])
        assert ports[SERVE_SVC] == {"8000/TCP"}
        assert ports[f"{cluster}-dashboard-svc"] == {"52365/TCP"}

    with step(f"kubectl describe rayservices {NAME}  (until Running)"):
        ob.wait_running(stack, NAME, 240)
        described = k("describe", "rayservices", NAME)
        assert f"Name:         {NAME}" in described, described[:500]
        for shown in ("Kind:         RayService", "Service Status:", "Running", "CreatedCluster"):
            assert shown in described, (shown, described[-3000:])

    with step("kubectl run curl --image=radial/busyboxplus:curl -i --tty, then the guide's curl"):
        term = spawn(stack, "run", "curl", "--image=radial/busyboxplus:curl", "-i", "--tty", timeout_s=120)
        term.expect_exact("If you don't see a command prompt, try pressing enter.", timeout=120)
        term.sendline("")
        prompt(term)
        answer = wait_for("6 from the serve Service", lambda: curl_in(term) == "6" and "6", 90, interval_s=1)
        print(f"[ root@curl:/ ]$ {GUIDE_CURL}\n{answer}")
        term.sendline("exit")
        term.expect(pexpect.EOF, timeout=30)
        term.close()
        ended = str(term.before)
        assert "Session ended, resume using 'kubectl attach curl -c curl -n default -i -t' command" in ended, ended

    with step("kubectl exec -it curl sh, then the guide's curl"):
        # the shell that `exit` ended is restarted (kubectl run's pod restarts always): exec into the new one
        wait_for("the curl container restarted and running", lambda: restarted_and_ready(stack, "curl"), 60)
        term = spawn(stack, "exec", "-it", "curl", "--", "sh")
        prompt(term)
        answer = curl_in(term)
        print(f"[ root@curl:/ ]$ {GUIDE_CURL}\n{answer}")
        assert answer == "6", answer
        assert typed(term, "hostname").strip() == "curl"  # the shell is the pod's

    with step(f"kubectl port-forward service/{SERVE_SVC} LOCAL:8000, then curl localhost:LOCAL"):
        with port_forward(stack, f"service/{SERVE_SVC}", 8000) as local:
            answer = curl_localhost(local)
            print(f"curl -X POST -H 'Content-Type: application/json' localhost:{local} -d '[\"MANGO\", 2]'\n{answer}")
            assert answer == "6", answer

    with step(f"kubectl port-forward service/{HEAD_SVC} LOCAL:8265, then the dashboard in a browser"):
        shot = out_dir / "ray-dashboard.png"
        with port_forward(stack, f"service/{HEAD_SVC}", 8265) as local:
            url = f"http://localhost:{local}/"
            dom = chromium("--dump-dom", url)
            assert dom.returncode == 0, dom.stderr[-2000:]
            taken = chromium(f"--screenshot={shot}", url)
            assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]
        page = dom.stdout
        assert re.search(r"<title>[^<]*Ray Dashboard</title>", page), page[:2000]
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
        missing = [item for item in DASHBOARD_NAV if not re.search(rf"\b{item}\b", text)]
        assert not missing, (missing, text[:3000])
        # rendered from the cluster's own answers (the SPA's API calls went through the same port-forward)
        for shown in ("Serve Deployments", "MangoStand", "FruitMarket"):
            assert shown in text, (shown, text[:3000])
        print(f"Ray Dashboard at {url}: nav {', '.join(DASHBOARD_NAV)}, Serve Deployments MangoStand ...; "
              f"screenshot {shot}")

    with step("the mango price 3 -> 4, kubectl apply, then the guide's curl in the curl pod and on localhost"):
        before = ob.clusters(stack, NAME)
        assert k("apply", "-f", "-", stdin=PRICE_4).strip() == f"rayservice.ray.io/{NAME} configured"
        answer = wait_for("8 in the curl pod", lambda: curl_in(term) == "8" and "8", 90, interval_s=1)
        print(f"[ root@curl:/ ]$ {GUIDE_CURL}\n{answer}")
        statuses = ob.status(stack, NAME)["activeServiceStatus"]["applicationStatuses"]["default"][
            "serveDeploymentStatuses"]
        assert statuses["MangoStand"]["status"] in ("HEALTHY", "UPDATING"), statuses
        with port_forward(stack, f"service/{SERVE_SVC}", 8000) as local:
            assert curl_localhost(local) == "8"
        assert ob.clusters(stack, NAME) == before, "a Serve config update made a new cluster"
        term.sendline("exit")
        term.expect(pexpect.EOF, timeout=30)
        term.close()

    with step("workerGroupSpecs replicas 1 -> 2, kubectl apply  (scaled in place)"):
        assert k("apply", "-f", "-", stdin=TWO_WORKERS).strip() == f"rayservice.ray.io/{NAME} configured"
        wait_for("two workers Running", lambda: len(ready := [p for p in workers(stack, cluster) if ob.is_ready(p)])
                 == 2 and ready, 180, interval_s=1)
        st = ob.status(stack, NAME)
        assert ob.clusters(stack, NAME) == [cluster] and cluster_of(st, "activeServiceStatus") == cluster, st
        assert not cluster_of(st, "pendingServiceStatus"), st
        print(k("get", "pods"))
        print(f"the worker count is scaled in place: {cluster} keeps serving, no pending cluster")

    with step("a cluster template edit (head num-cpus 1 -> 2), kubectl apply: pendingServiceStatus, then the switch"):
        assert k("apply", "-f", "-", stdin=TEMPLATE_EDIT).strip() == f"rayservice.ray.io/{NAME} configured"
        pending = wait_for("a pending cluster in pendingServiceStatus", lambda: cluster_of(
            ob.status(stack, NAME), "pendingServiceStatus"), 60)
        assert pending != cluster
        shown = k("get", "rayservice", NAME, "-o", "yaml")
        assert "pendingServiceStatus:" in shown and f"rayClusterName: {pending}" in shown, shown
        print(f"pendingServiceStatus.rayClusterName: {pending}")
        wait_for("the switch to the pending cluster", lambda: (st := ob.status(stack, NAME)) and cluster_of(
            st, "activeServiceStatus") == pending and not cluster_of(st, "pendingServiceStatus"), 300, interval_s=1)
        wait_for(f"the previous cluster {cluster} gone", lambda: ob.clusters(stack, NAME) == [pending]
                 and not ob.pods(stack, cluster), 120, interval_s=1)
        assert ob.answer(ob.cluster_ip(stack, SERVE_SVC), '["MANGO", 2]') == "8"
        print(f"active cluster {cluster} -> {pending}; {cluster} terminated")
        cluster = pending

    with step("kubectl logs -n ray-system <operator pod>; kubectl logs <head pod>"):
        [operator_pod] = [r[0] for r in rows(k("get", "pods", "-n", OPERATOR_NAMESPACE))]
        logs = k("logs", "-n", OPERATOR_NAMESPACE, operator_pod)
        assert NAME in logs and pending in logs, logs[-2000:]
        [head] = [p["metadata"]["name"] for p in ob.pods(stack, cluster)
                  if p["metadata"]["labels"].get("ray.io/node-type") == "head"]
        head_logs = k("logs", head)
        assert "Ray runtime started" in head_logs, head_logs[-2000:]
        print(f"operator log: {len(logs.splitlines())} lines; head log: {len(head_logs.splitlines())} lines")

    with step(f"kubectl exec -it {head} bash, then ray status"):
        term = spawn(stack, "exec", "-it", head, "--", "bash")
        prompt(term)
        seen: list[str] = []

        def three_nodes() -> str | None:  # the head and the two workers, once both workers joined
            seen.append(typed(term, "ray status", timeout_s=90))
            return seen[-1] if active_nodes(seen[-1]) == 3 else None
        try:
            shown = wait_for("ray status: 3 active nodes", three_nodes, 120, interval_s=2)
        except StackError as exc:
            raise AssertionError(f"{exc}; the last ray status:\n{seen[-1] if seen else ''}") from None
        term.sendline("exit")
        term.expect(pexpect.EOF, timeout=30)
        term.close()
        print(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown))  # bash's bracketed-paste and color codes

    with step(f"kubectl delete -f {SAMPLE_PATH.relative_to(SAMPLE_PATH.parents[2])}"):
        deleted = k("delete", "-f", str(SAMPLE_PATH)).strip()
        assert deleted == f'rayservice.ray.io "{NAME}" deleted from default namespace', deleted
        k("delete", "pod", "curl", "--grace-period=1")
        wait_for("the sample's pods and Services gone", lambda: not ob.clusters(stack, NAME)
                 and not stack.list(ob.PODS_PATH), 120, interval_s=1)

    with step("kubectl delete -k manifests/default"):
        deleted = k("delete", "-k", str(KUSTOMIZATION), timeout_s=150)
        assert 'deployment.apps "ray-operator" deleted' in deleted, deleted
        try:
            wait_for("nothing left", lambda: not nothing_left(stack), 120, interval_s=1)
        except StackError as exc:
            raise AssertionError(f"{exc}: {nothing_left(stack)}") from None
        print(k("get", "namespaces"))
        print("no pod, no Service but kubernetes, no ray.io CRD, no ray-system left")
