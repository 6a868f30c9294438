"""The local cluster's PKI: made once, reused while valid, renewed when it no longer fits."""

from __future__ import annotations

import datetime as dt
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from e2e.localcluster.apiserver.auth import certs

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
SANS = certs.serving_sans("10.96.0.0/16")


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_serving_sans_are_loopback_the_kubernetes_service_and_its_dns_names() -> None:
    assert certs.serving_sans("10.96.0.0/16", ["10.244.0.1"]) == (
        "127.0.0.1", "localhost", "10.96.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local", "10.244.0.1")
    assert certs.serving_sans("10.100.0.0/24")[2] == "10.100.0.1"


def test_a_bad_service_cidr_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="invalid service CIDR 'nope'"):
        certs.serving_sans("nope")
    with pytest.raises(ValueError, match="empty name"):
        certs.serving_sans("10.96.0.0/16", [" "])


def test_first_start_makes_ca_serving_admin_and_signing_key_with_private_keys_0600(tmp_path: Path) -> None:
    pki = certs.ensure_pki(tmp_path, SANS, now=NOW)
    files = {p.name for p in pki.directory.iterdir()} - {".lock"}
    assert files == {"ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "admin.crt", "admin.key", "sa.key",
                     "sa.pub"}
    for name in ("ca.key", "apiserver.key", "admin.key", "sa.key"):
        assert stat.S_IMODE((pki.directory / name).stat().st_mode) == 0o600
    serving = _cert(pki.serving_cert_file)
    assert certs.cert_sans(serving) == set(SANS)
    serving.verify_directly_issued_by(_cert(pki.ca_file))
    admin = x509.load_pem_x509_certificate(pki.admin_cert_pem)
    assert admin.subject.rfc4514_string() == "CN=kubernetes-admin,O=system:masters"


def test_a_second_start_reuses_every_file(tmp_path: Path) -> None:
    first = certs.ensure_pki(tmp_path, SANS, now=NOW)
    before = {p.name: p.read_bytes() for p in first.directory.iterdir()}
    second = certs.ensure_pki(tmp_path, SANS, now=NOW + dt.timedelta(days=100))
    assert {p.name: p.read_bytes() for p in second.directory.iterdir()} == before
    assert second.ca_cert_pem == first.ca_cert_pem and second.admin_key_pem == first.admin_key_pem


def test_a_new_san_reissues_only_the_serving_certificate(tmp_path: Path) -> None:
    first = certs.ensure_pki(tmp_path, SANS, now=NOW)
    serving_before = first.serving_cert_file.read_bytes()
    second = certs.ensure_pki(tmp_path, (*SANS, "10.244.0.1"), now=NOW)
    assert second.ca_cert_pem == first.ca_cert_pem and second.admin_cert_pem == first.admin_cert_pem
    assert second.serving_cert_file.read_bytes() != serving_before
    assert "10.244.0.1" in certs.cert_sans(_cert(second.serving_cert_file))


def test_leaf_certificates_near_expiry_are_renewed_under_the_same_ca(tmp_path: Path) -> None:
    first = certs.ensure_pki(tmp_path, SANS, now=NOW)
    later = NOW + certs.LEAF_VALIDITY - dt.timedelta(days=1)
    second = certs.ensure_pki(tmp_path, SANS, now=later)
    assert second.ca_cert_pem == first.ca_cert_pem
    assert second.admin_cert_pem != first.admin_cert_pem
    assert _cert(second.serving_cert_file).not_valid_after_utc > later + dt.timedelta(days=300)


def test_an_expiring_ca_is_replaced_and_both_leaves_are_reissued_under_it(tmp_path: Path) -> None:
    first = certs.ensure_pki(tmp_path, SANS, now=NOW)
    sa_before = (first.directory / "sa.key").read_bytes()
    later = NOW + certs.CA_VALIDITY - dt.timedelta(days=1)
    second = certs.ensure_pki(tmp_path, SANS, now=later)
    assert second.ca_cert_pem != first.ca_cert_pem
    ca = _cert(second.ca_file)
    _cert(second.serving_cert_file).verify_directly_issued_by(ca)
    x509.load_pem_x509_certificate(second.admin_cert_pem).verify_directly_issued_by(ca)
    assert (second.directory / "sa.key").read_bytes() == sa_before  # tokens survive a CA rotation


def test_a_corrupt_file_is_replaced_not_fatal(tmp_path: Path) -> None:
    first = certs.ensure_pki(tmp_path, SANS, now=NOW)
    first.serving_cert_file.write_text("garbage")
    second = certs.ensure_pki(tmp_path, SANS, now=NOW)
    assert certs.cert_sans(_cert(second.serving_cert_file)) == set(SANS)
    assert second.ca_cert_pem == first.ca_cert_pem


def test_an_unwritable_state_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(certs.PkiError, match="cannot create the PKI folder"):
        certs.ensure_pki(blocker, SANS, now=NOW)


def test_peer_user_reads_cn_as_user_and_each_o_as_group() -> None:
    peer = {"subject": ((("organizationName", "system:masters"),), (("organizationName", "team"),),
                        (("commonName", "kubernetes-admin"),))}
    user = certs.peer_user(peer)
    assert user is not None
    assert user.name == "kubernetes-admin"
    assert user.groups == ("system:masters", "team", "system:authenticated")
    assert certs.peer_user(None) is None and certs.peer_user({}) is None


def test_in_memory_handshake_verifies_each_san_and_presents_the_admin_certificate(tmp_path: Path) -> None:
    pki = certs.ensure_pki(tmp_path, SANS, now=dt.datetime.now(dt.UTC))
    server_ctx = certs.server_ssl_context(pki)
    key_file, cert_file = tmp_path / "admin.key", tmp_path / "admin.crt"
    key_file.write_bytes(pki.admin_key_pem)
    cert_file.write_bytes(pki.admin_cert_pem)
    for san in SANS:
        client_ctx = ssl.create_default_context(cadata=pki.ca_cert_pem.decode())
        client_ctx.load_cert_chain(cert_file, key_file)
        peer = _handshake(server_ctx, client_ctx, san)
        user = certs.peer_user(peer)
        assert user is not None and user.name == "kubernetes-admin", san
    other = ssl.create_default_context(cadata=pki.ca_cert_pem.decode())
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(server_ctx, other, "example.com")


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, name: str) -> object:
    """Run a TLS handshake over memory BIOs; the server's view of the client certificate."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=name)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for side, obj in (("c", client), ("s", server)):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    return server.getpeercert()
