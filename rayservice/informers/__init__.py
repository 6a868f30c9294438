"""Informers: list-then-watch caches of raw objects, their indexes, and event -> key handlers.

Import from ``rayservice.informers``, never from its modules. Nothing here imports the work queue:
handlers receive an ``enqueue`` function.
"""

from rayservice.informers.compact import MAX_SHARED_LENGTH, share_strings
from rayservice.informers.handlers import (
    Enqueue,
    EventHandlers,
    KeyFunc,
    KeyMapper,
    controller_owner,
    enqueue_by_label,
    enqueue_owner,
    enqueue_self,
)
from rayservice.informers.indexes import (
    CONTROLLER_UID_INDEX,
    NAMESPACE_INDEX,
    OWNER_UID_INDEX,
    IndexFunc,
    by_controller_uid,
    by_label,
    by_namespace,
    by_owner_uid,
)
from rayservice.informers.informer import DEFAULT_INDEXERS, Informer
from rayservice.informers.reflector import ListerWatcher, ListResult, Reflector, Transform, without_managed_fields
from rayservice.informers.store import Store, key_of, split_key
from rayservice.raw import RawObject

__all__ = [
    "CONTROLLER_UID_INDEX",
    "DEFAULT_INDEXERS",
    "MAX_SHARED_LENGTH",
    "NAMESPACE_INDEX",
    "OWNER_UID_INDEX",
    "Enqueue",
    "EventHandlers",
    "IndexFunc",
    "Informer",
    "KeyFunc",
    "KeyMapper",
    "ListResult",
    "ListerWatcher",
    "RawObject",
    "Reflector",
    "Store",
    "Transform",
    "by_controller_uid",
    "by_label",
    "by_namespace",
    "by_owner_uid",
    "controller_owner",
    "enqueue_by_label",
    "enqueue_owner",
    "enqueue_self",
    "key_of",
    "share_strings",
    "split_key",
    "without_managed_fields",
]
