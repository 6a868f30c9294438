"""The command line: ``rayservice run`` wires the operator together and runs it until SIGTERM.

Guarantees:
1. ``--help`` documents every flag; a bad flag or value exits with status 2 and a one-line error.
2. Configuration that cannot load, an API server that cannot be reached (checked once before anything
   starts) or a metrics address that cannot be bound exits with status 1 and a one-line error.
3. SIGTERM or SIGINT stops the operator cleanly (queues drained, lease released) and exits 0; a second
   signal stops it at once.
4. Losing leadership exits with status 1 after every worker stopped, so Kubernetes restarts the pod. With
   ``--leader-elect`` the controllers' API client has a write gate (``elector.is_leader``, false from the
   renew deadline on): no write is sent unless this replica leads. Lease timings that cannot work together
   (renew deadline not shorter than the lease, retry period not shorter than the renew deadline / 1.2)
   exit with status 2 and a one-line error naming the flags.
5. This is the only module that reads environment variables and flags, installs signal handlers,
   creates the Prometheus registry and configures logging. ``RAYSERVICE_MEMORY_PROFILE=<file>`` (a debugging
   aid for benchmarks, off by default) traces allocations and writes the top ones to the file on SIGUSR1.
   ``ENABLE_GCS_FT_REDIS_CLEANUP=false`` (any case) turns off the Redis cleanup of GCS fault tolerant
   RayClusters, as in KubeRay.

Wiring: ``_wire_controllers`` builds the shared informer caches once (every informer goes to the manager)
and one ``EventRecorder``, and ``_controllers`` makes one controller per kind on them: RayCluster and
RayService. The RayService controller reaches Ray dashboards through one shared ``DashboardClients``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn

import prometheus_client
import structlog

from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.controller.caches import Caches, build_caches
from rayservice.controller.events import EventRecorder
from rayservice.controller.raycluster.setup import raycluster_controller
from rayservice.controller.rayservice.setup import rayservice_controller
from rayservice.kube import RAY_CLUSTERS, ApiError, KubeClient, KubeConfigError, KubeError, NotFound
from rayservice.logging import FORMATS, LEVELS, configure_logging
from rayservice.metrics import OperatorMetrics, new_registry
from rayservice.ray import DashboardClients
from rayservice.runtime import (
    CacheSyncTimeout,
    Controller,
    HealthServer,
    LeaderElectionConfig,
    LeaderElector,
    LeadershipLost,
    Manager,
    default_identity,
)

PROG: Final = "rayservice"
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
PREFLIGHT_TIMEOUT_S: Final = 10.0
LEASE_RETRY_JITTER: Final = 1.2  # LeaderElectionConfig: renew deadline > 1.2 x retry period (jittered retries)
SERVICE_ACCOUNT_NAMESPACE: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
MEMORY_PROFILE_ENV: Final = "RAYSERVICE_MEMORY_PROFILE"
"""Debugging aid (benchmarks): a file path; tracemalloc runs, and each SIGUSR1 writes its top allocations there."""
REDIS_CLEANUP_ENV: Final = "ENABLE_GCS_FT_REDIS_CLEANUP"
"""KubeRay's switch for the Redis cleanup of GCS fault tolerant RayClusters: only ``false`` turns it off."""

_log = structlog.get_logger(__name__)


