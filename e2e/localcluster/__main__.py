"""Command line: `python -m e2e.localcluster apiserver --port PORT --kubeconfig PATH`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys


async def _serve_apiserver(args: argparse.Namespace) -> int:
    from .apiserver import LocalApiServer

    server = LocalApiServer(host=args.host, port=args.port, service_cidr=args.service_cidr,
                            simulate_node=args.simulate_node)
    try:
        await server.start()
    except OSError as exc:
        print(f"localcluster: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    server.write_kubeconfig(args.kubeconfig)
    print(f"localcluster: API server on {server.url}; kubeconfig {args.kubeconfig}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
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
    args = parser.parse_args(argv)
    if args.command == "apiserver":
        return asyncio.run(_serve_apiserver(args))
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
