"""What both reconcilers share about Kubernetes objects: reading them, merging conditions, the Service patch,
the Service and status writes, and the interfaces they are given.

- ``access``: accessors over ``RawObject`` (pure), pod and cluster helpers, ``owner_reference``.
- ``conditions``: ``merge_conditions`` (pure), metav1's ``SetStatusCondition`` rule.
- ``service_diff``: ``service_patch`` and ``controlled_by_other`` (pure).
- ``writes``: ``ensure_service`` and ``write_status_if_changed`` (I/O).
- ``seams``: ``KubeWriter``, ``CacheReader``, ``EventEmitter``, ``WriteLog``.

Import from here, not from the modules.
"""

from rayservice.controller.objects.access import (
    age_key,
    annotations_of,
    belongs_to,
    controller_uid,
    find_condition,
    generation_of,
    group_name,
    group_of,
    is_controlled_by,
    is_deleting,
    is_finished,
    is_ready,
    is_running,
    is_suspended,
    labels_of,
    mapping,
    metadata,
    name_of,
    namespace_of,
    node_type_of,
    owner_reference,
    parse_time,
    phase_of,
    pick_head,
    ready_condition,
    sequence,
    spec_of,
    status_of,
    uid_of,
    whole_number,
    worker_groups,
)
from rayservice.controller.objects.conditions import merge_conditions
from rayservice.controller.objects.seams import CacheReader, EventEmitter, KubeWriter, WriteLog
from rayservice.controller.objects.service_diff import controlled_by_other, service_patch
from rayservice.controller.objects.writes import ServiceAction, ServiceWrite, ensure_service, write_status_if_changed
from rayservice.raw import RawObject

__all__ = [
    "CacheReader",
    "EventEmitter",
    "KubeWriter",
    "RawObject",
    "ServiceAction",
    "ServiceWrite",
    "WriteLog",
    "age_key",
    "annotations_of",
    "belongs_to",
    "controlled_by_other",
    "controller_uid",
    "ensure_service",
    "find_condition",
    "generation_of",
    "group_name",
    "group_of",
    "is_controlled_by",
    "is_deleting",
    "is_finished",
    "is_ready",
    "is_running",
    "is_suspended",
    "labels_of",
    "mapping",
    "merge_conditions",
    "metadata",
    "name_of",
    "namespace_of",
    "node_type_of",
    "owner_reference",
    "parse_time",
    "phase_of",
    "pick_head",
    "ready_condition",
    "sequence",
    "service_patch",
    "spec_of",
    "status_of",
    "uid_of",
    "whole_number",
    "worker_groups",
    "write_status_if_changed",
]
