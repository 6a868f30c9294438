"""The Status -> typed error mapping (rayservice.kube.errors)."""

from __future__ import annotations

import json

import pytest

from rayservice.kube import (
    AlreadyExists,
    ApiError,
    Conflict,
    Gone,
    Invalid,
    KubeError,
    KubeTransportError,
    NotFound,
    ServerError,
    TooManyRequests,
    UnsupportedMediaType,
    error_from_response,
    error_from_status,
)


def _status(code: int, reason: str, message: str = "m", **extra: object) -> dict[str, object]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
        **extra,
    }


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (404, "NotFound", NotFound),
        (409, "AlreadyExists", AlreadyExists),
        (409, "Conflict", Conflict),
        (410, "Expired", Gone),
        (410, "Gone", Gone),
        (415, "UnsupportedMediaType", UnsupportedMediaType),
        (422, "Invalid", Invalid),
        (429, "TooManyRequests", TooManyRequests),
        (500, "InternalError", ServerError),
        (503, "ServiceUnavailable", ServerError),
        (504, "Timeout", ServerError),
    ],
)
def test_each_status_code_maps_to_its_own_error_class(code: int, reason: str, expected: type[ApiError]) -> None:
    error = error_from_status(code, _status(code, reason))
    assert type(error) is expected
    assert (error.status, error.reason, error.message) == (code, reason, "m")


def test_codes_without_a_class_of_their_own_give_a_plain_api_error() -> None:
    for code in (400, 401, 403, 405):
        error = error_from_status(code, _status(code, "Whatever"))
        assert type(error) is ApiError
        assert error.status == code


def test_every_typed_error_is_an_api_error_and_a_kube_error() -> None:
    for cls in (NotFound, AlreadyExists, Conflict, Gone, UnsupportedMediaType, Invalid, TooManyRequests, ServerError):
        assert issubclass(cls, ApiError)
        assert issubclass(cls, KubeError)
    assert issubclass(KubeTransportError, KubeError)
    assert not issubclass(KubeTransportError, ApiError)


def test_an_already_exists_conflict_is_not_a_stale_write_conflict() -> None:
    assert not isinstance(error_from_status(409, _status(409, "AlreadyExists")), Conflict)
    assert not isinstance(error_from_status(409, _status(409, "Conflict")), AlreadyExists)


def test_invalid_keeps_the_field_causes_the_server_listed() -> None:
    causes = [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.x"}]
    error = error_from_status(422, _status(422, "Invalid", details={"name": "a", "causes": causes}))
    assert isinstance(error, Invalid)
    assert error.causes == causes
    assert error.details["name"] == "a"


def test_too_many_requests_prefers_the_retry_after_header_then_the_status_details() -> None:
    status = _status(429, "TooManyRequests", details={"retryAfterSeconds": 7})
    from_header = error_from_status(429, status, retry_after_s=3.0)
    from_details = error_from_status(429, status)
    default = error_from_status(429, _status(429, "TooManyRequests"))
    assert isinstance(from_header, TooManyRequests) and from_header.retry_after_s == 3.0
    assert isinstance(from_details, TooManyRequests) and from_details.retry_after_s == 7.0
    assert isinstance(default, TooManyRequests) and default.retry_after_s == 1.0


def test_a_status_without_http_code_uses_the_code_inside_it() -> None:
    error = error_from_status(0, _status(410, "Expired", "too old resource version: 5 (10)"))
    assert isinstance(error, Gone)
    assert "too old" in error.message


def test_an_error_answer_whose_body_is_not_json_is_still_typed() -> None:
    error = error_from_response(404, "404 page not found\n", reason="Not Found")
    assert isinstance(error, NotFound)
    assert error.message == "404 page not found"
    assert error.reason == "NotFound"


def test_an_error_answer_with_an_empty_body_is_still_typed() -> None:
    error = error_from_response(503, "", reason="Service Unavailable")
    assert isinstance(error, ServerError)
    assert error.message == "Service Unavailable"


def test_an_error_answer_reads_retry_after_from_the_header_value() -> None:
    body = json.dumps(_status(429, "TooManyRequests"))
    error = error_from_response(429, body, retry_after="2")
    assert isinstance(error, TooManyRequests)
    assert error.retry_after_s == 2.0
    garbled = error_from_response(429, body, retry_after="soon")
    assert isinstance(garbled, TooManyRequests) and garbled.retry_after_s == 1.0


def test_a_failure_without_any_status_code_is_a_plain_kube_error() -> None:
    error = error_from_response(0, "", reason="client-side validation failed")
    assert type(error) is KubeError
    assert "validation" in str(error)


def test_the_error_message_names_code_reason_and_message() -> None:
    assert str(error_from_status(404, _status(404, "NotFound", 'pods "x" not found'))) == (
        '404 NotFound: pods "x" not found'
    )
