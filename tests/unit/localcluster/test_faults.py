"""The API server's fault rules: shares of requests, several codes, one client only, seeded."""

from __future__ import annotations

from collections import Counter

from e2e.localcluster.apiserver.faults import FaultRule, Faults, RequestInfo


def request(agent: str = "rayservice-operator/0.1", verb: str = "get") -> RequestInfo:
    return RequestInfo(method="GET", path="/api/v1/namespaces/default/pods/p", verb=verb, resource="pods",
                       namespace="default", name="p", user_agent=agent)


def test_a_rule_with_a_probability_hits_about_that_share_of_matching_requests_and_repeats_with_the_seed() -> None:
    def run(seed: int) -> list[bool]:
        faults = Faults(seed=seed)
        faults.add(FaultRule(count=None, probability=0.1))
        return [faults.match(request()) is not None for _ in range(5000)]

    hits = run(7)
    assert 400 <= sum(hits) <= 600
    assert run(7) == hits
    assert run(8) != hits


def test_a_miss_does_not_count_towards_the_rule_count() -> None:
    faults = Faults(seed=1)
    rule = faults.add(FaultRule(count=3, probability=0.5))
    hits = sum(faults.match(request()) is not None for _ in range(100))
    assert hits == rule.hits == 3


def test_several_codes_are_picked_per_hit_with_their_real_status_and_counted() -> None:
    faults = Faults(seed=3)
    rule = faults.add(FaultRule(code=0, count=None, codes=[500, 409, 429], retry_after_s=2))
    assert rule.code == 500  # the HTTP layer answers only rules whose code is set
    seen: Counter[int] = Counter()
    for _ in range(300):
        hit = faults.match(request())
        assert hit is not None
        error = hit.error()
        seen[error.code] += 1
        assert error.code == hit.next_code
        if error.code == 429:
            assert error.headers.get("Retry-After") == "2"
        if error.code == 409:
            assert error.to_status()["reason"] == "Conflict"
    assert set(seen) == {500, 409, 429} and min(seen.values()) > 60
    assert faults.injected == seen


def test_a_rule_for_one_user_agent_leaves_other_clients_alone() -> None:
    faults = Faults()
    faults.add(FaultRule(count=None, user_agent="rayservice-operator"))
    assert faults.match(request("tests")) is None
    assert faults.match(request("rayservice-operator/0.1 pid/42")) is not None


def test_a_delay_only_rule_injects_no_error() -> None:
    faults = Faults()
    rule = faults.add(FaultRule(code=0, count=None, delay_s=0.1))
    assert faults.match(request()) is rule
    assert rule.next_code == 0 and not faults.injected


def test_rules_posted_as_json_accept_the_new_fields() -> None:
    faults = Faults()
    rule = faults.add(FaultRule(**{"codes": [429], "probability": 1.0, "user_agent": "x", "count": None}))
    hit = faults.match(request("x"))
    assert hit is rule and rule.error().code == 429


def test_requests_are_ranked_by_arrival_whatever_order_they_complete_in() -> None:
    faults = Faults()
    first, second = request(), request()
    faults.match(first)
    faults.match(second)
    faults.record(second)
    faults.record(first)
    assert [r.arrival for r in faults.log] == [2, 1] and faults.arrivals == 2
