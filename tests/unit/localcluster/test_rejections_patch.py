"""Patch media types and malformed patch bodies, answered as kube-apiserver v1.36's patch handler answers them."""

from __future__ import annotations

import pytest

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.schema.validation import check_patch_type, decode_patch_body, unsupported_body_type
from e2e.localcluster.apiserver.schema.validation.gojson import syntax_error

JSON_PATCH = "application/json-patch+json"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def configmaps() -> ResourceType:
    found = Registry().lookup("", "v1", "configmaps")
    assert found is not None
    return found


def bad_request(ctype: str, raw: bytes, field_validation: str = "") -> str:
    with pytest.raises(ApiError) as info:
        decode_patch_body(ctype, raw, field_validation)
    assert (info.value.code, info.value.reason) == (400, "BadRequest")
    return info.value.message


class TestMediaTypes:
    def test_an_unknown_patch_type_lists_the_four_kube_accepts_for_built_ins(self) -> None:
        with pytest.raises(ApiError) as info:
            check_patch_type(configmaps(), "text/plain")
        assert (info.value.code, info.value.reason) == (415, "UnsupportedMediaType")
        assert info.value.message == ("the body of the request was in an unknown format - accepted media types "
                                      "include: application/json-patch+json, application/merge-patch+json, "
                                      "application/strategic-merge-patch+json, application/apply-patch+yaml")

    def test_charset_parameters_are_ignored(self) -> None:
        assert check_patch_type(configmaps(), MERGE + "; charset=utf-8") == MERGE

    def test_a_create_body_in_an_unknown_media_type_lists_the_body_types(self) -> None:
        err = unsupported_body_type()
        assert (err.code, err.message) == (415, "the body of the request was in an unknown format - accepted media "
                                                "types include: application/json, application/yaml, "
                                                "application/vnd.kubernetes.protobuf")


class TestBodies:
    @pytest.mark.parametrize("ctype", [JSON_PATCH, MERGE])
    def test_an_empty_json_or_merge_patch_cannot_be_decoded(self, ctype: str) -> None:
        assert bad_request(ctype, b"") == "error decoding patch: unexpected end of JSON input"

    def test_an_empty_strategic_patch_is_the_bare_json_error(self) -> None:
        assert bad_request(STRATEGIC, b"") == "unexpected end of JSON input"

    def test_malformed_json_names_the_character_as_go_does(self) -> None:
        assert bad_request(MERGE, b'{"a" 1}') == "error decoding patch: invalid character '1' after object key"
        assert bad_request(STRATEGIC, b"{'a': 1}") == \
            "invalid character '\\'' looking for beginning of object key string"

    def test_a_json_patch_that_is_not_a_list_of_operations(self) -> None:
        assert bad_request(JSON_PATCH, b"{}") == ("error decoding patch: json: cannot unmarshal object into Go value "
                                                  "of type []handlers.jsonPatchOp")
        assert bad_request(JSON_PATCH, b"[1]") == ("error decoding patch: json: cannot unmarshal number into Go "
                                                   "value of type handlers.jsonPatchOp")
        assert bad_request(JSON_PATCH, b'[{"op": 1}]') == ("error decoding patch: json: cannot unmarshal number "
                                                           "into Go struct field jsonPatchOp.op of type string")

    def test_a_merge_patch_that_is_not_an_object_or_is_null(self) -> None:
        assert bad_request(MERGE, b"[]") == ("error decoding patch: json: cannot unmarshal array into Go value of "
                                             "type map[string]interface {}")
        assert bad_request(MERGE, b"null") == "Invalid JSON Patch"

    def test_a_null_strategic_or_json_patch_changes_nothing(self) -> None:
        assert decode_patch_body(STRATEGIC, b"null", "") == {}
        assert decode_patch_body(JSON_PATCH, b"null", "") is None

    def test_with_ignore_the_merge_patch_library_words_it(self) -> None:
        assert bad_request(MERGE, b"{", "Ignore") == "Invalid JSON Patch"


class TestGoJsonSyntax:
    @pytest.mark.parametrize(("raw", "message"), [
        (b'{"a": 1}', None), (b" [1, 2.5e3, true, null, \"x\\u00e9\"] ", None),
        (b"", "unexpected end of JSON input"), (b'{"a": [1, 2', "unexpected end of JSON input"),
        (b"nul", "unexpected end of JSON input"),
        (b"x", "invalid character 'x' looking for beginning of value"),
        (b"nulx", "invalid character 'x' in literal null (expecting 'l')"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b'{"a":1 "b":2}', "invalid character '\"' after object key:value pair"),
        (b"{} {}", "invalid character '{' after top-level value"),
        (b"1.x", "invalid character 'x' after decimal point in numeric literal"),
        (b'"a\\q"', "invalid character 'q' in string escape code"),
        (b'"a\nb"', "invalid character '\\n' in string literal"),
    ])
    def test_go_scanner_messages(self, raw: bytes, message: str | None) -> None:
        assert syntax_error(raw) == message
