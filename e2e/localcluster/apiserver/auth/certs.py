"""The local cluster's PKI: a CA, the API server's serving certificate, the admin's client certificate and the
ServiceAccount signing key, made at first start and kept in the state folder (kubeadm's file names).

Layout of `<state_dir>/pki/`: `ca.crt`, `ca.key`, `apiserver.crt`, `apiserver.key`, `admin.crt`, `admin.key`
(CN=kubernetes-admin, O=system:masters, as kind's admin credential), `sa.key`, `sa.pub` (RSA, RS256 tokens).
Private keys are written 0600, the folder 0700.

Guarantees:
1. `ensure_pki` reuses every file that is still valid: the CA while it has more than `RENEW_BEFORE` left; the
   serving certificate while it is signed by that CA, not near expiry and covers every requested SAN; the admin
   certificate while signed by that CA with the admin subject; the signing key always (tokens survive restarts).
   Anything else is made anew; a new CA re-issues both leaf certificates.
2. The serving certificate's SANs are exactly `serving_sans(...)`: 127.0.0.1, localhost, the `kubernetes`
   Service's ClusterIP (first address of the service CIDR), kubernetes, kubernetes.default,
   kubernetes.default.svc, kubernetes.default.svc.cluster.local, plus every extra name or address given.
3. Two processes starting on one state folder at once do not interleave: a lock file serialises them.
4. `server_ssl_context` serves the serving certificate and asks for (but does not require) a client
   certificate, which must then chain to the CA; `peer_user` reads kube's x509 identity from it (CN is the
   user, each O a group).

Not guaranteed: revocation. A client certificate not signed by the CA fails the TLS handshake itself (kube-apiserver
would complete it and answer 401).
Pure: `serving_sans`, `first_service_ip`, `needs_new_*`, `peer_user`. I/O: `ensure_pki`, `server_ssl_context`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .user import MASTERS, UserInfo

CA_NAME = "localcluster-ca"
ADMIN_NAME = "kubernetes-admin"
CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
CLUSTER_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local")
_SKEW = dt.timedelta(hours=1)  # not-before a little in the past, for clocks slightly behind ours


class PkiError(Exception):
    """The state folder cannot hold the PKI (not writable, or a file in the way)."""


@dataclass(frozen=True)
class Pki:
    """Where the PKI lives, with the PEM bytes clients need (CA, admin credential) and the signing key."""

    directory: Path
    ca_cert_pem: bytes
    admin_cert_pem: bytes
    admin_key_pem: bytes
    sa_key: rsa.RSAPrivateKey
    sans: tuple[str, ...]

    @property
    def serving_cert_file(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key_file(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.crt"


# ---- pure decisions -------------------------------------------------------------------------------------------


def first_service_ip(service_cidr: str) -> str:
    """The `kubernetes` Service's ClusterIP: the first host address of the service range (10.96.0.1)."""
    try:
        net = ipaddress.ip_network(service_cidr, strict=False)
    except ValueError as exc:
        raise ValueError(f"invalid service CIDR {service_cidr!r}: {exc}") from None
    if net.num_addresses < 2:
        raise ValueError(f"service CIDR {service_cidr!r} has no room for the kubernetes Service")
    return str(net.network_address + 1)


