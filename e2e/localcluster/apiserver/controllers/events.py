"""Events the workload controllers record about their objects, in core/v1 form as kubectl describe shows them.

Guarantees:
1. `record_event` creates one Event named `<object>.<16 hex>` in the object's namespace, with involvedObject
   (kind, namespace, name, uid, apiVersion, resourceVersion), reason, message, type, source and reporting
   component, count 1 and first/last timestamps `now`.
2. It never raises: an event that cannot be written (a terminating namespace, say) is dropped, as a
   controller's event broadcaster drops it.
"""

from __future__ import annotations

import random

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.storage.objects import meta
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Obj


def record_event(api: Api, obj: Obj, *, reason: str, message: str, component: str, rng: random.Random,
                 now: str, event_type: str = "Normal") -> None:
    rt = api.registry.lookup("", "v1", "events")
    if rt is None:
        return
    m = meta(obj)
    body: Obj = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{m['name']}.{rng.getrandbits(64):016x}", "namespace": m.get("namespace")},
        "involvedObject": {"kind": obj.get("kind"), "namespace": m.get("namespace"), "name": m.get("name"),
                           "uid": m.get("uid"), "apiVersion": obj.get("apiVersion"),
                           "resourceVersion": m.get("resourceVersion")},
        "reason": reason, "message": message, "source": {"component": component},
        "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": event_type,
        "reportingComponent": component, "reportingInstance": ""}
    try:
        api.create(rt, str(m.get("namespace") or "default"), body)
    except ApiError:
        pass  # events are best effort
