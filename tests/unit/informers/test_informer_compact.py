"""share_strings: cached objects share equal strings (rayservice.informers.compact)."""

from __future__ import annotations

import json
from typing import Any

from rayservice.informers import MAX_SHARED_LENGTH, share_strings


def _decoded(name: str) -> dict[str, Any]:
    body = {"metadata": {"name": name, "labels": {"ray.io/node-type": "head"}}, "status": {"conditions": [
        {"type": "Ready", "status": "True"}]}, "data": "x" * (MAX_SHARED_LENGTH + 1), "n": 3, "ok": None}
    return dict(json.loads(json.dumps(body)))  # each decode owns its strings, as a watch event does


def test_the_shared_object_equals_the_original_which_is_not_changed() -> None:
    original = _decoded("a")
    before = json.loads(json.dumps(original))
    assert share_strings(original) == original == before


def test_keys_and_short_string_values_are_one_object_across_objects() -> None:
    a, b = share_strings(_decoded("a")), share_strings(_decoded("b"))
    key_a = next(k for k in a["metadata"]["labels"])
    key_b = next(k for k in b["metadata"]["labels"])
    assert key_a is key_b
    assert a["status"]["conditions"][0]["status"] is b["status"]["conditions"][0]["status"]
    assert a["metadata"]["labels"]["ray.io/node-type"] is b["metadata"]["labels"]["ray.io/node-type"]
    assert a["data"] == b["data"] and a["data"] is not b["data"]  # long values are left alone
