"""The embedded cluster's controllers, as kube-controller-manager runs them: garbage collector, namespaces,
CRD cleanup, EndpointSlices and the workload controllers (ReplicaSets, Deployments, Jobs). `Controllers` runs
them together (see `runner.py`).

They reach the cluster only through the storage layer (`storage.rest.Api` and its store), never over HTTP.
"""

from .runner import Controllers, run_controllers

__all__ = ["Controllers", "run_controllers"]
