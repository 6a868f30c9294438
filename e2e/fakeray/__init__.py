"""A fake Ray 2.60 dashboard for tests and benchmarks: the Serve REST API of many clusters in one process.

- ``dashboard``: ``FakeRayDashboard``, the aiohttp server, per-address state, fault knobs, request counts.
- ``cluster``: ``ServeCluster``, one cluster's applications moving through Ray's statuses on a clock;
  ``Timings``.
- ``schema``: the PUT body schema (pydantic), Ray's 400 answers and ``deployed_app_config`` echo.

Run it alone with ``python -m e2e.fakeray --port 8265``.
"""

from .cluster import ServeCluster, Timings
from .dashboard import APPLICATIONS, HEALTH, FakeRayDashboard

__all__ = ["APPLICATIONS", "HEALTH", "FakeRayDashboard", "ServeCluster", "Timings"]
