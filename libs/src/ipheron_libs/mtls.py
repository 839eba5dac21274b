"""Mutual TLS between the deployables: credentials, the caller's identity, a development PKI.

A deployable's TLS material is one directory with `tls.crt`, `tls.key` and `ca.crt`
(the layout of a Kubernetes TLS Secret with its CA, which the chart mounts at
/etc/ipheron/tls). The certificate's common name is the deployable's identity
(`gateway`, `assets`, ...): servers require a client certificate signed by the CA
and allow each RPC only to the identities `ipheron_libs.access` names.

`generate_dev_pki` writes a CA and one certificate per identity (ECDSA P-256, SAN
localhost/127.0.0.1 and the name) for `make run` and the tests; a cluster issues its
own (cert-manager or existing Secrets).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import grpc

CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
CA_FILE = "ca.crt"


@dataclass(frozen=True)
class TlsIdentity:
    """One deployable's certificate, key and the CA it trusts, read from `directory`."""

    certificate: bytes
    private_key: bytes
    ca: bytes

    @classmethod
    def load(cls, directory: Path | str) -> TlsIdentity:
        d = Path(directory)
        missing = [n for n in (CERT_FILE, KEY_FILE, CA_FILE) if not (d / n).is_file()]
        if missing:
            raise FileNotFoundError(f"TLS directory {d} lacks {', '.join(missing)}")
        return cls((d / CERT_FILE).read_bytes(), (d / KEY_FILE).read_bytes(), (d / CA_FILE).read_bytes())

    def server_credentials(self) -> grpc.ServerCredentials:
        """Serve with this certificate and require a client certificate signed by the CA."""
        return grpc.ssl_server_credentials([(self.private_key, self.certificate)], root_certificates=self.ca,
                                           require_client_auth=True)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Dial presenting this certificate, trusting only servers signed by the CA."""
        return grpc.ssl_channel_credentials(root_certificates=self.ca, private_key=self.private_key,
                                            certificate_chain=self.certificate)


def peer_identity(context: grpc.aio.ServicerContext) -> str | None:
    """The verified common name of the caller's client certificate, or None (plaintext, no certificate)."""
    names = context.auth_context().get("x509_common_name") or []
    for name in names:
        return name.decode() if isinstance(name, bytes) else str(name)
    return None


def operator_tls_dir() -> Path | None:
    """Where an operator tool's (reconcile, demo import) certificate is: IPHERON_TLS_DIR, else the
    "operator" one `make run` made under the data folder, else None (a stack without TLS)."""
    import os

    configured = os.environ.get("IPHERON_TLS_DIR")
    if configured:
        return Path(configured)
    made = Path(os.environ.get("DATA_DIR", ".data")) / "tls" / "operator"
    return made if (made / CERT_FILE).is_file() else None


def operator_identity() -> TlsIdentity | None:
    """The operator tool's certificate (`operator_tls_dir`), or None."""
    where = operator_tls_dir()
    return TlsIdentity.load(where) if where is not None else None


def generate_dev_pki(directory: Path | str, names: Iterable[str], *, days: int = 365) -> Path:
    """A CA and one certificate per name under `directory/<name>/` (kept when already there).

    Development and tests only: the CA key stays in `directory/ca/`. Returns `directory`.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    root = Path(directory)
    ca_dir = root / "ca"
    ca_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    pem = serialization.Encoding.PEM

    def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    if (ca_dir / CERT_FILE).is_file() and (ca_dir / KEY_FILE).is_file():
        ca_cert = x509.load_pem_x509_certificate((ca_dir / CERT_FILE).read_bytes())
        loaded = serialization.load_pem_private_key((ca_dir / KEY_FILE).read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key = loaded
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ipheron development CA")])
        ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .sign(ca_key, hashes.SHA256()))
        (ca_dir / KEY_FILE).write_bytes(key_pem(ca_key))
        (ca_dir / KEY_FILE).chmod(0o600)
        (ca_dir / CERT_FILE).write_bytes(ca_cert.public_bytes(pem))
    ca_pem = ca_cert.public_bytes(pem)
    for name in names:
        d = root / name
        if (d / CERT_FILE).is_file() and (d / CA_FILE).read_bytes() == ca_pem:
            continue
        d.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName(name), x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        (d / KEY_FILE).write_bytes(key_pem(key))
        (d / KEY_FILE).chmod(0o600)
        (d / CERT_FILE).write_bytes(cert.public_bytes(pem))
        (d / CA_FILE).write_bytes(ca_pem)
    return root