class CliError(Exception):
    """A failure to report as one line and exit 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="A Kubernetes operator that runs Ray Serve applications.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    run = commands.add_parser(
        "run",
        help="run the operator",
        description="Run the operator until SIGTERM: it reconciles RayServices and RayClusters (ray.io/v1); "
        "the CRDs must be installed (kubectl apply -f manifests/crd).",
    )
    run.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig file to use (default: in-cluster configuration inside a pod, else $KUBECONFIG or "
        "~/.kube/config)",
    )
    run.add_argument(
        "--namespace",
        metavar="NS",
        action="append",
        type=_namespaces,
        help="watch only this namespace; repeat or separate with commas for several (default: all namespaces)",
    )
    run.add_argument(
        "--metrics-addr",
        metavar="[HOST]:PORT",
        default=":8080",
        type=_address,
        help="address of the /metrics, /healthz and /readyz server; port 0 picks a free one (default :8080, "
        "all interfaces)",
    )
    run.add_argument(
        "--leader-elect",
        action="store_true",
        help="elect a leader through a coordination.k8s.io Lease so that only one replica writes; a replica that "
        "loses the lease sends no further write and exits",
    )
    run.add_argument(
        "--leader-election-lease-duration",
        metavar="SECONDS",
        type=_positive_float,
        default=15.0,
        help="how long followers wait after the last renewal they saw before taking the lease (default 15)",
    )
    run.add_argument(
        "--leader-election-renew-deadline",
        metavar="SECONDS",
        type=_positive_float,
        default=10.0,
        help="how long the leader keeps trying to renew before it stops leading; shorter than the lease "
        "duration (default 10)",
    )
    run.add_argument(
        "--leader-election-retry-period",
        metavar="SECONDS",
        type=_positive_float,
        default=2.0,
        help="time between renewals and between attempts to take the lease; shorter than the renew deadline "
        "divided by 1.2 (retries are jittered by up to 20 %%) (default 2)",
    )
    run.add_argument(
        "--leader-election-namespace",
        metavar="NS",
        help="namespace of the Lease (default: $POD_NAMESPACE, else the pod's service account namespace, else default)",
    )
    run.add_argument(
        "--leader-election-id",
        metavar="NAME",
        default="rayservice-operator",
        help="name of the Lease (default rayservice-operator)",
    )
    run.add_argument(
        "--workers",
        metavar="N",
        type=_positive_int,
        default=16,
        help="concurrent reconciles per controller; one object is never reconciled twice at once (default 16: "
        "a reconcile mostly waits on the API server or a Ray dashboard, and a worker is one coroutine)",
    )
    run.add_argument(
        "--kube-api-qps",
        metavar="QPS",
        type=_positive_float,
        default=100.0,
        help="client-side limit on requests per second to the API server (default 100)",
    )
    run.add_argument(
        "--kube-api-burst",
        metavar="N",
        type=_positive_int,
        default=200,
        help="requests allowed at once above the QPS limit (default 200)",
    )
    run.add_argument(
        "--dashboard-port",
        metavar="PORT",
        type=_positive_int,
        help="port of every Ray head's dashboard (default: the head's dashboard-port, else 8265)",
    )
    run.add_argument(
        "--dashboard-token-file",
        metavar="PATH",
        help="file holding a bearer token sent to Ray dashboards (and nowhere else)",
    )
    run.add_argument("--log-format", choices=FORMATS, default="json", help="json lines (default) or console for humans")
    run.add_argument(
        "--log-level", choices=LEVELS, default="info", type=str.lower, help="minimum level logged (default info)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = _lease_timings_problem(args)
    if problem:
        parser.error(problem)
    configure_logging(args.log_format, args.log_level)
    _memory_profile_on_signal(os.environ.get(MEMORY_PROFILE_ENV))
    # The *_created series would only double what dashboards scrape.
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    try:
        return asyncio.run(_run(_settings(args)))
    except CliError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_FAILED


def _memory_profile_on_signal(path: str | None) -> None:
    """With ``RAYSERVICE_MEMORY_PROFILE=<file>``: trace allocations; SIGUSR1 writes the top files, lines, stacks."""
    if not path:
        return
    tracemalloc.start(8)

    def dump(signum: int, frame: object) -> None:
        del signum, frame
        snapshot = tracemalloc.take_snapshot()
        with open(path, "w") as out:
            for kind in ("filename", "lineno", "traceback"):
                stats = snapshot.statistics(kind)
                out.write(f"# by {kind}: {sum(s.size for s in stats) / 2**20:.1f} MiB traced\n")
                for stat in stats[:40 if kind != "traceback" else 12]:
                    where = "\n      ".join(stat.traceback.format()) if kind == "traceback" else str(stat.traceback)
                    out.write(f"{stat.size / 2**20:8.2f} MiB {stat.count:9d} {where}\n")

    signal.signal(signal.SIGUSR1, dump)


@dataclass(frozen=True, slots=True)
class _Settings:
    kubeconfig: str | None  # None: in-cluster configuration
    namespaces: list[str]
    metrics_host: str
    metrics_port: int
    workers: int
    election: LeaderElectionConfig | None
    qps: float = 100.0
    burst: int = 200
    dashboard_port: int | None = None
    dashboard_token: str | None = None
    redis_cleanup: bool = True  # ENABLE_GCS_FT_REDIS_CLEANUP, KubeRay's switch: only "false" turns it off


def _settings(args: argparse.Namespace) -> _Settings:
    """Flags and environment, read once, before anything starts."""
    kubeconfig: str | None = args.kubeconfig
    if kubeconfig is None and not os.environ.get("KUBERNETES_SERVICE_HOST"):
        kubeconfig = _default_kubeconfig()
    if kubeconfig is not None and not Path(kubeconfig).is_file():
        raise CliError(f"kubeconfig {kubeconfig} does not exist")
    election = None
    if args.leader_elect:
        namespace = args.leader_election_namespace or os.environ.get("POD_NAMESPACE") or _service_account_namespace()
        identity = default_identity(os.environ, socket.gethostname(), os.getpid())
        election = LeaderElectionConfig(
            namespace=namespace,
            identity=identity,
            name=args.leader_election_id,
            lease_duration_s=args.leader_election_lease_duration,
            renew_deadline_s=args.leader_election_renew_deadline,
            retry_period_s=args.leader_election_retry_period,
        )
    host, port = args.metrics_addr
    namespaces = list(dict.fromkeys(ns for group in args.namespace or [] for ns in group))
    token = None
    if args.dashboard_token_file:
        try:
            token = Path(args.dashboard_token_file).read_text().strip() or None
        except OSError as exc:
            raise CliError(f"cannot read the dashboard token file {args.dashboard_token_file}: "
                           f"{exc.strerror}") from None
    return _Settings(kubeconfig, namespaces, host, port, args.workers, election, args.kube_api_qps,
                     args.kube_api_burst, args.dashboard_port, token,
                     os.environ.get(REDIS_CLEANUP_ENV, "").lower() != "false")


# ---- run ------------------------------------------------------------------------------------------


async def _run(settings: _Settings) -> int:
    registry = new_registry()
    metrics = OperatorMetrics(registry)
    async with contextlib.AsyncExitStack() as stack:
        elector: LeaderElector | None = None
        # The write fence: with leader election, no write leaves once the renew deadline passed (or before
        # leading), even from a task step that was already scheduled when the loop stalled past it.
        gate = (lambda: elector is not None and elector.is_leader) if settings.election is not None else None
        client = await _client(settings.kubeconfig, metrics, qps=settings.qps, burst=settings.burst, write_gate=gate)
        stack.push_async_callback(client.close)
        await _preflight(client, settings.namespaces)
        if settings.election is not None:
            lease_client = await _client(settings.kubeconfig, metrics)  # renewals never queue behind reconciles
            stack.push_async_callback(lease_client.close)
            elector = LeaderElector(lease_client, settings.election, metrics=metrics)
        manager = Manager(elector=elector)
        health = HealthServer(
            registry=registry, ready=lambda: manager.is_ready, host=settings.metrics_host, port=settings.metrics_port
        )
        manager.add_server(health)
        dashboards = DashboardClients(token=settings.dashboard_token)
        stack.push_async_callback(dashboards.close)
        _wire_controllers(manager, client, settings, metrics, dashboards)
        address = f"{settings.metrics_host}:{settings.metrics_port}"
        return await _run_until_signalled(manager, address)
    raise AssertionError("unreachable")  # mypy: AsyncExitStack may swallow exceptions


def _wire_controllers(
    manager: Manager, client: KubeClient, settings: _Settings, metrics: OperatorMetrics, dashboards: DashboardClients
) -> None:
    """The shared caches (built once; the manager runs every informer), then every controller on them."""
    caches = build_caches(client, settings.namespaces, clock=SYSTEM_CLOCK)
    for informer in caches.informers:
        manager.add_informer(informer)
    events = EventRecorder(client, clock=SYSTEM_CLOCK)
    controllers = _controllers(
        client, caches, workers=settings.workers, clock=SYSTEM_CLOCK, rng=random.Random(), metrics=metrics,
        events=events, dashboards=dashboards, dashboard_port=settings.dashboard_port,
        redis_cleanup=settings.redis_cleanup,
    )
    for controller in controllers:
        manager.add(controller)


def _controllers(
    kube: KubeClient,
    caches: Caches,
    *,
    workers: int,
    clock: Clock,
    rng: random.Random,
    metrics: OperatorMetrics,
    events: EventRecorder,
    dashboards: DashboardClients,
    dashboard_port: int | None = None,
    redis_cleanup: bool = True,
) -> list[Controller]:
    """One controller per kind, sharing the client, caches, clock, randomness, metrics and event recorder."""
    return [
        raycluster_controller(kube, caches, workers=workers, clock=clock, rng=rng, metrics=metrics, events=events,
                              redis_cleanup=redis_cleanup),
        rayservice_controller(kube, caches, dashboard_factory=dashboards, workers=workers, clock=clock, rng=rng,
                              metrics=metrics, events=events, dashboard_port=dashboard_port),
    ]


async def _run_until_signalled(manager: Manager, metrics_address: str) -> int:
    loop = asyncio.get_running_loop()
    run = asyncio.current_task()
    signals = 0

    def on_signal(signum: int) -> None:
        nonlocal signals
        signals += 1
        _log.info("signal_received", signal=signal.Signals(signum).name, count=signals)
        if signals == 1:
            manager.stop()
        elif run is not None:
            run.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await manager.run()
    except asyncio.CancelledError:
        if signals < 2:
            raise
        raise CliError("stopped at once by a second signal, without draining the queues") from None
    except LeadershipLost as exc:
        raise CliError(f"{exc}; exiting so that another replica takes over") from None
    except CacheSyncTimeout as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:  # only the health server binds sockets; kube errors are not OSErrors
        raise CliError(f"cannot serve metrics and probes on {metrics_address}: {exc.strerror or exc}") from None
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return EXIT_OK


async def _client(kubeconfig: str | None, metrics: OperatorMetrics, *, qps: float = 100.0,
                  burst: int = 200, write_gate: Callable[[], bool] | None = None) -> KubeClient:
    options: dict[str, Any] = {"on_request": metrics.on_request, "qps": qps, "burst": burst, "write_gate": write_gate}
    try:
        if kubeconfig is None:
            return KubeClient.in_cluster(**options)
        return await KubeClient.from_kubeconfig(kubeconfig, **options)
    except KubeConfigError as exc:
        raise CliError(f"cannot load the Kubernetes configuration: {exc}") from None


async def _preflight(client: KubeClient, namespaces: list[str]) -> None:
    """One read the controllers need anyway, so that a wrong server, missing CRDs or missing access fail fast."""
    try:
        async with asyncio.timeout(PREFLIGHT_TIMEOUT_S):
            await client.list(RAY_CLUSTERS, namespace=namespaces[0] if namespaces else None, limit=1)
    except TimeoutError:
        raise CliError(f"the Kubernetes API server did not answer within {PREFLIGHT_TIMEOUT_S:g} s") from None
    except NotFound:
        raise CliError(
            f"the API server does not serve {RAY_CLUSTERS.api_version} RayClusters: install the CRDs "
            "(kubectl apply -f manifests/crd)"
        ) from None
    except ApiError as exc:
        raise CliError(f"the Kubernetes API server refused to list RayClusters: {exc}") from None
    except KubeError as exc:
        raise CliError(f"cannot reach the Kubernetes API server: {exc}") from None


def _service_account_namespace() -> str:
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def _default_kubeconfig() -> str:
    configured = os.environ.get("KUBECONFIG", "")
    first = configured.split(os.pathsep)[0] if configured else ""
    return first or str(Path.home() / ".kube" / "config")


# ---- flag types -----------------------------------------------------------------------------------


def _lease_timings_problem(args: argparse.Namespace) -> str | None:
    """Why the lease timings cannot work together (``LeaderElectionConfig``'s rules, in flag names), or None."""
    lease = args.leader_election_lease_duration
    renew = args.leader_election_renew_deadline
    retry = args.leader_election_retry_period
    if renew >= lease:
        return (f"--leader-election-renew-deadline ({renew:g} s) must be shorter than "
                f"--leader-election-lease-duration ({lease:g} s)")
    if renew <= LEASE_RETRY_JITTER * retry:
        return (f"--leader-election-retry-period ({retry:g} s) must be shorter than "
                f"--leader-election-renew-deadline ({renew:g} s) divided by {LEASE_RETRY_JITTER:g}")
    return None


def _namespaces(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("a namespace name is required")
    return names


def _address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not [HOST]:PORT (e.g. :8080 or 127.0.0.1:8080)")
    return host.strip("[]"), int(port)


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return number


def _one_line(text: str) -> str:
    return " ".join(text.split())
