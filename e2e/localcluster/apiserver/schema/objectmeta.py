"""ObjectMeta rules shared by every kind: known fields, name/label/annotation validation, kube's wording.

Guarantees:
1. `validate_object_meta` reports what kube-apiserver's ValidateObjectMeta reports, in its order (generateName,
   name, namespace, generation, labels, annotations, ownerReferences, finalizers), with its field paths and
   messages (`metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of ...`).
2. A name is required unless generateName is set; the name rule follows the kind (DNS-1123 subdomain for most,
   DNS-1123 label for Namespaces, DNS-1035 label for Services, path segment for RBAC kinds).
3. Every field `unknown_meta_fields` reports is dropped by `coerce_object_meta`, which also drops empty values
   as a round trip through Go's ObjectMeta does.
4. Values in messages are rendered like Go's field errors: strings quoted, numbers bare, objects as JSON.

Not guaranteed: validation of managedFields contents or of ownerReference API versions against served kinds.

Pure and synchronous: any task may call any function here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from e2e.localcluster.apiserver.errors import Cause

OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
})
OWNER_REFERENCE_FIELDS = frozenset({"apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"})
MANAGED_FIELDS_ENTRY_FIELDS = frozenset({
    "manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1", "subresource",
})
TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * 1024

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"

_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
                          "or '.', and must start and end with an alphanumeric character")
_DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                      "must start and end with an alphanumeric character")
_DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                      "alphabetic character, and end with an alphanumeric character")
_QUALIFIED_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                       "alphanumeric character")
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                    "'.', and must start and end with an alphanumeric character")

_NAME_RULES: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): "label",
    ("v1", "Service"): "dns1035",
    ("rbac.authorization.k8s.io/v1", "Role"): "path",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "path",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "path",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "path",
}


# ---- Go-style rendering -------------------------------------------------------------------------------


def go_float(value: float) -> str:
    """Go's %v for a float64: shortest digits, exponent form when the exponent is < -4 or >= 6 (1e+06)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    dec = Decimal(repr(value)).normalize()
    sign, digit_tuple, exponent = dec.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(str(d) for d in digit_tuple)
    exp10 = len(digits) + exponent - 1
    text = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{text}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    return text + format(abs(dec), "f")


