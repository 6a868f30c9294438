"""The multi-application v1 sample with real Ray: the fruit market on /fruit and the calculator on /calc."""

from __future__ import annotations

import time

import pytest

from e2e import observe as ob
from e2e.localstack import LocalStack, wait_for

NAME = "rayservice-multiapp"


@pytest.mark.timeout(360)
def test_multi_app_sample_answers_on_both_routes(stack: LocalStack) -> None:
    t0 = time.monotonic()
    try:
        ob.apply(stack, ob.MULTIAPP_LOCAL.read_text())
        running_s = ob.wait_running(stack, NAME)
        ip = ob.cluster_ip(stack, f"{NAME}-serve-svc")
        wait_for("/fruit answers", lambda: ob.answer(ip, '["MANGO", 2]', path="/fruit") == "6", 60)
        wait_for("/calc answers", lambda: ob.answer(ip, '["MUL", 3]', path="/calc") == "15 pizzas please!", 60)
        both_s = time.monotonic() - t0
        assert ob.answer(ip, '["ADD", 2]', path="/calc") == "5 pizzas please!"
        assert ob.answer(ip, '["PEAR", 3]', path="/fruit") == "3"
        st = ob.status(stack, NAME)
        apps = (st.get("activeServiceStatus") or {}).get("applicationStatuses") or {}
        assert {name: app.get("status") for name, app in apps.items()} == {"fruit_app": "RUNNING",
                                                                          "math_app": "RUNNING"}
        print(f"\nmulti-app: Running after {running_s:.1f} s; /fruit [\"MANGO\", 2] -> 6 and /calc [\"MUL\", 3] -> "
              f"\"15 pizzas please!\" at {both_s:.1f} s; status {sorted(apps)} RUNNING")
    finally:
        gone_s = ob.delete_and_wait(stack, NAME)
        print(f"multi-app: deleted, pods gone after {gone_s:.1f} s")
