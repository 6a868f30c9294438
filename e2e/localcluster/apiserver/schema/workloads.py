"""What kube-apiserver does on create and update of Deployments, ReplicaSets and Jobs: defaults and validation.

Guarantees (kube v1.36 pkg/apis/apps and pkg/apis/batch: defaults, validation, strategies):
1. A Deployment gets replicas 1, strategy RollingUpdate with maxUnavailable and maxSurge 25%,
   revisionHistoryLimit 10 and progressDeadlineSeconds 600; a ReplicaSet gets replicas 1; a Job gets
   parallelism 1 (and completions 1 when both are unset), backoffLimit 6, completionMode NonIndexed, suspend
   false and podReplacementPolicy TerminatingOrFailed. Every template's pod spec gets the pod defaults.
2. A Job without `manualSelector: true` gets the selector `batch.kubernetes.io/controller-uid: <uid>` and its
   template the labels `batch.kubernetes.io/controller-uid`, `batch.kubernetes.io/job-name`, `controller-uid`
   and `job-name`; a selector given without manualSelector is 422 ``selector` not auto-generated`.
3. 422 Invalid, with kube's field paths and message shapes, for: a missing or empty selector, template labels
   the selector does not match, negative replicas/parallelism/completions/backoffLimit, a maxSurge or
   maxUnavailable that is neither an int nor a percentage, both 0, a rollingUpdate on a Recreate strategy, a
   template without containers, a Job restartPolicy other than OnFailure/Never, and a changed selector on update
   (`field is immutable`; a Job's template is immutable too, but for the labels and annotations kube allows).
4. On update the same defaults apply, so a PUT without them keeps them.

Not guaranteed: Go's `%#v` rendering of structured values in messages is approximated with JSON.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.errors import Cause
from e2e.localcluster.apiserver.storage.objects import meta
from e2e.localcluster.apiserver.storage.rest import KindHooks
from e2e.localcluster.apiserver.storage.selectors import label_selector_from_dict
from e2e.localcluster.apiserver.storage.store import Obj

DefaultPodSpec = Callable[[dict[str, Any]], None]
JOB_LABELS = ("batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name", "controller-uid", "job-name")


def register_workload_hooks(hooks: KindHooks, default_pod_spec: DefaultPodSpec) -> None:
    """Add the apps/v1 Deployment and ReplicaSet and batch/v1 Job hooks to `hooks`."""
    hooks.prepare_create[("apps", "deployments")] = lambda api, rt, d: _apps("Deployment", d, None, default_pod_spec)
    hooks.prepare_update[("apps", "deployments")] = lambda api, rt, old, new: _apps("Deployment", new, old,
                                                                                    default_pod_spec)
    hooks.prepare_create[("apps", "replicasets")] = lambda api, rt, rs: _apps("ReplicaSet", rs, None, default_pod_spec)
    hooks.prepare_update[("apps", "replicasets")] = lambda api, rt, old, new: _apps("ReplicaSet", new, old,
                                                                                    default_pod_spec)
    hooks.prepare_create[("batch", "jobs")] = lambda api, rt, job: _job(job, None, default_pod_spec)
    hooks.prepare_update[("batch", "jobs")] = lambda api, rt, old, new: _job(new, old, default_pod_spec)


def _show(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _template(obj: Obj, default_pod_spec: DefaultPodSpec, causes: list[Cause]) -> dict[str, Any]:
    template = obj["spec"].setdefault("template", {})
    pod_spec = template.setdefault("spec", {})
    if not pod_spec.get("containers"):
        causes.append(Cause("spec.template.spec.containers", "FieldValueRequired", "Required value"))
    default_pod_spec(pod_spec)
    return dict(template)


def _non_negative(obj: Obj, field: str, causes: list[Cause]) -> None:
    value = obj["spec"].get(field)
    if value is not None and (not isinstance(value, int) or value < 0):
        causes.append(Cause(f"spec.{field}", "FieldValueInvalid",
                            f"Invalid value: {_show(value)}: must be greater than or equal to 0"))


def _check_selector(kind: str, obj: Obj, template: dict[str, Any], causes: list[Cause]) -> None:
    selector = obj["spec"].get("selector")
    if not isinstance(selector, dict):
        causes.append(Cause("spec.selector", "FieldValueRequired", "Required value"))
        return
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        causes.append(Cause("spec.selector", "FieldValueInvalid",
                            f"Invalid value: {_show(selector)}: empty selector is invalid for {kind.lower()}"))
        return
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not label_selector_from_dict(selector).matches(labels):
        causes.append(Cause("spec.template.metadata.labels", "FieldValueInvalid",
                            f"Invalid value: {_show(labels)}: `selector` does not match template `labels`"))


def _immutable_selector(obj: Obj, old: Obj | None, causes: list[Cause]) -> None:
    if old is not None and (old.get("spec") or {}).get("selector") != obj["spec"].get("selector"):
        causes.append(Cause("spec.selector", "FieldValueInvalid",
                            f"Invalid value: {_show(obj['spec'].get('selector'))}: field is immutable"))


def _int_or_percent(value: Any, field: str, causes: list[Cause]) -> int | None:
    """The value's number for the both-zero check; a cause for anything kube's IntOrString rejects."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            causes.append(Cause(field, "FieldValueInvalid",
                                f"Invalid value: {value}: must be greater than or equal to 0"))
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return int(value[:-1])
    causes.append(Cause(field, "FieldValueInvalid", f"Invalid value: {_show(value)}: a valid percent string "
                        "must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
                        "validation is '[0-9]+%')"))
    return None


