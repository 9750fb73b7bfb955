"""The mutual-TLS PKI between us and the partner bank: a CA, server and client certificates, the
TLS contexts of both ends, and the client's name as the server saw it.

Both inbox and outbox at the bank, and our ``/bankfiles/`` endpoint that the bank pulls from,
require a client certificate (``ssl.CERT_REQUIRED``) issued by a CA the other side trusts from a
file. Keys are EC P-256 (fast to make in tests, supported by every TLS 1.2+ stack); private key
files are created 0600 and replaced atomically. Files::

    ca.pem, ca.key                     generate_ca(dir, name)
    server.pem, server.key             issue_server_cert(ca, dir, hostnames)
    client-<name>.pem, .key            issue_client_cert(ca, dir, "tongjiao"), ... "bank:ICBC"
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from adapters.simkit import certs

CA_DAYS = 3650
LEAF_DAYS = 825  # the longest validity clients accept for a TLS server certificate
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")
_BACKDATED = timedelta(minutes=5)  # the other side's clock may be a little behind ours


@dataclass(frozen=True)
class CertFiles:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path

    def exists(self) -> bool:
        return self.cert.exists() and self.key.exists()


def ca_files(directory: Path) -> CertFiles:
    return CertFiles(directory / "ca.pem", directory / "ca.key")


def server_files(directory: Path) -> CertFiles:
    return CertFiles(directory / "server.pem", directory / "server.key")


def client_files(directory: Path, common_name: str) -> CertFiles:
    """Where ``issue_client_cert`` puts the certificate for ``common_name`` ("bank:ICBC" is
    ``client-bank_ICBC.pem``)."""
    slug = _SLUG.sub("_", common_name).strip("_") or "client"
    return CertFiles(directory / f"client-{slug}.pem", directory / f"client-{slug}.key")


def generate_ca(directory: Path, name: str) -> CertFiles:
    """A new self-signed CA named ``name`` in ``directory`` (ca.pem, ca.key); replaces one there."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        certs.builder(
            subject,
            subject,
            key.public_key(),
            now,
            ca=0,
            usage=("digital_signature", "key_cert_sign", "crl_sign"),
            valid_for=timedelta(days=CA_DAYS),
            backdated=_BACKDATED,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    files = ca_files(directory)
    _write(files, cert, key)
    return files


def issue_server_cert(
    ca: CertFiles, directory: Path, hostnames: Sequence[str] = ("127.0.0.1", "localhost")
) -> CertFiles:
    """A server certificate for ``hostnames`` (IP addresses become IP SANs, the rest DNS SANs)."""
    if not hostnames:
        raise ValueError("a server certificate needs at least one host name")
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    files = server_files(directory)
    _issue(ca, files, hostnames[0], ExtendedKeyUsageOID.SERVER_AUTH, names)
    return files


def issue_client_cert(ca: CertFiles, directory: Path, common_name: str) -> CertFiles:
    """A client certificate whose subject CN is ``common_name`` ("tongjiao", "bank:ICBC")."""
    if not common_name:
        raise ValueError("a client certificate needs a common name")
    files = client_files(directory, common_name)
    _issue(ca, files, common_name, ExtendedKeyUsageOID.CLIENT_AUTH, [])
    return files


def ensure_pki(
    directory: Path, *, ca_name: str, hostnames: Sequence[str], clients: Sequence[str]
) -> list[Path]:
    """Generate what is missing in ``directory``: the CA, the server certificate, one client
    certificate per name in ``clients``. A new CA re-issues everything. The files written."""
    ca = ca_files(directory)
    fresh = not ca.exists()
    if fresh:
        generate_ca(directory, ca_name)
    written = [ca.cert] if fresh else []
    if fresh or not server_files(directory).exists():
        written.append(issue_server_cert(ca, directory, hostnames).cert)
    for name in clients:
        if fresh or not client_files(directory, name).exists():
            written.append(issue_client_cert(ca, directory, name).cert)
    return written


def server_ssl_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    """TLS 1.2+ server side that refuses, during the handshake, any client without a certificate
    issued by ``client_ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(client_ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(str(cert), str(key))
    return context


def client_ssl_context(cert: Path | None, key: Path | None, server_ca: Path) -> ssl.SSLContext:
    """TLS 1.2+ client side that trusts only ``server_ca`` and checks the host name; presents
    ``cert`` when given."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(server_ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None and key is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def peer_common_name(source: web.BaseRequest | asyncio.BaseTransport | None) -> str | None:
    """The CN of the client certificate the TLS layer verified, or None (plain HTTP, no
    certificate). Only meaningful behind a context with ``CERT_REQUIRED``: ``getpeercert``
    returns the subject of verified certificates only."""
    transport = source.transport if isinstance(source, web.BaseRequest) else source
    if transport is None:
        return None
    peer: Any = transport.get_extra_info("peercert")
    if not isinstance(peer, dict):
        return None
    for rdn in peer.get("subject", ()):
        for attribute, value in rdn:
            if attribute == "commonName" and isinstance(value, str):
                return value
    return None


def _issue(
    ca: CertFiles,
    files: CertFiles,
    common_name: str,
    usage: x509.ObjectIdentifier,
    alt_names: list[x509.GeneralName],
) -> None:
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca.key} is not an EC private key")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        certs.builder(
            subject,
            ca_cert.subject,
            key.public_key(),
            now,
            ca=None,
            usage=("digital_signature", "key_agreement"),
            valid_for=timedelta(days=LEAF_DAYS),
            backdated=_BACKDATED,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    _write(files, builder.sign(ca_key, hashes.SHA256()), key)


def _write(files: CertFiles, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    files.cert.parent.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # the key first: a certificate on disk always has its key next to it
    _replace(files.key, key_pem, 0o600)
    _replace(files.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _replace(path: Path, data: bytes, mode: int) -> None:
    # mkstemp creates the file 0600, so a key is never readable by others, not even briefly
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
