"""Warning headers: kube's format, and always a valid header value whatever the text holds."""

from __future__ import annotations

import aiohttp
import pytest

from e2e.localcluster.apiserver import LocalApiServer
from e2e.localcluster.apiserver.http.bodies import warning_header


def test_quotes_and_backslashes_are_escaped() -> None:
    assert warning_header('unknown field "spec.a\\b"') == '299 - "unknown field \\"spec.a\\\\b\\""'


def test_control_characters_become_spaces() -> None:
    assert warning_header("unknown field \"spec.a\nb\x7f\"") == '299 - "unknown field \\"spec.a b \\""'


@pytest.mark.asyncio
async def test_a_field_name_with_a_newline_still_gets_its_warning() -> None:
    server = LocalApiServer(host="127.0.0.1", port=0)
    await server.start()
    try:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}, "bad\nfield": 1}
        async with aiohttp.ClientSession() as http, http.post(
            f"{server.url}/api/v1/namespaces/default/configmaps?fieldValidation=Warn", json=body
        ) as resp:
            assert resp.status == 201
            assert resp.headers.getall("Warning") == ['299 - "unknown field \\"bad field\\""']
    finally:
        await server.stop()