def _strategy(spec: dict[str, Any], causes: list[Cause]) -> None:
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            causes.append(Cause("spec.strategy.rollingUpdate", "FieldValueForbidden",
                                "Forbidden: may not be specified when strategy `type` is 'Recreate'"))
        return
    if strategy["type"] != "RollingUpdate":
        causes.append(Cause("spec.strategy.type", "FieldValueNotSupported",
                            f'Unsupported value: {_show(strategy["type"])}: supported values: "Recreate", '
                            '"RollingUpdate"'))
        return
    rolling = strategy.setdefault("rollingUpdate", {})
    rolling.setdefault("maxUnavailable", "25%")
    rolling.setdefault("maxSurge", "25%")
    surge = _int_or_percent(rolling["maxSurge"], "spec.strategy.rollingUpdate.maxSurge", causes)
    unavailable = _int_or_percent(rolling["maxUnavailable"], "spec.strategy.rollingUpdate.maxUnavailable", causes)
    if surge == 0 and unavailable == 0:
        causes.append(Cause("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
                            f"Invalid value: {_show(rolling['maxUnavailable'])}: may not be 0 when `maxSurge` is 0"))
    if isinstance(rolling["maxUnavailable"], str) and unavailable is not None and unavailable > 100:
        causes.append(Cause("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
                            f"Invalid value: {_show(rolling['maxUnavailable'])}: must not be greater than 100%"))


def _apps(kind: str, obj: Obj, old: Obj | None, default_pod_spec: DefaultPodSpec) -> Obj:
    obj = copy.deepcopy(obj)
    spec = obj.setdefault("spec", {})
    causes: list[Cause] = []
    spec.setdefault("replicas", 1)
    if kind == "Deployment":
        _strategy(spec, causes)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        _non_negative(obj, "revisionHistoryLimit", causes)
    _non_negative(obj, "replicas", causes)
    _non_negative(obj, "minReadySeconds", causes)
    template = _template(obj, default_pod_spec, causes)
    _check_selector(kind, obj, template, causes)
    _immutable_selector(obj, old, causes)
    if causes:
        raise errors.invalid("apps", kind, meta(obj).get("name", ""), causes)
    return obj


def _job(job: Obj, old: Obj | None, default_pod_spec: DefaultPodSpec) -> Obj:
    job = copy.deepcopy(job)
    spec = job.setdefault("spec", {})
    causes: list[Cause] = []
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimitPerIndex") is None:
        spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    for field in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"):
        _non_negative(job, field, causes)
    if old is None and not spec.get("manualSelector"):
        if spec.get("selector") is not None:
            causes.append(Cause("spec.selector", "FieldValueInvalid",
                                f"Invalid value: {_show(spec['selector'])}: `selector` not auto-generated"))
        uid, name = str(meta(job).get("uid") or ""), str(meta(job).get("name") or "")
        tmeta = spec.setdefault("template", {}).setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), JOB_LABELS[0]: uid, JOB_LABELS[1]: name,
                           JOB_LABELS[2]: uid, JOB_LABELS[3]: name}
        spec["selector"] = {"matchLabels": {JOB_LABELS[0]: uid}}
    template = _template(job, default_pod_spec, causes)
    policy = (template.get("spec") or {}).get("restartPolicy")
    if policy in (None, "", "Always"):
        causes.append(Cause("spec.template.spec.restartPolicy", "FieldValueRequired",
                            'Required value: valid values: "OnFailure", "Never"'))
    elif policy not in ("OnFailure", "Never"):
        causes.append(Cause("spec.template.spec.restartPolicy", "FieldValueNotSupported",
                            f'Unsupported value: {_show(policy)}: supported values: "OnFailure", "Never"'))
    if not causes:
        _check_selector("Job", job, template, causes)
    if old is not None:
        _immutable_selector(job, old, causes)
        if _pod_part(template) != _pod_part((old.get("spec") or {}).get("template") or {}):
            causes.append(Cause("spec.template", "FieldValueInvalid",
                                f"Invalid value: {_show(template)}: field is immutable"))
    if causes:
        raise errors.invalid("batch", "Job", meta(job).get("name", ""), causes)
    return job


def _pod_part(template: dict[str, Any]) -> Any:
    """What of a Job's template may not change once created (labels and annotations may)."""
    return template.get("spec")
