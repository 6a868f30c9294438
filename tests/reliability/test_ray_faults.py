"""Ray faults (DESIGN §2, §8): a dashboard slower than the 2 s client timeout, 500s, malformed JSON, an app stuck
DEPLOYING and an app DEPLOY_FAILED, all at once, against one operator process with a single worker per
controller. No worker blocks longer than the timeout (a healthy RayService's edit still reaches Ray within
the timeout plus slack, which a worker stuck on the 10 s answer could not do); the Ready condition of each
RayService whose dashboard fails names the dashboard and the kind of failure (timeout, HTTP 500, invalid JSON);
the stuck and the failed application show in the status with Ray's status and message, and the failed one's
Ready condition (ServeDeployFailed) names it with Ray's message; and everything
recovers once the faults are cleared: on its own, except the import error, which a user fixes (Ray does
not retry it either).
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import pytest

from e2e.fakeray import APPLICATIONS
from rayservice.kube import RAY_SERVICES
from tests.reliability.harness import (
    NAMESPACE,
    Operators,
    RecordProperty,
    World,
    app_statuses,
    events_of,
    head_ip,
    rayservice,
    report,
    status_of,
    world,
)

CLIENT_TIMEOUT_S = 2.0
SLOW_ANSWER_S = 10.0
SLACK_S = 3.0  # a loaded 2-core machine; still well under SLOW_ANSWER_S
DEADLINE_S = 30.0
RECOVERY_DEADLINE_S = 60.0  # the Ray backoff doubles from 1 s while the faults last (~10 s): at most ~16 s
STUCK_PATH, FAILING_PATH = "stuck.app:graph", "broken.app:graph"
HEALTHY = "ray-healthy"
SLOW, ERRORS, MALFORMED = "ray-slow", "ray-errors", "ray-malformed"
STUCK, FAILED = "ray-stuck", "ray-failed"
IMPORT_PATHS = {STUCK: STUCK_PATH, FAILED: FAILING_PATH}


def ready(w: World, name: str) -> dict[str, Any]:
    for cond in status_of(w, name).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return {}


def active(w: World, name: str) -> str:
    return str((status_of(w, name).get("activeServiceStatus") or {}).get("rayClusterName") or "")


def running_with(w: World, name: str, price: int) -> bool:
    """Running, Ready, and Ray runs the config with ``price`` (what the fake echoes as deployed)."""
    cluster = active(w, name)
    ip = head_ip(w, cluster) if cluster else None
    if status_of(w, name).get("serviceStatus") != "Running" or ready(w, name).get("status") != "True" or not ip:
        return False
    apps = w.dashboard.cluster(ip).answer(w.dashboard.now())["applications"]
    app = apps.get("fruit_app") or {}
    deployed = {d["name"]: d.get("user_config") for d in app.get("deployed_app_config", {}).get("deployments", [])}
    return app.get("status") == "RUNNING" and (deployed.get("MangoStand") or {}).get("price") == price


def any_condition_says(w: World, name: str, *words: str) -> bool:
    for cond in status_of(w, name).get("conditions") or []:
        text = f"{cond.get('reason', '')} {cond.get('message', '')}".lower()
        if cond.get("reason") and all(word.lower() in text for word in words):
            return True
    return False


def app_reported(w: World, name: str, app_status: str, words: str, *, text: bool = False) -> Any:
    """Whether the status (active or pending side) reports ``fruit_app`` as ``app_status`` with ``words`` in its
    message; with ``text``, what it reports."""
    status = status_of(w, name)
    for side in ("activeServiceStatus", "pendingServiceStatus"):
        app = ((status.get(side) or {}).get("applicationStatuses") or {}).get("fruit_app") or {}
        if text and app:
            return f"{side}: {app.get('status')}: {app.get('message')!r}"
        if app.get("status") == app_status and words in str(app.get("message", "")):
            return True
    return "" if text else False


def puts_above(w: World, address: str, before: int) -> bool:
    return w.dashboard.request_count(address, method="PUT", path=APPLICATIONS) > before


def recovery_state(w: World, name: str) -> object:
    return status_of(w, name), app_statuses(w, active(w, name))


async def edit_price(w: World, name: str, price: int) -> None:
    body = rayservice(name, price=price, import_path=IMPORT_PATHS.get(name))
    await w.user.patch(RAY_SERVICES, name, {"spec": {"serveConfigV2": body["spec"]["serveConfigV2"]}},
                       namespace=NAMESPACE)


@pytest.mark.timeout(180)
async def test_ray_timeouts_errors_and_stuck_apps_block_no_worker_show_in_conditions_and_recover(
    tmp_path: Path, record_testsuite_property: RecordProperty
) -> None:
    async with world(tmp_path) as w:
        operators = Operators(w)
        fake = w.dashboard
        try:
            fake.stick(STUCK_PATH)
            fake.fail_deploy(FAILING_PATH)
            await operators.start("operator", extra=["--workers", "1"])
            for name in (HEALTHY, SLOW, ERRORS, MALFORMED, STUCK, FAILED):
                await w.user.create(RAY_SERVICES, rayservice(name, import_path=IMPORT_PATHS.get(name)),
                                    namespace=NAMESPACE)
            await w.until(lambda: all(running_with(w, n, 3) for n in (HEALTHY, SLOW, ERRORS, MALFORMED)),
                                deadline_s=DEADLINE_S, what="the healthy RayServices running")
            # ---- the faults, on the heads of three running RayServices; a Serve edit makes each one look
            ips = {name: head_ip(w, active(w, name)) for name in (SLOW, ERRORS, MALFORMED)}
            fake.delay(SLOW_ANSWER_S, address=ips[SLOW])
            fake.fail_next(10**6, 500, address=ips[ERRORS], body="Internal Server Error: GCS unavailable")
            fake.malformed_next(10**6, address=ips[MALFORMED])
            faults_from = time.monotonic()
            for name in (SLOW, ERRORS, MALFORMED):
                await edit_price(w, name, 4)
            # ---- a healthy RayService's edits still reach Ray promptly, one worker notwithstanding
            healthy_ip = head_ip(w, active(w, HEALTHY))
            assert healthy_ip is not None
            latencies: list[float] = []
            for price in (5, 6, 7):
                before = fake.request_count(healthy_ip, method="PUT", path=APPLICATIONS)
                edited = time.monotonic()
                await edit_price(w, HEALTHY, price)
                await w.until(functools.partial(puts_above, w, healthy_ip, before), deadline_s=DEADLINE_S, poll_s=0.01,
                              what=f"the healthy edit to price {price} PUT")
                latencies.append(time.monotonic() - edited)
                await w.until(functools.partial(running_with, w, HEALTHY, price), deadline_s=DEADLINE_S,
                              what="the healthy RayService running its edit")
            # ---- each fault shows in the conditions, with a reason and a message that name it
            expectations = {
                SLOW: ("dashboard", f"did not answer within {CLIENT_TIMEOUT_S:g} s"),
                ERRORS: ("dashboard", "answered HTTP 500"),
                MALFORMED: ("dashboard", "answered with invalid JSON"),
                FAILED: ("ServeDeployFailed", "fruit_app is DEPLOY_FAILED", "ModuleNotFoundError"),
            }
            for name, words in expectations.items():
                await w.until(functools.partial(any_condition_says, w, name, *words), deadline_s=DEADLINE_S,
                              what=f"{name}'s conditions saying {words}", explain=functools.partial(status_of, w, name))
            # Ray's own words for the stuck and the failed application, in their status
            for name, app_status, says in ((STUCK, "DEPLOYING", ""), (FAILED, "DEPLOY_FAILED", "ModuleNotFoundError")):
                await w.until(functools.partial(app_reported, w, name, app_status, says), deadline_s=DEADLINE_S,
                              what=f"{name}'s application status saying {app_status} {says}",
                              explain=functools.partial(status_of, w, name))
            shown = {name: {c["type"]: f"{c.get('status')}/{c.get('reason')}: {c.get('message')}"
                            for c in status_of(w, name).get("conditions") or []}
                     for name in (*expectations, STUCK, FAILED)}
            failed_events = {name: [e.get("reason") for e in events_of(w, name) if e.get("type") == "Warning"]
                             for name in (*expectations, STUCK, FAILED)}
            reported = {name: app_reported(w, name, "", "", text=True) for name in (STUCK, FAILED)}
            # ---- the faults end; everything recovers without help
            fault_window_s = time.monotonic() - faults_from
            fake.clear_faults()
            fake.stick(STUCK_PATH, stuck=False)
            fake.heal_deploy(FAILING_PATH)
            cleared = time.monotonic()
            # Ray does not retry an import error on its own: the fix a user makes, a corrected import path, is
            # what brings that one back.
            fixed = rayservice(FAILED)
            await w.user.patch(RAY_SERVICES, FAILED, {"spec": {"serveConfigV2": fixed["spec"]["serveConfigV2"]}},
                               namespace=NAMESPACE)
            recovery: dict[str, float] = {}
            for name, price in ((SLOW, 4), (ERRORS, 4), (MALFORMED, 4), (STUCK, 3), (FAILED, 3), (HEALTHY, 7)):
                await w.until(functools.partial(running_with, w, name, price), deadline_s=RECOVERY_DEADLINE_S,
                              what=f"{name} recovered", explain=functools.partial(recovery_state, w, name))
                recovery[name] = round(time.monotonic() - cleared, 2)
            alive = operators.started[0].alive
        finally:
            await operators.close()
        figures = {
            "healthy_edit_to_put_s": [round(x, 3) for x in latencies],
            "client_timeout_s": CLIENT_TIMEOUT_S,
            "slow_answer_s": SLOW_ANSWER_S,
            "fault_window_s": round(fault_window_s, 1),
            "recovered_after_clear_s": recovery,
            "warning_events": failed_events,
        }
        report(record_testsuite_property, "ray faults", figures)
        for name, conditions in shown.items():
            print(f"  {name}: {conditions}")
        for name, text in reported.items():
            print(f"  {name} applicationStatuses: {text}")
        assert alive
        assert max(latencies) < CLIENT_TIMEOUT_S + SLACK_S < SLOW_ANSWER_S
