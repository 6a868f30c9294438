"""Command line: `python -m e2e.localcluster {apiserver,up,node} ...`.

- `apiserver --port P --kubeconfig PATH`: only the embedded API server (with its controllers).
- `up --kubeconfig PATH [--port P] [--pod-cidr C] [--service-cidr C]`: API server, controllers, node agent and
  service proxy, until interrupted (root). SIGINT, SIGTERM and SIGHUP stop it cleanly (pods, namespaces, links
  and routes removed); should it be killed outright, its pods die with it and the next start removes the rest.

Both serve HTTPS with authentication: the CA, serving and admin certificates and the ServiceAccount signing key
are made at first start under `--state-dir` (default: `<kubeconfig>.state/`, next to the kubeconfig) and reused
on later starts; the kubeconfig carries the CA and the admin's client certificate. `--plain-http` serves plain
HTTP where a request without a credential is the admin (tests and benchmarks). In `up` mode the API server also
listens on the node bridge's address, and its serving certificate names every address it listens on, so pods
verify it there: it is the endpoint of the `kubernetes` Service that pods use (docs/local-cluster.md).
- `node --kubeconfig EXISTING [--pod-cidr C] [--service-cidr C]`: only the node agent and the service proxy,
  against an existing API server (root).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .node import NodeConfig

_OTHER_PORT = "pick another port with --port (0 picks a free one)"


def _why(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc.strerror or exc)


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: its terminal closed
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _state_dir(args: argparse.Namespace) -> Path:
    if args.state_dir:
        return Path(args.state_dir)
    kubeconfig = Path(args.kubeconfig)
    return kubeconfig.with_name(kubeconfig.name + ".state")


async def _serve_apiserver(args: argparse.Namespace) -> int:
    from .apiserver import LocalApiServer
    from .apiserver.auth.certs import PkiError

    server = LocalApiServer(host=args.host, port=args.port, service_cidr=args.service_cidr,
                            simulate_node=args.simulate_node, tls=not args.plain_http,
                            state_dir=_state_dir(args), extra_sans=args.extra_san)
    try:
        await server.start()
    except PkiError as exc:
        print(f"localcluster: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"localcluster: cannot listen on {args.host}:{args.port}: {_why(exc)}; {_OTHER_PORT}",
              file=sys.stderr)
        return 1
    server.write_kubeconfig(args.kubeconfig)
    print(f"localcluster: API server on {server.url}; kubeconfig {args.kubeconfig}", flush=True)
    await _until_signal()
    await server.stop()
    return 0


def _node_config(args: argparse.Namespace) -> NodeConfig:
    from .node import NodeConfig

    return NodeConfig(node_name=args.node_name, prefix=args.prefix, pod_cidr=args.pod_cidr,
                      service_cidr=args.service_cidr, lock_wait_s=args.lock_wait)


async def _run_node(args: argparse.Namespace, *, with_apiserver: bool) -> int:
    from .apiserver import LocalApiServer
    from .node import LocalNode, NetworkError, load_kubeconfig, missing_requirements, node_gateway
    from .node.portforward import PodPorts

    command = f"{args.command} --kubeconfig {args.kubeconfig}"
    if (problem := missing_requirements(command)) is not None:
        print(f"localcluster: {args.command} {problem}", file=sys.stderr)
        return 1
    server = None
    if with_apiserver:
        from .apiserver.auth.certs import PkiError

        server = LocalApiServer(host="127.0.0.1", port=args.port, service_cidr=args.service_cidr,
                                tls=not args.plain_http, state_dir=_state_dir(args),
                                extra_sans=args.extra_san,
                                advertise_address=node_gateway(args.pod_cidr))
        try:
            await server.start()
        except PkiError as exc:
            print(f"localcluster: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"localcluster: cannot listen on 127.0.0.1:{args.port}: {_why(exc)}; {_OTHER_PORT}",
                  file=sys.stderr)
            return 1
        server.write_kubeconfig(args.kubeconfig)
    node = LocalNode(load_kubeconfig(args.kubeconfig), _node_config(args))
    try:
        try:
            await node.start()
        except (NetworkError, PermissionError) as exc:
            print(f"localcluster: cannot set up the node: {exc}", file=sys.stderr)
            return 1
        if server is not None:
            server.log_provider = node.agent.serve_logs
            server.exec_provider = node.agent
            server.portforward_provider = PodPorts(node.agent)
            print(f"localcluster: API server on {server.url}; kubeconfig {args.kubeconfig}", flush=True)
        print(f"localcluster: node {args.node_name} (pods {args.pod_cidr}, services {args.service_cidr}); "
              "Ctrl-C stops and cleans up", flush=True)
        waiter = asyncio.create_task(node.wait())
        signals = asyncio.create_task(_until_signal())
        await asyncio.wait({waiter, signals}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, signals):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await node.stop()
        if server is not None:
            await server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.localcluster",
                                     description="A local stand-in for a Kubernetes cluster.")
    sub = parser.add_subparsers(dest="command", required=True)
    api = sub.add_parser("apiserver", help="run only the embedded API server (with its controllers)")
    api.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    api.add_argument("--port", type=int, default=6443, help="port to listen on; 0 picks a free one")
    api.add_argument("--kubeconfig", required=True, help="where to write a kubeconfig for kubectl")
    api.add_argument("--service-cidr", default="10.96.0.0/16", help="ClusterIP range (default 10.96.0.0/16)")
    api.add_argument("--simulate-node", action="store_true",
                     help="a simulated node: pods turn Running/Ready at once, no processes run")
    up = sub.add_parser("up", help="API server, controllers, node agent and service proxy (needs root)")
    up.add_argument("--kubeconfig", required=True, help="where to write a kubeconfig for kubectl")
    up.add_argument("--port", type=int, default=6443, help="API server port on 127.0.0.1; 0 picks a free one")
    for p in (api, up):
        p.add_argument("--state-dir", default="", help="where the CA, certificates and signing key live "
                                                       "(default: <kubeconfig>.state next to the kubeconfig)")
        p.add_argument("--plain-http", action="store_true",
                       help="serve plain HTTP without authentication (tests and benchmarks only)")
        p.add_argument("--extra-san", action="append", default=[], metavar="NAME_OR_IP",
                       help="one more name or address for the serving certificate (repeatable)")
    node = sub.add_parser("node", help="only the node agent and service proxy, for an existing API server "
                                       "(needs root)")
    node.add_argument("--kubeconfig", required=True, help="kubeconfig of the API server to serve")
    for p in (up, node):
        p.add_argument("--pod-cidr", default="10.244.0.0/16", help="pod addresses (default 10.244.0.0/16)")
        p.add_argument("--service-cidr", default="10.96.0.0/16", help="ClusterIP range (default 10.96.0.0/16)")
        p.add_argument("--node-name", default="localcluster-node", help="the Node's name")
        p.add_argument("--prefix", default="lcn", help="prefix of every namespace, link and directory made "
                                                       "(default lcn; one node per prefix)")
        p.add_argument("--lock-wait", type=float, default=0.0, metavar="SECONDS",
                       help="wait this long for another node with the same prefix to stop (default 0)")
    args = parser.parse_args(argv)
    if args.command == "apiserver":
        return asyncio.run(_serve_apiserver(args))
    if args.command in ("up", "node"):
        return asyncio.run(_run_node(args, with_apiserver=args.command == "up"))
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
