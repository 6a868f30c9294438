"""The node client's kubeconfig loader and TLS settings for the local cluster's HTTPS kubeconfig."""

from __future__ import annotations

import base64
import ssl
import tempfile
from pathlib import Path

import pytest
import yaml

from e2e.localcluster.apiserver.auth.certs import ensure_pki, serving_sans
from e2e.localcluster.node import load_kubeconfig, ssl_context


def kubeconfig(path: Path, cluster: dict[str, object], user: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": cluster}], "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}))
    return path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_inline_ca_and_client_certificate_load_into_one_tls_context_leaving_no_key_file(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "state", serving_sans("10.96.0.0/16"))
    path = kubeconfig(tmp_path / "kc", {"server": "https://127.0.0.1:6443",
                                        "certificate-authority-data": b64(pki.ca_cert_pem)},
                      {"client-certificate-data": b64(pki.admin_cert_pem), "client-key-data": b64(pki.admin_key_pem)})
    config = load_kubeconfig(path)
    assert config.cert_data == pki.admin_cert_pem.decode() and config.ca_data == pki.ca_cert_pem.decode()
    assert "PRIVATE KEY" not in repr(config)  # the key never shows in logs
    before = set(Path(tempfile.gettempdir()).glob("localcluster-client-*"))
    context = ssl_context(config)
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
    assert set(Path(tempfile.gettempdir()).glob("localcluster-client-*")) == before


def test_inline_data_that_is_not_base64_is_a_clear_error(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", {"server": "https://127.0.0.1:6443", "certificate-authority-data": "%%%"},
                      {})
    with pytest.raises(ValueError, match="certificate-authority-data is not base64-encoded PEM"):
        load_kubeconfig(path)


def test_plain_http_needs_no_tls_settings(tmp_path: Path) -> None:
    assert ssl_context(load_kubeconfig(kubeconfig(tmp_path / "kc", {"server": "http://127.0.0.1:1"}, {}))) is True
