"""HTTPS: the user's certificate, or one Nimbus makes for its host names, signed by a local CA that
Nimbus makes once (``<data dir>/tls/ca.pem``, which ``nimbus env`` exports as AWS_CA_BUNDLE), so
boto3, the AWS CLI and the SageMaker SDK verify the server unchanged."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 397  # browsers' and Apple's limit on server certificates
ENABLED_MARKER = "enabled"  # written while the server serves HTTPS, read by `nimbus env`


@dataclass(frozen=True)
class ServerCertificate:
    certfile: Path
    keyfile: Path
    ca_bundle: Path | None  # the CA to trust; None for a certificate the user gave


def tls_folder(data_dir: Path) -> Path:
    return data_dir / "tls"


def serving_tls(data_dir: Path) -> Path | None:
    """The CA bundle of a Nimbus serving HTTPS from this data dir (its own CA's, or the user's
    certificate when it gave one), or None when it serves plain HTTP."""
    marker = tls_folder(data_dir) / ENABLED_MARKER
    return Path(marker.read_text().strip()) if marker.exists() else None


def prepare(
    data_dir: Path, hosts: list[str], certfile: Path | None, keyfile: Path | None
) -> ServerCertificate:
    folder = tls_folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if certfile is not None:
        found = ServerCertificate(certfile, keyfile or certfile, None)
        (folder / ENABLED_MARKER).write_text(str(certfile))
        return found
    ca_key, ca_cert = _certificate_authority(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    names = sorted({*hosts, "localhost", "*.localhost", "127.0.0.1", "::1"})
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName([_name(host) for host in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    certfile, keyfile = folder / "server.pem", folder / "server-key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(keyfile, key)
    (folder / ENABLED_MARKER).write_text(str(folder / "ca.pem"))
    return ServerCertificate(certfile, keyfile, folder / "ca.pem")


def disable(data_dir: Path) -> None:
    (tls_folder(data_dir) / ENABLED_MARKER).unlink(missing_ok=True)


def _certificate_authority(folder: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The local CA, made on first use and kept (so clients keep trusting it across restarts)."""
    cert_path, key_path = folder / "ca.pem", folder / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key, x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Nimbus local CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
