"""Raw-object accessors for the RayService reconciler, shared with the RayCluster reconciler.

Guarantees:
1. Exactly the accessors of `rayservice.controller.rawobjects` (one implementation for both reconcilers).
"""

from __future__ import annotations

from rayservice.controller.rawobjects import (
    RawObject,
    annotations_of,
    controller_uid,
    find_condition,
    generation_of,
    is_controlled_by,
    is_deleting,
    labels_of,
    mapping,
    metadata,
    name_of,
    namespace_of,
    parse_time,
    sequence,
    spec_of,
    status_of,
    uid_of,
    whole_number,
)

__all__ = [
    "RawObject",
    "annotations_of",
    "controller_uid",
    "find_condition",
    "generation_of",
    "is_controlled_by",
    "is_deleting",
    "labels_of",
    "mapping",
    "metadata",
    "name_of",
    "namespace_of",
    "parse_time",
    "sequence",
    "spec_of",
    "status_of",
    "uid_of",
    "whole_number",
]