def go_value(value: Any) -> str:
    """A bad value the way kube's field errors print it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def field_invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, "FieldValueInvalid", f"Invalid value: {go_value(value)}: {detail}")


def field_required(path: str, detail: str = "") -> Cause:
    return Cause(path, "FieldValueRequired", "Required value" + (f": {detail}" if detail else ""))


def field_not_supported(path: str, value: Any, supported: list[str]) -> Cause:
    quoted = ", ".join(json.dumps(s, ensure_ascii=False) for s in supported)
    return Cause(path, "FieldValueNotSupported", f"Unsupported value: {go_value(value)}: supported values: {quoted}")


def field_forbidden(path: str, detail: str) -> Cause:
    return Cause(path, "FieldValueForbidden", f"Forbidden: {detail}")


def field_too_long(path: str, max_length: int) -> Cause:
    unit = "byte" if max_length == 1 else "bytes"
    return Cause(path, "FieldValueTooLong", f"Too long: may not be more than {max_length} {unit}")


def field_duplicate(path: str, value: Any) -> Cause:
    return Cause(path, "FieldValueDuplicate", f"Duplicate value: {go_value(value)}")


# ---- name rules (k8s.io/apimachinery/pkg/util/validation) ----------------------------------------------


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def _max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def _full(fmt: str) -> re.Pattern[str]:
    return re.compile(f"^(?:{fmt})$")


_DNS1123_LABEL_RE = _full(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = _full(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = _full(_DNS1035_LABEL_FMT)
_QUALIFIED_NAME_RE = _full(_QUALIFIED_NAME_FMT)
_LABEL_VALUE_RE = _full(_LABEL_VALUE_FMT)


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(_max_len_error(253))
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _DNS1123_LABEL_RE.match(value):
        errs.append(_regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _DNS1035_LABEL_RE.match(value):
        errs.append(_regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_path_segment_name(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def is_qualified_name(value: str) -> list[str]:
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
        errs = ["prefix part " + e for e in is_dns1123_subdomain(prefix)]
        if errs:
            return errs
    else:
        return ["a qualified name " + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name",
                                                   "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        return ["name part must be non-empty"]
    errs = []
    if len(name) > 63:
        errs.append("name part " + _max_len_error(63))
    if not _QUALIFIED_NAME_RE.match(name):
        errs.append("name part " + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name",
                                                "123-abc"))
    return errs


def is_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _name_errors(rule: str, name: str, prefix: bool) -> list[str]:
    if prefix and rule != "path" and len(name) > 1 and name.endswith("-"):
        name = name[:-2] + "a"  # kube's maskTrailingDash: a generateName may end in '-', the suffix follows
    if rule == "label":
        return is_dns1123_label(name)
    if rule == "dns1035":
        return is_dns1035_label(name)
    if rule == "path":
        return is_path_segment_name(name)
    return is_dns1123_subdomain(name)


# ---- ObjectMeta -----------------------------------------------------------------------------------------


def name_rule_for(api_version: str, kind: str) -> str:
    """'subdomain' (most kinds), 'label' (Namespace), 'dns1035' (Service) or 'path' (RBAC kinds)."""
    return _NAME_RULES.get((api_version, kind), "subdomain")


def validate_object_meta(obj: Mapping[str, Any], namespaced: bool, *, name_rule: str | None = None) -> list[Cause]:
    """kube's ValidateObjectMeta for `obj["metadata"]` (see the module guarantees)."""
    md = obj.get("metadata")
    if not isinstance(md, Mapping):
        return [field_required("metadata.name", "name or generateName is required")]
    rule = name_rule or name_rule_for(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    causes: list[Cause] = []
    generate_name = md.get("generateName") or ""
    name = md.get("name") or ""
    if generate_name:
        causes += [field_invalid("metadata.generateName", generate_name, m)
                   for m in _name_errors(rule, str(generate_name), True)]
    if not name:
        if not generate_name:
            causes.append(field_required("metadata.name", "name or generateName is required"))
    else:
        causes += [field_invalid("metadata.name", name, m) for m in _name_errors(rule, str(name), False)]
    namespace = md.get("namespace") or ""
    if namespaced:
        if not namespace:
            causes.append(field_required("metadata.namespace"))
        else:
            causes += [field_invalid("metadata.namespace", namespace, m) for m in is_dns1123_label(str(namespace))]
    elif namespace:
        causes.append(field_forbidden("metadata.namespace", "not allowed on this type"))
    generation = md.get("generation")
    if isinstance(generation, int) and generation < 0:
        causes.append(field_invalid("metadata.generation", generation, "must be greater than or equal to 0"))
    causes += _validate_labels(md.get("labels"))
    causes += _validate_annotations(md.get("annotations"))
    causes += _validate_owner_references(md.get("ownerReferences"))
    causes += _validate_finalizers(md.get("finalizers"))
    return causes


def _validate_labels(labels: Any) -> list[Cause]:
    if not isinstance(labels, Mapping):
        return []
    causes = []
    for key in sorted(labels):
        causes += [field_invalid("metadata.labels", key, m) for m in is_qualified_name(str(key))]
        value = labels[key]
        if isinstance(value, str):
            causes += [field_invalid("metadata.labels", value, m) for m in is_label_value(value)]
    return causes


def _validate_annotations(annotations: Any) -> list[Cause]:
    if not isinstance(annotations, Mapping):
        return []
    causes = []
    size = 0
    for key in sorted(annotations):
        causes += [field_invalid("metadata.annotations", key, m) for m in is_qualified_name(str(key).lower())]
        value = annotations[key]
        size += len(str(key).encode()) + (len(value.encode()) if isinstance(value, str) else 0)
    if size > TOTAL_ANNOTATION_SIZE_LIMIT_B:
        causes.append(field_too_long("metadata.annotations", TOTAL_ANNOTATION_SIZE_LIMIT_B))
    return causes


def _validate_owner_references(refs: Any) -> list[Cause]:
    if not isinstance(refs, list):
        return []
    path = "metadata.ownerReferences"
    causes = []
    controller = ""
    for ref in refs:
        if not isinstance(ref, Mapping):
            continue
        api_version = str(ref.get("apiVersion") or "")
        if not api_version.rpartition("/")[2]:
            causes.append(field_invalid(f"{path}.apiVersion", api_version, "version must not be empty"))
        for key in ("kind", "name", "uid"):
            if not ref.get(key):
                causes.append(field_invalid(f"{path}.{key}", ref.get(key) or "", "must not be empty"))
        if ref.get("controller") is True:
            this = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if controller:
                causes.append(field_invalid(path, refs, "Only one reference can have Controller set to true. Found "
                                                        f'"true" in references for {controller} and {this}'))
            else:
                controller = this
    return causes


def _validate_finalizers(finalizers: Any) -> list[Cause]:
    if not isinstance(finalizers, list):
        return []
    causes = []
    for value in finalizers:
        if isinstance(value, str):
            causes += [field_invalid("metadata.finalizers", value, m) for m in is_qualified_name(value)]
    return causes


# ---- unknown fields and coercion ------------------------------------------------------------------------


def unknown_meta_fields(md: Any, prefix: str = "metadata") -> list[str]:
    """Paths of fields ObjectMeta does not have, sorted as kube's strict decoder reports them."""
    if not isinstance(md, Mapping):
        return []
    paths = [f"{prefix}.{k}" for k in md if k not in OBJECT_META_FIELDS]
    for key, known in (("ownerReferences", OWNER_REFERENCE_FIELDS), ("managedFields", MANAGED_FIELDS_ENTRY_FIELDS)):
        entries = md.get(key)
        if isinstance(entries, list):
            for i, entry in enumerate(entries):
                if isinstance(entry, Mapping):
                    paths += [f"{prefix}.{key}[{i}].{k}" for k in entry if k not in known]
    return sorted(paths)


def coerce_object_meta(md: Any) -> dict[str, Any]:
    """ObjectMeta after a round trip through its Go type: unknown fields and empty values dropped."""
    if not isinstance(md, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in md.items():
        if key not in OBJECT_META_FIELDS or value is None or value in ("", {}, []):
            continue
        if key == "generation" and value == 0:
            continue
        if key == "ownerReferences" and isinstance(value, list):
            value = [{k: v for k, v in r.items() if k in OWNER_REFERENCE_FIELDS} if isinstance(r, Mapping) else r
                     for r in value]
        elif key == "managedFields" and isinstance(value, list):
            value = [{k: v for k, v in e.items() if k in MANAGED_FIELDS_ENTRY_FIELDS}
                     if isinstance(e, Mapping) else e for e in value]
        out[key] = value
    return out
