"""What to PUT and when: only when Ray runs another config or lost the apps, never again while it applies ours."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rayservice.controller.rayservice import (
    LastPut,
    apps_missing,
    config_digest,
    decide_serve,
    desired_app_names,
    is_serving,
)
from rayservice.ray import ServeAppStatus, compute_application_statuses
from tests.fruit_market import fruit_config, with_change
from tests.unit.controller.rayservice.samples import ray_app

ADDRESS = "http://127.16.0.2:8265"
CONFIG = fruit_config()
APP = CONFIG["applications"][0]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def statuses(apps: dict[str, Any]) -> dict[str, ServeAppStatus]:
    return compute_application_statuses({"applications": apps}, now=NOW)


def decide(apps: dict[str, Any], *, last: LastPut | None = None, now_s: float = 100.0, config: Any = CONFIG) -> Any:
    return decide_serve(config, apps, statuses(apps), address=ADDRESS, last=last, now_s=now_s)


def put_at(at_s: float, config: dict[str, Any] = CONFIG, address: str = ADDRESS) -> LastPut:
    return LastPut(address, config_digest(config), at_s)


def test_nothing_to_put_without_a_config_or_without_rays_answer() -> None:
    assert not decide_serve(None, {}, {}, address=ADDRESS, last=None, now_s=0).put
    assert not decide_serve(CONFIG, None, {}, address=ADDRESS, last=None, now_s=0).put


def test_a_fresh_cluster_without_applications_gets_the_config() -> None:
    decision = decide({})
    assert decision.put and decision.reason == "applications missing"


def test_a_cluster_running_the_config_gets_nothing() -> None:
    assert not decide({"fruit_app": ray_app("RUNNING", config=APP)}).put


def test_an_identical_config_is_not_put_again_while_ray_deploys_it() -> None:
    apps = {"fruit_app": ray_app("DEPLOYING", config=APP)}
    assert not decide(apps).put  # Ray echoes it: nothing differs
    assert not decide(apps, last=put_at(99.0)).put


def test_an_identical_config_is_not_put_again_while_ray_still_shows_the_old_one_and_deploys() -> None:
    old = with_change(APP, "deployments.0.user_config.price", 3)
    new_config = {"applications": [with_change(APP, "deployments.0.user_config.price", 4)]}
    apps = {"fruit_app": ray_app("DEPLOYING", config=old)}
    assert not decide(apps, last=put_at(99.0, new_config), config=new_config).put


def test_a_changed_config_is_put_even_while_ray_deploys_the_previous_one() -> None:
    changed = {"applications": [with_change(APP, "deployments.0.user_config.price", 4)]}
    apps = {"fruit_app": ray_app("DEPLOYING", config=APP)}
    decision = decide(apps, last=put_at(99.0), config=changed)
    assert decision.put and decision.reason == "config differs"


def test_the_same_config_is_put_again_only_after_a_while_when_ray_stopped_moving_and_still_differs() -> None:
    stale = {"fruit_app": ray_app("RUNNING", config=with_change(APP, "deployments.0.user_config.price", 9))}
    assert not decide(stale, last=put_at(50.0), now_s=100.0).put
    assert decide(stale, last=put_at(40.0), now_s=100.0).put


def test_applications_lost_after_the_last_put_are_put_again_after_a_short_grace() -> None:
    assert not decide({}, last=put_at(99.5), now_s=100.0).put
    decision = decide({}, last=put_at(10.0), now_s=100.0)
    assert decision.put and "missing" in decision.reason


def test_a_put_to_another_address_does_not_count() -> None:
    apps = {"fruit_app": ray_app("DEPLOYING", config=with_change(APP, "import_path", "other.app"))}
    assert decide(apps, last=put_at(99.9, address="http://127.16.0.9:8265")).put


def test_serving_means_the_desired_config_with_every_desired_app_running() -> None:
    running = {"fruit_app": ray_app("RUNNING", config=APP)}
    assert is_serving(CONFIG, running, statuses(running))
    deploying = {"fruit_app": ray_app("DEPLOYING", config=APP)}
    assert not is_serving(CONFIG, deploying, statuses(deploying))
    old = {"fruit_app": ray_app("RUNNING", config=with_change(APP, "deployments.0.user_config.price", 9))}
    assert not is_serving(CONFIG, old, statuses(old))
    assert not is_serving(CONFIG, {}, {})
    assert is_serving(None, {}, {})


def test_desired_app_names_default_an_unnamed_app_to_default() -> None:
    assert desired_app_names({"applications": [{"import_path": "a.b"}, {"name": "x", "import_path": "c.d"}]}) == [
        "default",
        "x",
    ]
    assert desired_app_names(None) == []


def test_apps_missing_when_a_declared_app_is_absent() -> None:
    assert apps_missing(CONFIG, {})
    assert not apps_missing(CONFIG, {"fruit_app": ray_app()})


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=6))
def test_the_digest_ignores_key_order(config: dict[str, Any]) -> None:
    reordered = dict(reversed(list(config.items())))
    assert config_digest(config) == config_digest(reordered)
