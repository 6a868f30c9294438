"""The Serve PUT a pass plans for one cluster: ``decide_serve`` on the cluster as it was just read.

Guarantees:
1. ``serve_put`` is ``None`` without a target, a Serve answer, a config, or a Ready head pod (its dashboard may
   answer while the pod is not, or no longer, Ready); else the PUT ``decide_serve`` asks for, ``first`` when
   that config (by digest) was not PUT to that address before, ``serve_starting`` while its head just turned
   Ready, and a reason that says when the config is the last good one rather than the desired one (a
   ``target_capacity`` added to the desired config keeps it the desired one).

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rayservice.controller.rayservice.pass_values import Notes, Observed, ServePut
from rayservice.controller.rayservice.serve_diff import config_digest, decide_serve
from rayservice.controller.rayservice.serve_start import head_readiness, is_serve_starting


def serve_put(observed: Observed, target: str | None, config: Mapping[str, Any] | None, *,
              now: datetime) -> ServePut | None:
    """The PUT of ``config`` ``decide_serve`` asks for on the target cluster, as it was just read; ``None``: no PUT."""
    read = observed.ray.get(target) if target is not None else None
    if target is None or read is None or read.answer is None or config is None:
        return None
    readiness = head_readiness(observed.clusters.get(target) or {}, observed.pods.get(target, ()))
    if not readiness.ready:  # its dashboard answered, but the head pod is not (or no longer) Ready
        return None
    last = observed.notes.get(target, Notes()).last_put
    decision = decide_serve(config, read.apps, read.statuses, address=read.address, last=last, now_s=observed.now_s)
    if not decision.put:
        return None
    first = last is None or (last.address, last.digest) != (read.address, config_digest(config))
    desired = observed.check.config
    own = config is desired or (desired is not None and {k: v for k, v in config.items() if k != "target_capacity"}
                                == desired)
    reason = decision.reason if own else f"the last good config: {decision.reason}"
    return ServePut(target, read.address, config, reason, first, serve_starting=is_serve_starting(readiness, now))
