"""``rayservice run`` for the leader-election tests: the same ``rayservice.cli.main`` and flags, with two test
settings the CLI has no flags for, taken from the environment:

- ``RELIABILITY_LEASE=duration,renew_deadline,retry`` (seconds) replaces the 15 s / 10 s / 2 s defaults, so a
  failover takes seconds instead of a quarter of a minute;
- every API request's user agent ends with ``pid/<pid>``, so the API server's request log tells two operator
  processes apart.
"""

from __future__ import annotations

import functools
import os
import sys

import rayservice.cli as cli
import rayservice.kube.client as kube_client
from rayservice.controller import LeaderElectionConfig


def main() -> int:
    setattr(kube_client, "USER_AGENT", f"{kube_client.USER_AGENT} pid/{os.getpid()}")  # noqa: B010
    lease = os.environ.get("RELIABILITY_LEASE")
    if lease:
        duration, deadline, retry = (float(part) for part in lease.split(","))
        short = functools.partial(
            LeaderElectionConfig, lease_duration_s=duration, renew_deadline_s=deadline, retry_period_s=retry
        )
        setattr(cli, "LeaderElectionConfig", short)  # noqa: B010
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
