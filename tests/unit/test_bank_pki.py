"""The mutual-TLS PKI: certificates as issued, and what a server built on them lets through."""

from __future__ import annotations

import socket
import ssl
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from adapters.bank import pki


@pytest.fixture
def ca(tmp_path: Path) -> pki.CertFiles:
    return pki.generate_ca(tmp_path / "ca", "test CA")


def _cert(files: pki.CertFiles) -> x509.Certificate:
    return x509.load_pem_x509_certificate(files.cert.read_bytes())


@asynccontextmanager
async def serving(ca: pki.CertFiles, folder: Path) -> AsyncIterator[tuple[str, list[str | None]]]:
    """An HTTPS server requiring client certificates from ``ca``; it records each caller's CN."""
    seen: list[str | None] = []

    async def who(request: web.Request) -> web.Response:
        seen.append(pki.peer_common_name(request))
        return web.json_response({"cn": seen[-1]})

    app = web.Application()
    app.router.add_get("/who", who)
    server = pki.issue_server_cert(ca, folder)
    context = pki.server_ssl_context(server.cert, server.key, ca.cert)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.SockSite(runner, sock, ssl_context=context).start()
        yield f"https://127.0.0.1:{sock.getsockname()[1]}/who", seen
    finally:
        await runner.cleanup()
        sock.close()


async def _get(url: str, context: ssl.SSLContext) -> str:
    async with aiohttp.ClientSession() as session, session.get(url, ssl=context) as resp:
        assert resp.status == 200
        return str((await resp.json())["cn"])


def test_certificates_name_their_holder_and_keys_stay_private(
    ca: pki.CertFiles, tmp_path: Path
) -> None:
    server = pki.issue_server_cert(ca, tmp_path, ["127.0.0.1", "localhost", "bank.example"])
    client = pki.issue_client_cert(ca, tmp_path, "bank:ICBC")

    assert client.cert.name == "client-bank_ICBC.pem"
    for key in (ca.key, server.key, client.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    names = _cert(server).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost", "bank.example"]
    subject = _cert(client).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [a.value for a in subject] == ["bank:ICBC"]
    usage = _cert(client).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert _cert(client).issuer == _cert(ca).subject


def test_ensure_pki_generates_only_what_is_missing(tmp_path: Path) -> None:
    made = pki.ensure_pki(tmp_path, ca_name="CA", hostnames=["127.0.0.1"], clients=["tongjiao"])
    assert sorted(p.name for p in made) == ["ca.pem", "client-tongjiao.pem", "server.pem"]
    before = (tmp_path / "server.pem").read_bytes()

    again = pki.ensure_pki(
        tmp_path, ca_name="CA", hostnames=["127.0.0.1"], clients=["tongjiao", "bank:X"]
    )

    assert [p.name for p in again] == ["client-bank_X.pem"]
    assert (tmp_path / "server.pem").read_bytes() == before


async def test_the_server_reads_the_verified_client_cn(ca: pki.CertFiles, tmp_path: Path) -> None:
    client = pki.issue_client_cert(ca, tmp_path, "tongjiao")
    async with serving(ca, tmp_path) as (url, seen):
        context = pki.client_ssl_context(client.cert, client.key, ca.cert)
        assert await _get(url, context) == "tongjiao"
    assert seen == ["tongjiao"]


@pytest.mark.parametrize("max_tls", [None, ssl.TLSVersion.TLSv1_2])
async def test_a_client_certificate_from_another_ca_is_refused(
    ca: pki.CertFiles, tmp_path: Path, max_tls: ssl.TLSVersion | None
) -> None:
    other = pki.generate_ca(tmp_path / "other", "another CA")
    stranger = pki.issue_client_cert(other, tmp_path / "other", "tongjiao")
    async with serving(ca, tmp_path) as (url, seen):
        context = pki.client_ssl_context(stranger.cert, stranger.key, ca.cert)
        if max_tls is not None:
            context.maximum_version = max_tls
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
            await _get(url, context)
    assert seen == []  # refused in the handshake: no handler ever ran


async def test_a_client_without_a_certificate_is_refused(ca: pki.CertFiles, tmp_path: Path) -> None:
    async with serving(ca, tmp_path) as (url, seen):
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
            await _get(url, pki.client_ssl_context(None, None, ca.cert))
    assert seen == []


async def test_the_client_refuses_a_server_from_another_ca(
    ca: pki.CertFiles, tmp_path: Path
) -> None:
    other = pki.generate_ca(tmp_path / "other", "another CA")
    client = pki.issue_client_cert(ca, tmp_path, "tongjiao")
    async with serving(ca, tmp_path) as (url, seen):
        context = pki.client_ssl_context(client.cert, client.key, other.cert)
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await _get(url, context)
    assert seen == []


def test_no_cn_without_a_transport() -> None:
    assert pki.peer_common_name(None) is None
