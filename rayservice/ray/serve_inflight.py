"""How many requests a Ray cluster's Serve proxies have in flight, as Ray 2.60 makes it observable from outside.

Each Serve proxy keeps a gauge of its ongoing requests (``ray_serve_num_ongoing_http_requests`` and
``..._grpc_requests``, per node) and pushes it to its node's metrics agent every ``metrics_report_interval_ms``
(10 s by default); the agent serves it in the Prometheus text format on the node's metrics export port. The
head's dashboard lists every node's metrics address at ``GET /api/prometheus/sd`` (Prometheus HTTP service
discovery). A reading is therefore up to one report interval old.

Guarantees:
1. ``metrics_targets`` returns the ``host:port`` targets of a service discovery answer, in order, without
   repeats; anything that is not the documented shape yields no target.
2. ``ongoing_requests`` sums every sample of the ongoing-request gauges in a Prometheus text exposition
   (HTTP and gRPC, every node and label set); a sample whose value does not parse, or is negative or NaN,
   counts as 0; other metrics and comments are ignored. No gauge at all is 0 (a proxy that never took a request
   has not set it).
3. ``InFlightReader`` is what a dashboard client offers when it can read them: ``ongoing_requests()`` gives the
   sum over the targets that answered, or ``None`` when there is nothing to read (the dashboard has no service
   discovery, lists no target, or no target answered); a dashboard that fails to answer raises.

Pure, except for the protocol, which its implementers fulfil with I/O.
"""

from __future__ import annotations

import math
from typing import Any, Final, Protocol, runtime_checkable

SERVICE_DISCOVERY_PATH: Final = "/api/prometheus/sd"
ONGOING_GAUGES: Final = ("ray_serve_num_ongoing_http_requests", "ray_serve_num_ongoing_grpc_requests")


@runtime_checkable
class InFlightReader(Protocol):
    """A dashboard client that can count the requests its cluster's Serve proxies have in flight."""

    async def ongoing_requests(self) -> int | None:
        """The sum of the proxies' ongoing-request gauges over every node that answered; ``None``: nothing to read."""
        ...


def metrics_targets(content: Any) -> list[str]:
    """Guarantee 1."""
    targets: list[str] = []
    if not isinstance(content, list):
        return targets
    for group in content:
        found = group.get("targets") if isinstance(group, dict) else None
        for target in found if isinstance(found, list) else ():
            if isinstance(target, str) and target and target not in targets:
                targets.append(target)
    return targets


def ongoing_requests(exposition: str) -> int:
    """Guarantee 2."""
    total = 0.0
    for line in exposition.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name_end = min((i for i in (line.find("{"), line.find(" ")) if i >= 0), default=-1)
        if name_end < 0 or line[:name_end] not in ONGOING_GAUGES:
            continue
        rest = line[line.rfind("}") + 1 :] if "{" in line[: name_end + 1] else line[name_end:]
        words = rest.split()
        try:
            value = float(words[0]) if words else 0.0
        except ValueError:
            value = 0.0
        if math.isfinite(value) and value > 0:
            total += value
    return round(total)