def serving_sans(service_cidr: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The serving certificate's names, deduplicated, in a stable order (see guarantee 2)."""
    names = ["127.0.0.1", "localhost", first_service_ip(service_cidr), *CLUSTER_NAMES, *extra]
    out: list[str] = []
    for name in names:
        name = name.strip()
        if not name:
            raise ValueError("an empty name cannot be a subject alternative name")
        if name not in out:
            out.append(name)
    return tuple(out)


def _san_entries(sans: Sequence[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for name in sans:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def cert_sans(cert: x509.Certificate) -> set[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in ext.get_values_for_type(x509.IPAddress)} | set(ext.get_values_for_type(x509.DNSName))


def _near_expiry(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_after_utc - now < RENEW_BEFORE or cert.not_valid_before_utc > now


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def needs_new_ca(ca: x509.Certificate | None, now: dt.datetime) -> bool:
    return ca is None or _near_expiry(ca, now)


def needs_new_serving_cert(cert: x509.Certificate | None, ca: x509.Certificate, sans: Sequence[str],
                           now: dt.datetime) -> bool:
    return cert is None or _near_expiry(cert, now) or not _signed_by(cert, ca) or not set(sans) <= cert_sans(cert)


def needs_new_admin_cert(cert: x509.Certificate | None, ca: x509.Certificate, now: dt.datetime) -> bool:
    if cert is None or _near_expiry(cert, now) or not _signed_by(cert, ca):
        return True
    subject = cert.subject
    cns = [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return cns != [ADMIN_NAME] or orgs != [MASTERS]


def peer_user(peercert: Any) -> UserInfo | None:
    """kube's x509 user from `ssl.SSLSocket.getpeercert()`: CN is the name, each O a group; None without one."""
    if not isinstance(peercert, dict):
        return None
    name = ""
    groups: list[str] = []
    for rdn in peercert.get("subject") or ():
        for key, value in rdn:
            if key == "commonName":
                name = str(value)
            elif key == "organizationName":
                groups.append(str(value))
    if not name:
        return None
    return UserInfo(name=name, groups=(*groups, "system:authenticated"))


# ---- making certificates --------------------------------------------------------------------------------------


def _name(cn: str, orgs: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _new_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _builder(subject: x509.Name, issuer: x509.Name, key: Any, now: dt.datetime,
             validity: dt.timedelta) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - _SKEW)
            .not_valid_after(now + validity))


def make_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_ec_key()
    name = _name(CA_NAME)
    cert = (_builder(name, name, key, now, CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_leaf(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, *, cn: str, orgs: Sequence[str] = (),
              sans: Sequence[str] = (), server: bool, now: dt.datetime) -> tuple[x509.Certificate,
                                                                                ec.EllipticCurvePrivateKey]:
    """A certificate signed by the CA: a serving one (with SANs) or a client one (CN user, O groups)."""
    key = _new_ec_key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (_builder(_name(cn, orgs), ca.subject, key, now, LEAF_VALIDITY)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(_san_entries(sans)), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# ---- the state folder -------------------------------------------------------------------------------------------


def ensure_pki(state_dir: str | Path, sans: Sequence[str], *, now: dt.datetime | None = None) -> Pki:
    """Load the PKI from `<state_dir>/pki`, making or renewing what is missing or invalid (guarantee 1)."""
    when = now or dt.datetime.now(dt.UTC)
    directory = Path(state_dir) / "pki"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise PkiError(f"cannot create the PKI folder {directory}: {exc.strerror or exc}") from exc
    with _locked(directory):
        ca, ca_key = _load_pair(directory, "ca")
        if ca is None or ca_key is None or needs_new_ca(ca, when):
            ca, ca_key = make_ca(when)
            _write_pair(directory, "ca", ca, ca_key)
        serving, serving_key = _load_pair(directory, "apiserver")
        if serving is None or serving_key is None or needs_new_serving_cert(serving, ca, sans, when):
            serving, serving_key = make_leaf(ca, ca_key, cn="kube-apiserver", sans=sans, server=True, now=when)
            _write_pair(directory, "apiserver", serving, serving_key)
        admin, admin_key = _load_pair(directory, "admin")
        if admin is None or admin_key is None or needs_new_admin_cert(admin, ca, when):
            admin, admin_key = make_leaf(ca, ca_key, cn=ADMIN_NAME, orgs=(MASTERS,), server=False, now=when)
            _write_pair(directory, "admin", admin, admin_key)
        sa_key = _load_sa_key(directory)
        return Pki(directory=directory, ca_cert_pem=cert_pem(ca), admin_cert_pem=cert_pem(admin),
                   admin_key_pem=key_pem(admin_key), sa_key=sa_key, sans=tuple(sans))


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _load_pair(directory: Path, stem: str) -> tuple[x509.Certificate | None, Any]:
    try:
        cert = x509.load_pem_x509_certificate((directory / f"{stem}.crt").read_bytes())
        key = serialization.load_pem_private_key((directory / f"{stem}.key").read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None, None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return None, None
    return cert, key


def _load_sa_key(directory: Path) -> rsa.RSAPrivateKey:
    path = directory / "sa.key"
    with contextlib.suppress(OSError, ValueError, TypeError):
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(key, rsa.RSAPrivateKey):
            return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write(path, key_pem(key), private=True)
    _write(directory / "sa.pub", key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), private=False)
    return key


def _write_pair(directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    _write(directory / f"{stem}.key", key_pem(key), private=True)
    _write(directory / f"{stem}.crt", cert_pem(cert), private=False)


def _write(path: Path, data: bytes, *, private: bool) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        tmp.replace(path)
    except OSError as exc:
        raise PkiError(f"cannot write {path}: {exc.strerror or exc}") from exc


def server_ssl_context(pki: Pki) -> ssl.SSLContext:
    """TLS 1.2+ with the serving certificate; client certificates optional, verified against the CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki.serving_cert_file, pki.serving_key_file)
    ctx.load_verify_locations(cadata=pki.ca_cert_pem.decode())
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx
