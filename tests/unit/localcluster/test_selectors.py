"""Label and field selectors of the embedded API server: kube's grammar, kube's messages, kube's matching."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.storage.fieldselectors import FieldSelector, parse_field_selector
from e2e.localcluster.apiserver.storage.selectors import (
    LabelSelector,
    Operator,
    Requirement,
    label_selector_from_dict,
    label_selector_from_map,
    parse_label_selector,
)

# The ConfigMaps of recording S03 and the names each selector listed on a real kube-apiserver v1.36.
S03_LABELS: dict[str, dict[str, str] | None] = {
    "cm-a": {"app": "db", "tier": "back"},
    "cm-b": {"app": "web"},
    "cm-c": {"app": "web", "tier": "front", "run": "s03-ns"},
    "kube-root-ca.crt": None,
}
CONFIGMAP_FIELDS = ("metadata.name", "metadata.namespace")
EVENT_FIELDS = ("metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace",
                "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
                "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent",
                "source", "type")
POD_FIELDS = ("metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
              "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
              "status.nominatedNodeName")


def rejection(call: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """The message of the 400 BadRequest that `call` raises."""
    with pytest.raises(errors.ApiError) as caught:
        call(*args, **kwargs)
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    return caught.value.message


def selected(selector: LabelSelector) -> list[str]:
    return sorted(name for name, labels in S03_LABELS.items() if selector.matches(labels))


def configmaps(text: str) -> FieldSelector:
    return parse_field_selector(text, CONFIGMAP_FIELDS, custom=False, kind="ConfigMap")


class TestLabelSelectorGuarantees:
    @pytest.mark.parametrize(("text", "names"), [
        ("app=web", ["cm-b", "cm-c"]),
        ("app==web", ["cm-b", "cm-c"]),
        ("app!=web", ["cm-a", "kube-root-ca.crt"]),
        ("app in (web,db)", ["cm-a", "cm-b", "cm-c"]),
        ("app notin (web)", ["cm-a", "kube-root-ca.crt"]),
        ("tier", ["cm-a", "cm-c"]),
        ("!tier", ["cm-b", "kube-root-ca.crt"]),
        ("app=web,tier=front", ["cm-c"]),
    ])
    def test_every_operator_selects_what_kube_apiserver_selected(self, text: str, names: list[str]) -> None:
        assert selected(parse_label_selector(text)) == names

    def test_an_unclosed_value_set_is_rejected_with_kubes_message(self) -> None:
        assert rejection(parse_label_selector, "app in (web") == \
            "unable to parse requirement: found '', expected: ',' or ')'"

    def test_a_value_with_a_space_is_rejected_with_kubes_message(self) -> None:
        assert rejection(parse_label_selector, "app=we b") == "found 'b', expected: ',' or 'end of string'"

    def test_str_is_canonical_with_keys_sorted_and_set_values_sorted_and_unique(self) -> None:
        selector = parse_label_selector("z notin (b,a,b), x in (foo,,baz),  !w ,y")
        assert str(selector) == "!w,x in (,baz,foo),y,z notin (a,b)"
        assert parse_label_selector(str(selector)) == selector

    def test_an_empty_selector_matches_everything_including_unlabelled_objects(self) -> None:
        selector = parse_label_selector("")
        assert selector.is_empty and str(selector) == ""
        assert selected(selector) == sorted(S03_LABELS)

    def test_labels_given_as_none_are_no_labels(self) -> None:
        assert parse_label_selector("!app").matches(None)
        assert not parse_label_selector("app").matches(None)

    def test_notin_and_not_equals_match_objects_without_the_key(self) -> None:
        assert parse_label_selector("app notin (web)").matches({})
        assert parse_label_selector("app!=web").matches({"other": "x"})

    def test_in_and_equals_need_the_key(self) -> None:
        assert not parse_label_selector("app in (web,db)").matches({})
        assert not parse_label_selector("app=").matches({})
        assert parse_label_selector("app=").matches({"app": ""})


class TestLabelSelectorGrammar:
    @pytest.mark.parametrize(("text", "requirement"), [
        ("a=b", Requirement("a", Operator.EQUALS, ("b",))),
        ("a==b", Requirement("a", Operator.DOUBLE_EQUALS, ("b",))),
        ("a!=b", Requirement("a", Operator.NOT_EQUALS, ("b",))),
        ("a in (c,b)", Requirement("a", Operator.IN, ("b", "c"))),
        ("a notin(b)", Requirement("a", Operator.NOT_IN, ("b",))),
        ("a", Requirement("a", Operator.EXISTS)),
        ("!a", Requirement("a", Operator.DOES_NOT_EXIST)),
        ("a>5", Requirement("a", Operator.GREATER_THAN, ("5",))),
        ("a<5", Requirement("a", Operator.LESS_THAN, ("5",))),
        ("a=", Requirement("a", Operator.EQUALS, ("",))),
        ("a in ()", Requirement("a", Operator.IN, ("",))),
        ("a in (x,)", Requirement("a", Operator.IN, ("", "x"))),
        ("a in (,x)", Requirement("a", Operator.IN, ("", "x"))),
        ("a in (x,,y)", Requirement("a", Operator.IN, ("", "x", "y"))),
        ("example.com/app=web", Requirement("example.com/app", Operator.EQUALS, ("web",))),
        ("in in (in,notin)", Requirement("in", Operator.IN, ("in", "notin"))),
        (" \ta\n=\r b ", Requirement("a", Operator.EQUALS, ("b",))),
    ])
    def test_each_form_parses_to_its_requirement(self, text: str, requirement: Requirement) -> None:
        assert parse_label_selector(text).requirements == (requirement,)

    def test_greater_and_less_than_compare_label_values_as_integers(self) -> None:
        assert parse_label_selector("n>5").matches({"n": "10"})
        assert not parse_label_selector("n>5").matches({"n": "5"})
        assert parse_label_selector("n<5").matches({"n": "-3"})
        assert not parse_label_selector("n<5").matches({"n": "three"})
        assert not parse_label_selector("n<5").matches({})

    @pytest.mark.parametrize(("text", "message"), [
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a=!b", "unable to parse requirement: found '!', expected: identifier"),
        ("!!a", "unable to parse requirement: found '!', expected: identifier"),
        ("a!b", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"),
        ("a in x", "unable to parse requirement: found 'x' expected: '('"),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("a in (x y)", "unable to parse requirement: found 'y', expected: ',' or ')'"),
        ("a in (x,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
        ("a>x", "unable to parse requirement: values[0]: Invalid value: \"x\": "
                "for 'Gt', 'Lt' operators, the value must be an integer"),
    ])
    def test_malformed_selectors_are_rejected_with_apimachinerys_message(self, text: str, message: str) -> None:
        assert rejection(parse_label_selector, text) == message

    def test_an_invalid_key_is_rejected_with_the_qualified_name_rules(self) -> None:
        assert rejection(parse_label_selector, "-a") == (
            "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric "
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',"
            "  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?"
            "[A-Za-z0-9]')")
        assert "a qualified name must consist" in rejection(parse_label_selector, "a/b/c")
        assert "prefix part must be non-empty" in rejection(parse_label_selector, "/a")
        assert "prefix part a lowercase RFC 1123 subdomain" in rejection(parse_label_selector, "Ex.com/a")
        assert "name part must be no more than 63 characters" in rejection(parse_label_selector, "a" * 64)

    def test_an_invalid_value_is_rejected_with_the_label_value_rules(self) -> None:
        message = rejection(parse_label_selector, "app=b$")
        assert message.startswith("unable to parse requirement: values[0][app]: Invalid value: \"b$\": a valid "
                                  "label must be an empty string or consist of alphanumeric characters")
        assert "must be no more than 63 characters" in rejection(parse_label_selector, "app=" + "v" * 64)

    def test_several_invalid_values_are_reported_together(self) -> None:
        assert rejection(parse_label_selector, "app in (-x,-y)").startswith(
            "unable to parse requirement: [values[0][app]: Invalid value: \"-x\"")


class TestLabelSelectorFromObjects:
    def test_a_map_selector_requires_every_entry(self) -> None:
        selector = label_selector_from_map({"tier": "front", "app": "web"})
        assert str(selector) == "app=web,tier=front"
        assert selected(selector) == ["cm-c"]

    def test_an_empty_or_missing_map_selects_everything(self) -> None:
        assert label_selector_from_map({}).is_empty
        assert label_selector_from_map(None).matches(None)

    def test_a_label_selector_object_combines_match_labels_and_every_expression_operator(self) -> None:
        selector = label_selector_from_dict({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "zone", "operator": "NotIn", "values": ["b"]},
                {"key": "run", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        })
        assert str(selector) == "app=web,!legacy,run,tier in (edge,front),zone notin (b)"
        assert selected(selector) == ["cm-c"]

    def test_an_empty_label_selector_object_selects_everything_and_none_selects_nothing(self) -> None:
        assert label_selector_from_dict({}).is_empty
        nothing = label_selector_from_dict(None)
        assert not nothing.is_empty and selected(nothing) == []

    @pytest.mark.parametrize(("selector", "message"), [
        ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
         "\"Gt\" is not a valid label selector operator"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
         "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
         "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"),
        ({"matchLabels": {"-a": "x"}}, "key: Invalid value: \"-a\": name part must consist"),
        ({"matchLabels": ["a"]}, "invalid label selector"),
    ])
    def test_an_invalid_label_selector_object_is_a_bad_request(self, selector: Mapping[str, Any],
                                                              message: str) -> None:
        assert rejection(label_selector_from_dict, selector).startswith(message)


class TestFieldSelectorGuarantees:
    def test_equals_and_not_equals_compare_the_field(self) -> None:
        names = ["cm-a", "cm-b", "cm-c"]
        objects = [{"metadata": {"name": n, "namespace": "ns"}} for n in names]
        assert [o["metadata"]["name"] for o in objects if configmaps("metadata.name=cm-a").matches(o)] == ["cm-a"]
        assert [o["metadata"]["name"] for o in objects if configmaps("metadata.name==cm-a").matches(o)] == ["cm-a"]
        assert [o["metadata"]["name"] for o in objects
                if configmaps("metadata.name!=cm-a,metadata.namespace=ns").matches(o)] == ["cm-b", "cm-c"]

    def test_an_unknown_configmap_field_names_the_known_ones(self) -> None:
        assert rejection(configmaps, "data.k=v") == \
            '"data.k" is not a known field selector: only "metadata.name", "metadata.namespace"'

    def test_an_unknown_custom_resource_field_is_not_supported(self) -> None:
        assert rejection(parse_field_selector, "spec.size=3", CONFIGMAP_FIELDS, custom=True, kind="Widget") == \
            "field label not supported: spec.size"

    @pytest.mark.parametrize("kind", ["Event", "Pod", "Secret", "Node", "Namespace", "Service"])
    def test_built_in_kinds_with_their_own_field_check_say_not_supported(self, kind: str) -> None:
        assert rejection(parse_field_selector, "message=x", EVENT_FIELDS, custom=False, kind=kind) == \
            "field label not supported: message"

    def test_a_custom_kind_named_like_a_built_in_gets_no_built_in_field_aliases(self) -> None:
        assert rejection(parse_field_selector, "source=x", CONFIGMAP_FIELDS, custom=True, kind="Event") == \
            "field label not supported: source"

    def test_a_missing_field_compares_as_empty(self) -> None:
        assert configmaps("metadata.namespace=").matches({"metadata": {"name": "node-1"}})
        assert not configmaps("metadata.namespace!=").matches({"metadata": {}})

    def test_event_fields_select_what_kube_apiserver_selected(self) -> None:
        def event(name: str, reason: str, regarding: str, uid: str, type_: str) -> dict[str, Any]:
            return {"metadata": {"name": name}, "reason": reason, "type": type_, "source": {"component": "rec"},
                    "involvedObject": {"kind": "Widget", "name": regarding, "uid": uid}}

        events = [event("w-ev.1", "Created", "w-ev", "u1", "Normal"),
                  event("w-ev.2", "Scaled", "w-ev", "u1", "Warning"),
                  event("w-other.1", "Created", "w-other", "u2", "Normal"),
                  event("w-ev.3", "Odd", "w-ev", "u1", "Bogus")]

        def listed(text: str) -> list[str]:
            selector = parse_field_selector(text, EVENT_FIELDS, custom=False, kind="Event")
            return sorted(e["metadata"]["name"] for e in events if selector.matches(e))

        assert listed("involvedObject.name=w-ev,involvedObject.kind=Widget") == ["w-ev.1", "w-ev.2", "w-ev.3"]
        assert listed("involvedObject.uid=u1,type=Warning") == ["w-ev.2"]
        assert listed("reason=Created") == ["w-ev.1", "w-other.1"]
        assert listed("source=rec") == ["w-ev.1", "w-ev.2", "w-ev.3", "w-other.1"]

    def test_pod_fields_resolve_nested_paths_booleans_and_the_old_spec_host_name(self) -> None:
        def pods(text: str) -> FieldSelector:
            return parse_field_selector(text, POD_FIELDS, custom=False, kind="Pod")

        pod = {"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
        assert pods("spec.nodeName=n1,status.phase=Running").matches(pod)
        assert pods("spec.host=n1").matches(pod) and str(pods("spec.host=n1")) == "spec.nodeName=n1"
        assert pods("spec.hostNetwork=false").matches(pod)
        assert pods("spec.hostNetwork=true").matches({"spec": {"hostNetwork": True}})


class TestFieldSelectorGrammar:
    def test_an_empty_selector_matches_everything(self) -> None:
        selector = configmaps("")
        assert selector.is_empty and str(selector) == "" and selector.matches({})
        assert configmaps(",,").is_empty

    def test_requirements_are_sorted_and_double_equals_is_equals(self) -> None:
        selector = configmaps("metadata.namespace==b,metadata.name!=a")
        assert [(r.field, r.operator, r.value) for r in selector.requirements] == [
            ("metadata.name", "!=", "a"), ("metadata.namespace", "=", "b")]
        assert str(selector) == "metadata.name!=a,metadata.namespace=b"

    def test_escaped_commas_equals_and_backslashes_belong_to_the_value(self) -> None:
        selector = configmaps(r"metadata.name=a\,b\=c\\d")
        assert selector.requirements[0].value == "a,b=c\\d"
        assert str(selector) == r"metadata.name=a\,b\=c\\d"
        assert selector.matches({"metadata": {"name": "a,b=c\\d"}})

    @pytest.mark.parametrize(("text", "message"), [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
        (r"metadata.name=a\x", "invalid field selector: invalid escape sequence: \\x"),
        ("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"),
    ])
    def test_malformed_field_selectors_are_rejected_with_apimachinerys_message(self, text: str,
                                                                               message: str) -> None:
        assert rejection(configmaps, text) == message

    def test_a_syntax_error_is_reported_before_an_unsupported_field(self) -> None:
        assert rejection(configmaps, "data.k=v,oops").startswith("invalid selector:")


# ---- properties -------------------------------------------------------------------------------------

KEYS = ["a", "b", "example.com/c"]
VALUES = ["", "x", "y", "1", "5", "10"]
KEY = st.sampled_from(KEYS)
VALUE = st.sampled_from(VALUES)
REQUIREMENT: st.SearchStrategy[tuple[str, str, list[str]]] = st.one_of(
    st.tuples(KEY, st.sampled_from(["=", "==", "!="]), VALUE.map(lambda v: [v])),
    # kube's grammar rejects two empty values in a row before ")" (`(,,)`), so empties stand alone
    st.tuples(KEY, st.sampled_from(["in", "notin"]),
              st.lists(VALUE.filter(bool), min_size=1, max_size=3) | st.just([""])),
    st.tuples(KEY, st.sampled_from(["exists", "!"]), st.just([])),
    st.tuples(KEY, st.sampled_from([">", "<"]), st.sampled_from(["1", "5", "10"]).map(lambda v: [v])),
)
LABELS = st.dictionaries(KEY, VALUE | st.just("seven"), max_size=3)
SPACE = st.sampled_from(["", " ", "  ", "\t"])


def render(requirement: tuple[str, str, list[str]], pad: str) -> str:
    key, op, values = requirement
    if op == "exists":
        return f"{pad}{key}{pad}"
    if op == "!":
        return f"{pad}!{key}{pad}"
    if op in ("in", "notin"):
        return f"{pad}{key} {op}{pad}({pad}{','.join(values)}{pad}){pad}"
    return f"{pad}{key}{pad}{op}{values[0]}{pad}"


def model(requirement: tuple[str, str, list[str]], labels: Mapping[str, str]) -> bool:
    key, op, values = requirement
    value = labels.get(key)
    if op in ("=", "==", "in"):
        return value in values
    if op in ("!=", "notin"):
        return value not in values
    if op in (">", "<"):
        if value is None or not value.lstrip("-").isdigit():
            return False
        return int(value) > int(values[0]) if op == ">" else int(value) < int(values[0])
    return (value is not None) == (op == "exists")


class TestLabelSelectorProperties:
    @settings(deadline=None)
    @given(st.lists(st.tuples(REQUIREMENT, SPACE), max_size=4))
    def test_str_round_trips_through_the_parser(self, parts: list[tuple[Any, str]]) -> None:
        selector = parse_label_selector(",".join(render(r, pad) for r, pad in parts))
        assert parse_label_selector(str(selector)) == selector
        assert str(parse_label_selector(str(selector))) == str(selector)

    @settings(deadline=None)
    @given(st.lists(REQUIREMENT, max_size=4), LABELS)
    def test_a_selector_matches_exactly_the_label_sets_the_model_predicts(
            self, requirements: list[tuple[str, str, list[str]]], labels: dict[str, str]) -> None:
        selector = parse_label_selector(",".join(render(r, "") for r in requirements))
        assert selector.matches(labels) == all(model(r, labels) for r in requirements)


FIELD_VALUE = st.text(alphabet="ab,=\\ ", max_size=5)


class TestFieldSelectorProperties:
    @settings(deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(CONFIGMAP_FIELDS), st.sampled_from(["=", "==", "!="]),
                              FIELD_VALUE), max_size=3),
           st.fixed_dictionaries({"name": FIELD_VALUE, "namespace": FIELD_VALUE}))
    def test_escaped_values_round_trip_and_match_the_model(self, terms: list[tuple[str, str, str]],
                                                           metadata: dict[str, str]) -> None:
        def escape(value: str) -> str:
            return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")

        selector = configmaps(",".join(f"{f}{op}{escape(v)}" for f, op, v in terms))
        assert configmaps(str(selector)) == selector
        expected = all((metadata[f.split(".")[1]] == v) == (op != "!=") for f, op, v in terms)
        assert selector.matches({"metadata": metadata}) == expected
