"""``rayservice run`` for the leader-election tests: the same ``rayservice.cli.main`` and flags (short leases come
from ``--leader-election-lease-duration`` and friends), except that every API request's user agent ends with
``pid/<pid>``, so the API server's request log tells two operator processes apart. The CLI has no flag for the
user agent: a real deployment tells replicas apart by pod, not by process.
"""

from __future__ import annotations

import os
import sys

import rayservice.cli as cli
import rayservice.kube.client as kube_client


def main() -> int:
    setattr(kube_client, "USER_AGENT", f"{kube_client.USER_AGENT} pid/{os.getpid()}")  # noqa: B010
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
