"""Field selectors for list and watch, parsed and matched the way kube-apiserver does.

Guarantees:
1. Field selectors accept `=`, `==` and `!=` joined by commas (`\\,`, `\\=` and `\\\\` escape a value). A field
   outside `allowed` is a 400: `field label not supported: f` for custom resources and for the built-in kinds
   kube gives their own field-label check (Pod, Event, Secret, ...), otherwise
   `"f" is not a known field selector: only "metadata.name", "metadata.namespace"`.
2. A field missing from an object compares as "" (a boolean kube always sets compares as "false"); on an
   Event `source` means `source.component`.

Caller must: pass the kind's selectable field labels as `allowed` (kube's list for that kind).
Not guaranteed: set-based field selectors (kube has none).
Pure: no I/O, no shared state; any task may call anything here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from e2e.localcluster.apiserver import errors

# Kinds whose field labels kube-apiserver checks with a conversion function of their own (worded "field
# label not supported"); every other built-in goes through the generic metadata-only check.
_OWN_FIELD_LABEL_CHECK = frozenset({"Pod", "Node", "ReplicationController", "Event", "Namespace", "Secret",
                                    "Service", "ReplicaSet", "Job", "CertificateSigningRequest"})
# Old names a kind's field-label check rewrites to the current one.
_FIELD_LABEL_ALIASES: Mapping[str, Mapping[str, str]] = {"Pod": {"spec.host": "spec.nodeName"}}
# Where in the object a field label's value lives, when that is not the label itself.
_FIELD_PATHS: Mapping[str, Mapping[str, str]] = {"Event": {"source": "source.component"}}
# Booleans kube formats even when unset.
_FIELD_DEFAULTS: Mapping[str, Mapping[str, str]] = {"Pod": {"spec.hostNetwork": "false"},
                                                    "Node": {"spec.unschedulable": "false"}}


@dataclass(frozen=True)
class FieldRequirement:
    """`field` compared with `value`; `operator` is "=" (also for "==") or "!="."""

    field: str
    operator: str
    value: str
    path: str = ""
    default: str = ""

    def matches(self, obj: Mapping[str, Any]) -> bool:
        actual: Any = obj
        for part in (self.path or self.field).split("."):
            actual = actual.get(part) if isinstance(actual, Mapping) else None
        text = str(actual).lower() if isinstance(actual, bool) else (
            str(actual) if isinstance(actual, str | int | float) else self.default)
        return (text == self.value) == (self.operator == "=")

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{self.operator}{escaped}"


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_terms(text: str) -> list[str]:
    terms, start, escaped = [], 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    return [*terms, text[start:]] if text else []


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


class _FieldSelectorError(Exception):
    """A field selector problem worded as apimachinery words it; becomes a 400 at the public boundary."""


_ESCAPE = re.compile(r"\\(.?)|([,=])", re.DOTALL)


def _unescape(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match[2]:
            raise _FieldSelectorError(f"invalid field selector: unescaped character in value: {ord(match[2])}")
        if match[1] not in ("\\", ",", "="):
            raise _FieldSelectorError(f"invalid field selector: invalid escape sequence: \\{match[1]}")
        return match[1]

    return _ESCAPE.sub(one, value)


def parse_field_selector(text: str, allowed: Sequence[str], *, custom: bool, kind: str) -> FieldSelector:
    """Parse a `fieldSelector` query value for `kind`, accepting the field labels in `allowed`."""
    builtin = "" if custom else kind
    terms: list[tuple[str, str, str]] = []
    for part in sorted(_split_terms(text)):  # kube checks terms in this order, so the first error matches
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        try:
            terms.append((split[0], "!=" if split[1] == "!=" else "=", _unescape(split[2])))
        except _FieldSelectorError as exc:
            raise errors.bad_request(str(exc)) from None
    requirements = []
    for label, op, value in terms:
        label = _FIELD_LABEL_ALIASES.get(builtin, {}).get(label, label)
        if label not in allowed:
            if custom or kind in _OWN_FIELD_LABEL_CHECK:
                raise errors.bad_request(f"field label not supported: {label}")
            raise errors.bad_request(f"{json.dumps(label)} is not a known field selector: only "
                                     + ", ".join(json.dumps(a) for a in allowed))
        requirements.append(FieldRequirement(label, op, value, _FIELD_PATHS.get(builtin, {}).get(label, ""),
                                             _FIELD_DEFAULTS.get(builtin, {}).get(label, "")))
    return FieldSelector(tuple(sorted(requirements, key=str)))
