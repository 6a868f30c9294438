"""One command, the whole journey on one machine with real Ray: `make demo` (`python -m e2e.demo`, as root).

It starts the local cluster (`python -m e2e.localcluster up`: API server with TLS and RBAC, controllers, node
agent, service proxy) as its own process, then deploys the operator as the seed guide does (`kubectl apply -k
manifests/default`: the Deployment `ray-system/ray-operator` runs in a pod with its ServiceAccount) and shows
`kubectl get deployments,pods -n ray-system`; applies the alpha sample with a local working_dir
(`manifests/samples/ray.io_v1alpha1_rayservice_local.yaml`, Ray 2.60 in each pod's own network and PID
namespace); waits until the RayService is Running; shows `kubectl get rayservice,raycluster,pods,services`;
sends `["MANGO", 2]` to the serve Service and prints the answer (6); then prints the kubeconfig and the serve
address to play with and stays up until Ctrl-C, which stops everything it started (by process group) and
removes the pods' namespaces. `--operator=host` runs the operator as a local process (`rayservice run` with the
admin's kubeconfig) instead, for developing it. `--no-sample` stops after the operator is deployed.

How it stops:
- Ctrl-C (SIGINT), SIGTERM or SIGHUP, at any step, stops everything it started, then exits (130 when
  interrupted before the sample served); a second Ctrl-C while stopping is ignored.
- Output piped (`make demo | tee demo.log`): Ctrl-C also ends the reader, so writes fail (EPIPE); the demo then
  writes to /dev/null and still stops everything.
- SIGKILLed: what it started gets SIGTERM from the kernel when it dies (parent-death signal, `e2e.localstack`)
  and stops as on Ctrl-C.
- A second and third run reuse the log folder and the kubeconfig path: each reads only what its own start wrote.

Without root it says so in one line. `--simulated` runs the simulated demo instead (`make demo-sim`: simulated
pods, a fake Ray dashboard, no root needed; see `e2e/demo_simulated.py`).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from pathlib import Path

from e2e.localstack import (
    BIN,
    OPERATOR_DEPLOYMENT,
    OPERATOR_MODES,
    OPERATOR_NAMESPACE,
    ROOT,
    LocalStack,
    StackConfig,
    StackError,
    problem,
    wait_for,
)

SAMPLE = ROOT / "manifests" / "samples" / "ray.io_v1alpha1_rayservice_local.yaml"
NAME = "rayservice-sample"
MANGO = '["MANGO", 2]'


class _Interrupted(Exception):
    pass


def _interrupt(signum: int, _frame: object) -> None:
    raise _Interrupted(signal.Signals(signum).name)


def _say(text: str, *, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    try:
        print(text, file=stream, flush=True)
    except OSError:  # the reader of the piped output is gone (Ctrl-C reached `tee` too): keep going, unheard
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def _real(args: argparse.Namespace) -> int:
    if (why := problem()) is not None:
        _say(f"demo: real Ray in local pods {why.split(';')[0]}; `make demo-sim` runs the simulated demo "
             "without root", err=True)
        return 1
    if (busy := port_in_use(args.port)) is not None:
        _say(f"demo: {busy}", err=True)
        return 1
    from e2e import observe as ob

    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "rayservice-demo"
    kubeconfig = Path(args.kubeconfig)
    stack = LocalStack(StackConfig(workdir=logs, prefix=args.prefix, pod_cidr=args.pod_cidr,
                                   service_cidr=args.service_cidr, port=args.port, kubeconfig=kubeconfig,
                                   operator=args.operator))
    kubectl = f"{BIN / 'kubectl'} --kubeconfig {kubeconfig}"
    operator_logs = (f"the operator: {kubectl} logs -n {OPERATOR_NAMESPACE} deploy/{OPERATOR_DEPLOYMENT}"
                     if args.operator == "cluster" else f"the operator: {logs}/operator.log")
    t0 = time.monotonic()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        stack.start(on_step=lambda step: _say(f"demo: {step}"))
        if args.operator == "cluster":
            _say(f"\n$ kubectl get deployments -n {OPERATOR_NAMESPACE}\n"
                 + stack.kubectl("get", "deployments", "-n", OPERATOR_NAMESPACE).rstrip()
                 + f"\n\n$ kubectl get pods -n {OPERATOR_NAMESPACE}\n"
                 + stack.kubectl("get", "pods", "-n", OPERATOR_NAMESPACE).rstrip() + "\n")
        if args.no_sample:
            _say(f"demo: the local cluster and the operator run. Try:\n  export KUBECONFIG={kubeconfig}\n"
                 f"  {kubectl} apply -f {SAMPLE.relative_to(ROOT)}\nLogs: {logs}/localcluster.log; {operator_logs}")
            return _wait_for_ctrl_c(args)
        _say(f"demo: applying {SAMPLE.relative_to(ROOT)}")
        _say(stack.kubectl("apply", "-f", str(SAMPLE)).rstrip())
        _say("demo: waiting until the RayService is Running (Ray starts in the pods, then Serve deploys)")
        ob.wait_running(stack, NAME, timeout_s=args.timeout)
        ip = ob.cluster_ip(stack, f"{NAME}-serve-svc")
        answer = wait_for("an answer from the serve Service", lambda: ob.answer(ip, MANGO), 60)
        _say("\n$ kubectl get rayservice,raycluster,pods,services\n"
             + stack.kubectl("get", "rayservice,raycluster,pods,services").rstrip())
        _say(f"\n$ curl -X POST -H 'Content-Type: application/json' {ip}:8000 -d '{MANGO}'\n{answer}")
        _say(f"\ndemo: the sample RayService serves with real Ray ({time.monotonic() - t0:.0f} s). Try:\n"
             f"  export KUBECONFIG={kubeconfig}\n"
             f"  {kubectl} describe rayservice {NAME}\n"
             f"  curl -X POST -H 'Content-Type: application/json' {ip}:8000 -d '[\"PEAR\", 3]'"
             f"     # serve address {ip}:8000 ({NAME}-serve-svc)\n"
             f"  edit the price in {SAMPLE.relative_to(ROOT)} and `kubectl apply -f` it (in-place update)\n"
             f"Logs: {logs}/localcluster.log; {operator_logs}; kubectl logs for the pods")
        return _wait_for_ctrl_c(args)
    except StackError as exc:
        _say(f"demo: {exc}", err=True)
        return 1
    except _Interrupted as exc:
        _say(f"demo: {exc} received", err=True)
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # stopping is not interrupted
            signal.signal(sig, signal.SIG_IGN)
        _say("demo: stopping the operator and the local cluster")
        stack.stop(delete_first=False)
        _say("demo: stopped")


def _wait_for_ctrl_c(args: argparse.Namespace) -> int:
    if args.exit_when_ready:
        return 0
    _say("Ctrl-C stops everything.")
    stops = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    # blocked only now, after the children started: a blocked mask would be inherited by them
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    signal.sigwait(stops)
    return 0


def port_in_use(port: int) -> str | None:
    """Why the API server cannot listen on 127.0.0.1:`port` (with the flag that picks another), or None."""
    if port == 0:
        return None
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return (f"port {port} on 127.0.0.1 is not free ({exc.strerror}; another `make demo` or local cluster?); "
                    f"pick another with --port (0 picks a free one): {sys.executable} -m e2e.demo --port 0")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--simulated", action="store_true",
                        help="the simulated demo: no root, simulated pods and Ray dashboard (make demo-sim)")
    parser.add_argument("--port", type=int, default=6443, help="API server port (default 6443; 0 picks one)")
    parser.add_argument("--kubeconfig", default="/tmp/localcluster.kubeconfig", help="where to write the kubeconfig")
    parser.add_argument("--exit-when-ready", action="store_true", help="stop everything once the sample serves")
    parser.add_argument("--no-sample", action="store_true",
                        help="only the local cluster and the operator, no sample RayService (real Ray)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the sample (real Ray)")
    parser.add_argument("--operator", choices=OPERATOR_MODES, default="cluster",
                        help="cluster (default): the Deployment of manifests/default, as the seed guide installs "
                             "it; host: `rayservice run` as a local process, for developing the operator (real Ray)")
    parser.add_argument("--prefix", default="lcn", help="the local node's prefix (real Ray; default lcn)")
    parser.add_argument("--pod-cidr", default="10.244.0.0/16", help="pod addresses (real Ray)")
    parser.add_argument("--service-cidr", default="10.96.0.0/16", help="ClusterIP range (real Ray)")
    args = parser.parse_args(argv)
    if args.simulated:
        from e2e.demo_simulated import run

        return run(args)
    return _real(args)


if __name__ == "__main__":
    sys.exit(main())
