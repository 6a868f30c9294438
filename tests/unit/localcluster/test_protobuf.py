"""The protobuf bodies kubectl create sends: decoded as their JSON form, anything else a clear 415."""

from __future__ import annotations

import pytest

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.http import protobuf

# `kubectl create configmap cm1 --from-literal=a=b`, as kubectl 1.37 sent it (its -v=9 dump).
CONFIGMAP = bytes.fromhex(
    "6b3873000a0f0a0276311209436f6e6669674d6170121d0a130a03636d3112001a0022002a00320038004200"
    "12060a0161120162" "1a002200"
)


def _len(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def _envelope(kind: str, raw: bytes) -> bytes:
    type_meta = _len(1, b"v1") + _len(2, kind.encode())
    return b"k8s\x00" + _len(1, type_meta) + _len(2, raw)


def test_a_recorded_configmap_decodes_to_its_json_form() -> None:
    assert protobuf.decode(CONFIGMAP) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"},
                                          "data": {"a": "b"}}


def test_secret_data_becomes_base64_and_labels_and_finalizers_are_kept() -> None:
    meta = _len(1, b"s1") + _len(11, _len(1, b"app") + _len(2, b"x")) + _len(14, b"f1") + _len(14, b"f2")
    raw = _len(1, meta) + _len(2, _len(1, b"k") + _len(2, b"v")) + _len(3, b"Opaque")
    assert protobuf.decode(_envelope("Secret", raw)) == {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"k": "dg=="},
        "metadata": {"name": "s1", "labels": {"app": "x"}, "finalizers": ["f1", "f2"]}}


def test_unknown_field_numbers_are_skipped() -> None:
    raw = _len(1, _len(1, b"n")) + _len(9, b"whatever") + bytes([5 << 3 | 0, 1])
    assert protobuf.decode(_envelope("Namespace", raw))["metadata"] == {"name": "n"}


@pytest.mark.parametrize("body, words", [
    (b"{}", "magic bytes"),
    (_envelope("Pod", b""), "kind 'Pod'"),
    (CONFIGMAP[:-5], "malformed protobuf"),
    (b"k8s\x00" + bytes([0x0a, 0x7f]), "malformed protobuf"),
])
def test_anything_else_is_a_415_that_says_what_to_send(body: bytes, words: str) -> None:
    with pytest.raises(ApiError) as caught:
        protobuf.decode(body)
    assert caught.value.code == 415
    assert caught.value.reason == "UnsupportedMediaType"
    assert words in caught.value.message
    assert "kubectl apply -f" in caught.value.message
