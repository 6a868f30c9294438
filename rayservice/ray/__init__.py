"""Talking to Ray: the dashboard's Serve REST API and reading what it answers.

- ``dashboard``: ``DashboardClient`` (the protocol reconcilers depend on; tests pass a fake),
  ``HttpDashboardClient`` (aiohttp, 2 s timeouts, no retries), ``dashboard_url``.
- ``errors``: ``DashboardError`` -> ``DashboardUnavailable`` (no answer) | ``DashboardRejected`` (an error
  answer, with status and body).
- ``serve_status``: pure: per-application and per-deployment status values, ``all_running``,
  ``is_converging``, and ``serve_config_differs`` (does the desired config still need a PUT?).
- ``serve_inflight``: ``InFlightReader``, what a client offers that can count the requests the Serve proxies
  have in flight (``HttpDashboardClient.ongoing_requests``: Ray's metrics, found through the dashboard).

Import from here, not from the modules.
"""

from rayservice.ray.dashboard import (
    DASHBOARD_PORT,
    DashboardClient,
    DashboardClients,
    HttpDashboardClient,
    dashboard_url,
)
from rayservice.ray.errors import DashboardError, DashboardRejected, DashboardUnavailable
from rayservice.ray.serve_inflight import InFlightReader
from rayservice.ray.serve_status import (
    ServeAppStatus,
    ServeDeploymentStatus,
    all_running,
    as_status_field,
    compute_application_statuses,
    is_converging,
    observed_applications,
    serve_config_differs,
)

__all__ = [
    "DASHBOARD_PORT",
    "DashboardClient",
    "DashboardClients",
    "DashboardError",
    "DashboardRejected",
    "DashboardUnavailable",
    "HttpDashboardClient",
    "InFlightReader",
    "ServeAppStatus",
    "ServeDeploymentStatus",
    "all_running",
    "as_status_field",
    "compute_application_statuses",
    "dashboard_url",
    "is_converging",
    "observed_applications",
    "serve_config_differs",
]
