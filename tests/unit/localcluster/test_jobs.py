"""Jobs in the local cluster, against the in-process Api with simulated pods and a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.localcluster.apiserver.controllers.jobs import TRACKING_FINALIZER, backoff_delay_s
from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.storage.store import Event

from .workloads import NS, Cluster, running_cluster

Obj = dict[str, Any]


def job(name: str = "work", restart_policy: str | None = "Never", **spec: Any) -> Obj:
    pod_spec: Obj = {"containers": [{"name": "main", "image": "busybox"}]}
    if restart_policy is not None:
        pod_spec["restartPolicy"] = restart_policy
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": pod_spec}, **spec}}


def status(cluster: Cluster, name: str = "work") -> Obj:
    found: Obj = cluster.get("jobs", name).get("status") or {}
    return found


def true_conditions(cluster: Cluster, name: str = "work") -> list[str]:
    return [c["type"] for c in status(cluster, name).get("conditions") or [] if c["status"] == "True"]


def running(cluster: Cluster) -> list[Obj]:
    return [p for p in cluster.pods() if (p.get("status") or {}).get("phase") == "Running"]


def test_backoff_doubles_from_ten_seconds_up_to_six_minutes() -> None:
    assert [backoff_delay_s(n) for n in (0, 1, 2, 3, 10)] == [0.0, 10.0, 20.0, 40.0, 360.0]


async def test_a_job_gets_kubes_defaults_selector_and_pod_labels() -> None:
    async with running_cluster() as cluster:
        created = cluster.create("jobs", job())
        uid = created["metadata"]["uid"]
        spec = created["spec"]
        assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
        assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
        assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
        assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        assert spec["template"]["metadata"]["labels"] == {
            "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "work",
            "controller-uid": uid, "job-name": "work"}
        await cluster.wait_for(lambda: len(running(cluster)) == 1)
        [pod] = cluster.pods()
        assert pod["metadata"]["name"].startswith("work-") and len(pod["metadata"]["name"]) == len("work-") + 5
        assert pod["metadata"]["labels"]["job-name"] == "work"
        assert TRACKING_FINALIZER in pod["metadata"]["finalizers"]
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
        await cluster.wait_for(lambda: status(cluster).get("ready") == 1)
        assert status(cluster)["active"] == 1 and "startTime" in status(cluster)


@pytest.mark.parametrize(("policy", "message"), [
    (None, 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'),
    ("Always", 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'),
    ("Sometimes", 'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
                  '"OnFailure", "Never"'),
])
async def test_a_job_restart_policy_must_be_never_or_on_failure(policy: str | None, message: str) -> None:
    async with running_cluster() as cluster:
        with pytest.raises(ApiError) as err:
            cluster.create("jobs", job(restart_policy=policy))
        assert err.value.code == 422
        assert err.value.message == f'Job.batch "work" is invalid: {message}'


async def test_a_selector_without_manual_selector_is_rejected() -> None:
    async with running_cluster() as cluster:
        with pytest.raises(ApiError) as err:
            cluster.create("jobs", job(selector={"matchLabels": {"a": "b"}}))
        assert err.value.code == 422 and "`selector` not auto-generated" in err.value.message


async def test_a_job_with_three_completions_runs_two_pods_at_a_time_and_completes() -> None:
    async with running_cluster() as cluster:
        most_active: list[int] = []
        stop = cluster.watch(lambda _ev: most_active.append(len(cluster.pods())))
        try:
            cluster.create("jobs", job(completions=3, parallelism=2))
            for done in range(1, 4):
                want = min(2, 4 - done)
                await cluster.wait_for(lambda want=want: len(running(cluster)) == want)  # type: ignore[misc]
                cluster.set_pod_phase(running(cluster)[0]["metadata"]["name"], "Succeeded")
                await cluster.wait_for(lambda done=done: status(cluster).get("succeeded") == done)  # type: ignore[misc]
            await cluster.wait_for(lambda: "Complete" in true_conditions(cluster))
        finally:
            stop()
        assert max(most_active) == 2
        final = status(cluster)
        assert final["succeeded"] == 3 and "active" not in final and "failed" not in final
        assert final["ready"] == 0 and final["terminating"] == 0 and final["uncountedTerminatedPods"] == {}
        assert true_conditions(cluster) == ["SuccessCriteriaMet", "Complete"]
        complete = next(c for c in final["conditions"] if c["type"] == "Complete")
        assert complete["reason"] == "CompletionsReached"
        assert complete["message"] == "Reached expected number of succeeded pods"
        assert final["completionTime"] >= final["startTime"]
        assert ("Normal", "Completed", "Job completed") in [
            (e["type"], e["reason"], e["message"]) for e in cluster.api.store.list(("", "events"), NS)]
        finished = cluster.pods(active_only=False)
        assert len(finished) == 3
        assert all(TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in finished)


async def test_a_job_fails_once_failures_exceed_the_backoff_limit() -> None:
    async with running_cluster() as cluster:
        cluster.create("jobs", job(backoffLimit=1))
        await cluster.wait_for(lambda: len(running(cluster)) == 1)
        cluster.node.fail_pod(NS, running(cluster)[0]["metadata"]["name"])
        await cluster.wait_for(lambda: status(cluster).get("failed") == 1)
        await cluster.step(5)
        assert running(cluster) == []  # the replacement waits out the 10 s backoff
        await cluster.step(6)
        await cluster.wait_for(lambda: len(running(cluster)) == 1)
        cluster.node.fail_pod(NS, running(cluster)[0]["metadata"]["name"])
        await cluster.wait_for(lambda: "Failed" in true_conditions(cluster))
        final = status(cluster)
        assert final["failed"] == 2
        assert true_conditions(cluster) == ["FailureTarget", "Failed"]
        failed = next(c for c in final["conditions"] if c["type"] == "Failed")
        assert (failed["reason"], failed["message"]) == ("BackoffLimitExceeded",
                                                         "Job has reached the specified backoff limit")
        assert "completionTime" not in final
        events = [(e["type"], e["reason"], e["message"]) for e in cluster.api.store.list(("", "events"), NS)
                  if e["involvedObject"]["name"] == "work"]
        assert ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit") in events
        assert sum(1 for e in events if e[1] == "SuccessfulCreate") == 2


async def test_a_job_past_its_active_deadline_fails_and_its_pods_are_deleted() -> None:
    async with running_cluster() as cluster:
        cluster.create("jobs", job(parallelism=2, completions=4, activeDeadlineSeconds=30))
        await cluster.wait_for(lambda: len(running(cluster)) == 2)
        await cluster.step(29)
        assert true_conditions(cluster) == []
        await cluster.step(1)
        await cluster.wait_for(lambda: "Failed" in true_conditions(cluster))
        failed = next(c for c in status(cluster)["conditions"] if c["type"] == "Failed")
        assert (failed["reason"], failed["message"]) == ("DeadlineExceeded", "Job was active longer than specified "
                                                                             "deadline")
        await cluster.wait_for(lambda: cluster.pods(active_only=False) == [])
        assert status(cluster).get("active", 0) == 0


async def test_a_finished_job_is_deleted_after_ttl_seconds_after_finished() -> None:
    async with running_cluster() as cluster:
        cluster.create("jobs", job(ttlSecondsAfterFinished=60))
        await cluster.wait_for(lambda: len(running(cluster)) == 1)
        cluster.set_pod_phase(running(cluster)[0]["metadata"]["name"], "Succeeded")
        await cluster.wait_for(lambda: "Complete" in true_conditions(cluster))
        await cluster.step(59)
        assert cluster.api.store.get(("batch", "jobs"), NS, "work") is not None
        await cluster.step(2)
        await cluster.wait_for(lambda: cluster.api.store.get(("batch", "jobs"), NS, "work") is None
                               and cluster.pods(active_only=False) == [])


async def test_pods_of_a_deleted_job_lose_the_tracking_finalizer_and_go() -> None:
    async with running_cluster() as cluster:
        cluster.create("jobs", job(parallelism=2, completions=2))
        await cluster.wait_for(lambda: len(running(cluster)) == 2)
        cluster.api.delete(cluster.rt("jobs"), NS, "work", {"propagationPolicy": "Background"})
        await cluster.wait_for(lambda: cluster.pods(active_only=False) == [])


async def test_a_deleted_running_pod_counts_as_failed_and_is_replaced() -> None:
    async with running_cluster() as cluster:
        cluster.create("jobs", job())
        await cluster.wait_for(lambda: len(running(cluster)) == 1)
        first = running(cluster)[0]["metadata"]["name"]
        events: list[Event] = []
        stop = cluster.watch(events.append)
        try:
            cluster.api.delete(cluster.rt("pods"), NS, first, {})
            await cluster.wait_for(lambda: status(cluster).get("failed") == 1)
            await cluster.step(11)
            await cluster.wait_for(lambda: len(running(cluster)) == 1 and running(cluster)[0]["metadata"]["name"]
                                   != first)
        finally:
            stop()
        assert cluster.api.store.get(("", "pods"), NS, first) is None


async def test_a_suspended_job_runs_no_pods_until_resumed() -> None:
    async with running_cluster() as cluster:
        cluster.create("jobs", job(suspend=True))
        await cluster.wait_for(lambda: "Suspended" in true_conditions(cluster))
        assert cluster.pods() == [] and "startTime" not in status(cluster)
        cluster.patch("jobs", "work", {"spec": {"suspend": False}})
        await cluster.wait_for(lambda: len(running(cluster)) == 1)
        resumed = next(c for c in status(cluster)["conditions"] if c["type"] == "Suspended")
        assert (resumed["status"], resumed["reason"]) == ("False", "JobResumed")
        assert "startTime" in status(cluster)


async def test_pods_orphaned_from_their_job_lose_the_tracking_finalizer() -> None:
    async with running_cluster() as cluster:
        cluster.create("jobs", job(parallelism=2, completions=2))
        await cluster.wait_for(lambda: len(running(cluster)) == 2)
        cluster.api.delete(cluster.rt("jobs"), NS, "work", {"propagationPolicy": "Orphan"})
        await cluster.wait_for(lambda: cluster.api.store.get(("batch", "jobs"), NS, "work") is None and all(
            not p["metadata"].get("ownerReferences") and TRACKING_FINALIZER not in (p["metadata"].get("finalizers")
                                                                                    or [])
            for p in cluster.pods(active_only=False)))
        assert len(cluster.pods()) == 2  # orphans keep running, as kube leaves them
