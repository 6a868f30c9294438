"""The keyed, indexed cache (rayservice.informers.store) and its index functions (indexes)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rayservice.api import ObjectKey
from rayservice.informers import (
    by_controller_uid,
    by_label,
    by_namespace,
    by_owner_uid,
    key_of,
    split_key,
)
from rayservice.informers.store import Store


def _obj(name: str, namespace: str = "ns", **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, **metadata}}


_names = st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?", fullmatch=True)


@given(namespace=st.one_of(st.just(""), _names), name=_names)
def test_split_key_reverses_the_printed_key_of_any_object(namespace: str, name: str) -> None:
    obj = {"metadata": {"name": name, **({"namespace": namespace} if namespace else {})}}
    assert split_key(str(key_of(obj))) == key_of(obj) == ObjectKey(namespace, name)


def test_keys_print_as_namespace_slash_name_and_bare_name_when_cluster_scoped() -> None:
    assert str(key_of(_obj("a", "ns"))) == "ns/a"
    assert str(key_of({"metadata": {"name": "node-1"}})) == "node-1"


@pytest.mark.parametrize("text", ["", "/", "a/", "/b", "a/b/c"])
def test_split_key_refuses_what_is_not_a_key(text: str) -> None:
    with pytest.raises(ValueError, match="not an object key"):
        split_key(text)


def test_key_of_refuses_an_object_without_a_name() -> None:
    with pytest.raises(ValueError, match=r"metadata\.name"):
        key_of({"metadata": {"namespace": "ns"}})


def test_indexes_change_together_with_the_objects() -> None:
    store = Store({"ns": by_namespace, "app": by_label("app")})
    store.put(_obj("a", labels={"app": "x"}))
    store.put(_obj("b", labels={"app": "x"}))
    assert [key_of(o).name for o in store.by_index("app", "x")] == ["a", "b"]
    old = store.put(_obj("a", labels={"app": "y"}))
    assert old is not None and old["metadata"]["labels"] == {"app": "x"}
    assert store.index_keys("app", "x") == [ObjectKey("ns", "b")]
    assert store.index_keys("app", "y") == [ObjectKey("ns", "a")]
    store.delete(ObjectKey("ns", "b"))
    assert store.index_keys("app", "x") == []
    assert store.index_keys("ns", "ns") == [ObjectKey("ns", "a")]
    assert store.delete(ObjectKey("ns", "b")) is None


def test_an_unknown_index_is_a_key_error_naming_the_known_ones() -> None:
    with pytest.raises(KeyError, match="ns"):
        Store({"ns": by_namespace}).by_index("owner", "x")


def test_returned_lists_are_fresh_and_in_key_order() -> None:
    store = Store()
    for name in ("c", "a", "b"):
        store.put(_obj(name))
    listed = store.list()
    listed.clear()
    assert [key_of(o).name for o in store.list()] == ["a", "b", "c"]
    assert store.keys() == [ObjectKey("ns", n) for n in "abc"]
    assert ObjectKey("ns", "a") in store and len(store) == 3


def test_index_functions_ignore_malformed_objects() -> None:
    for broken in ({}, {"metadata": None}, {"metadata": {"ownerReferences": "x", "labels": ["a"]}}):
        assert by_namespace(broken) == []
        assert by_owner_uid(broken) == []
        assert by_controller_uid(broken) == []
        assert by_label("app")(broken) == []


def test_owner_indexes_file_every_owner_or_only_the_controller() -> None:
    refs = [{"uid": "u1", "controller": False}, {"uid": "u2", "controller": True}, {"uid": "u1"}]
    obj = _obj("p", ownerReferences=refs)
    assert by_owner_uid(obj) == ["u1", "u2"]
    assert by_controller_uid(obj) == ["u2"]


def test_cluster_scoped_objects_are_not_in_the_namespace_index() -> None:
    assert by_namespace({"metadata": {"name": "n"}}) == []
    assert by_namespace(_obj("p", "ns")) == ["ns"]
