"""Command line: ``python -m e2e.fakeray --port 8265 [--host 0.0.0.0] [--deploy-s 8] ...``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .cluster import Timings
from .dashboard import FakeRayDashboard


async def _serve(args: argparse.Namespace) -> int:
    timings = Timings(
        not_started_s=args.not_started_s,
        deploy_s=args.deploy_s,
        in_place_s=args.in_place_s,
        restart_s=args.restart_s,
        delete_s=args.delete_s,
    )
    fake = FakeRayDashboard(timings=timings, token=args.token, by_host_header=args.by_host_header)
    try:
        await fake.start(args.host, args.port)
    except OSError as exc:
        print(f"fakeray: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"fakeray: Ray dashboard on http://{args.host}:{fake.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.fakeray", description="A fake Ray 2.60 dashboard.")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 answers every loopback address (one cluster each)",
    )
    parser.add_argument("--port", type=int, default=8265, help="port to listen on; 0 picks a free one")
    parser.add_argument("--token", default=None, help="require this bearer token on the Serve API")
    parser.add_argument(
        "--by-host-header",
        action="store_true",
        help="tell clusters apart by the Host header instead of the address reached",
    )
    defaults = Timings()
    parser.add_argument("--not-started-s", type=float, default=defaults.not_started_s)
    parser.add_argument("--deploy-s", type=float, default=defaults.deploy_s, help="PUT -> RUNNING for a new app")
    parser.add_argument("--in-place-s", type=float, default=defaults.in_place_s, help="a user_config change")
    parser.add_argument("--restart-s", type=float, default=defaults.restart_s, help="an import_path change")
    parser.add_argument("--delete-s", type=float, default=defaults.delete_s)
    return asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
