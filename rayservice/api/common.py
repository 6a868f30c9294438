"""What the RayService and RayCluster models share: base classes, Kubernetes times, conditions, metadata.

Guarantees:
1. ``SpecModel`` subclasses reject unknown fields (as the API server's strict field validation does), accept
   both the camelCase YAML name and the snake_case Python name of every field, and are immutable.
2. ``StatusModel`` subclasses ignore unknown fields, so a status written by another version of the operator
   never stops a reconcile; they are immutable too.
3. ``to_api()`` renders a model as the JSON-ready dict the API server takes: camelCase keys, no ``None``
   values, defaults filled in (the same defaults the CRD applies), times as ``YYYY-MM-DDTHH:MM:SSZ``.
   ``model_validate(obj.to_api())`` equals ``obj``.
4. ``KubeTime`` holds an aware UTC datetime at one-second precision, as ``metav1.Time`` does; a time without a
   zone is rejected rather than guessed.
5. ``Condition`` is ``metav1.Condition``: ``type`` and ``status`` (True, False or Unknown) are required.
6. ``ObjectMeta`` reads the metadata fields the operator uses and keeps every other one (``managedFields``,
   ...) untouched, so a parsed object renders back as it was read.

Not guaranteed: semantic validation (one serve form, parsable serve config, name lengths) beyond what a field's
type states; that belongs to the reconcilers.

Pure: no I/O; values in, values out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.config import JsonDict

__all__ = [
    "API_VERSION_V1",
    "API_VERSION_V1ALPHA1",
    "GROUP",
    "INT32_MAX",
    "INT64",
    "LIST_MAP_BY_TYPE",
    "STORAGE_VERSION",
    "VERSIONS",
    "Condition",
    "ConditionStatus",
    "KubeTime",
    "ObjectMeta",
    "SpecModel",
    "StatusModel",
    "format_kube_time",
]

GROUP: Final = "ray.io"
STORAGE_VERSION: Final = "v1"
VERSIONS: Final = ("v1", "v1alpha1")
"""Every served version, storage version first; they share one schema (conversion strategy None)."""
API_VERSION_V1: Final = f"{GROUP}/v1"
API_VERSION_V1ALPHA1: Final = f"{GROUP}/v1alpha1"

INT32_MAX: Final = 2**31 - 1
INT64: Final[JsonDict] = {"format": "int64"}
"""``json_schema_extra`` for integer fields that are 64-bit in Kubernetes (generations, byte counts)."""
LIST_MAP_BY_TYPE: Final[JsonDict] = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}
"""``json_schema_extra`` for condition lists: one entry per ``type``."""


class SpecModel(BaseModel):
    """Base of every spec model: strict about unknown fields, immutable, camelCase on the wire."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True)

    def to_api(self) -> dict[str, Any]:
        """The JSON-ready dict the API server takes (guarantee 3)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class StatusModel(BaseModel):
    """Base of every status model: tolerant of unknown fields, immutable, camelCase on the wire."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, use_attribute_docstrings=True)

    def to_api(self) -> dict[str, Any]:
        """The JSON-ready dict the API server takes (guarantee 3)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _utc_seconds(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a Kubernetes time needs a time zone (RFC 3339, e.g. 2022-07-18T21:51:37Z)")
    return value.astimezone(UTC).replace(microsecond=0)


def format_kube_time(value: datetime) -> str:
    """``value`` as Kubernetes writes a ``metav1.Time``: UTC, whole seconds, ``Z`` suffix."""
    return _utc_seconds(value).strftime("%Y-%m-%dT%H:%M:%SZ")


KubeTime = Annotated[
    datetime,
    AfterValidator(_utc_seconds),
    PlainSerializer(format_kube_time, return_type=str, when_used="json"),
]
"""A ``metav1.Time``: aware, UTC, whole seconds (guarantee 4); a ``date-time`` string in the CRD."""

ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(StatusModel):
    """One observation of an object's state, as ``metav1.Condition``."""

    type: str
    """The condition's type, e.g. ``Ready``; unique within the list."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: str = ""
    """A CamelCase word for the last transition, e.g. ``ValidationFailed``."""
    message: str = ""
    """A human-readable explanation of the last transition."""
    observed_generation: int | None = Field(None, alias="observedGeneration", ge=0, json_schema_extra=INT64)
    """The ``metadata.generation`` the condition was computed from."""
    last_transition_time: KubeTime | None = Field(None, alias="lastTransitionTime")
    """When ``status`` last changed."""


class ObjectMeta(BaseModel):
    """The part of ``metav1.ObjectMeta`` the operator reads; every other field is kept as it came."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, use_attribute_docstrings=True)

    name: str = ""
    generate_name: str | None = Field(None, alias="generateName")
    namespace: str = ""
    uid: str | None = None
    resource_version: str | None = Field(None, alias="resourceVersion")
    generation: int | None = None
    creation_timestamp: KubeTime | None = Field(None, alias="creationTimestamp")
    deletion_timestamp: KubeTime | None = Field(None, alias="deletionTimestamp")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    owner_references: list[dict[str, Any]] = Field(default_factory=list, alias="ownerReferences")
    finalizers: list[str] = Field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        """The JSON-ready dict the API server takes, without empty collections the input did not have."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)
