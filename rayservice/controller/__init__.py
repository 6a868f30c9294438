"""The operator's controllers: the RayCluster and RayService reconcilers and what they share.

The machinery that runs them (worker loop, queue wiring, leader election, manager, health server) is the
Ray-agnostic ``rayservice.runtime``; this package is where Ray is known.

- ``raycluster``: the RayCluster reconciler (``raycluster.setup.raycluster_controller`` wires it).
- ``rayservice``: the RayService reconciler (``rayservice.setup.rayservice_controller`` wires it).
- ``caches``: the informer caches both share; ``events``: the event recorder; ``names``: names and hashes
  (pure); ``objects``: what both reconcilers share (accessors, conditions, the Service patch and writes).

Import the subpackages and modules by name; this package itself exports nothing.
"""

__all__: list[str] = []
