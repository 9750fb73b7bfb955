"""What the operators must renew before it breaks: certificates' expiry and our own keys' age.

Read from disk at each scrape of ``/metrics`` (a few dozen small files): a certificate renewed by
copying a new file in shows at once, without a restart. Every ``*.pem`` under the configured key
folders that holds a certificate is reported (a chain file gives one series per certificate);
private and public keys without a certificate have no expiry of their own and are skipped there.
Our own keys (receipt, settlement signing, audit checkpoint, PII) are reported by the time their
file was made, so that a rotation policy (docs/ops/key-rotation.md) can be alerted on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from clearing.config import Settings
from clearing.metrics import Metrics

log = logging.getLogger(__name__)

# the settings that name a folder of keys and certificates, reported under these names
_FOLDERS = (
    "bank_tls_dir",
    "wechatpay_keys",
    "alipay_keys",
    "unionpay_keys",
    "pos_keys",
    "tax_keys",
    "fiscal_keys",
    "fund_keys",
)
_PEM_CERT = b"-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class CertInfo:
    file: str  # "<setting>/<path inside the folder>", e.g. "bank_tls_dir/server.pem"
    subject: str
    not_after: float  # Unix time


def certificates(settings: Settings) -> list[CertInfo]:
    out: list[CertInfo] = []
    for name in _FOLDERS:
        folder = getattr(settings, name)
        if folder is None or not Path(folder).is_dir():
            continue
        for pem in sorted(Path(folder).rglob("*.pem")):
            try:
                data = pem.read_bytes()
                if _PEM_CERT not in data:
                    continue
                certs = x509.load_pem_x509_certificates(data)
            except (OSError, ValueError) as exc:
                # unreadable is worth a log line, not a failed scrape
                log.warning("certificate file not readable file=%s error=%r", pem, exc)
                continue
            label = f"{name}/{pem.relative_to(folder).as_posix()}"
            for cert in certs:
                out.append(
                    CertInfo(
                        label,
                        cert.subject.rfc4514_string()[:200],
                        cert.not_valid_after_utc.timestamp(),
                    )
                )
    return out


def own_key_files(settings: Settings) -> dict[str, Path]:
    """Our keys kept in files, by name, where the service looks for them (clearing/api/app.py,
    clearing/wiring.py); a key given inline in the environment has no file and no date."""
    keys = Path(settings.var_dir) / "keys"
    audit_key, _witness, _retired = settings.audit_paths()
    files: dict[str, Path | None] = {
        "receipt": settings.receipt_key_file or keys / "receipt-ed25519.pem",
        "audit_checkpoint": audit_key,
        "settlement": settings.settlement_key_file
        or keys / "settlement" / f"{settings.settlement_key_id}.key",
        "pii": None if settings.pii_key else settings.pii_key_file or keys / "pii.key",
        "pii_search": None
        if settings.pii_search_key
        else settings.pii_search_key_file or keys / "pii-search.key",
    }
    return {k: p for k, p in files.items() if p is not None and p.is_file()}


def refresh(settings: Settings, metrics: Metrics) -> None:
    """Blocking (reads files): run it in a thread."""
    certs = certificates(settings)
    keys = {k: p.stat().st_mtime for k, p in own_key_files(settings).items()}
    metrics.cert_not_after.clear()
    for c in certs:
        metrics.cert_not_after.labels(c.file, c.subject).set(c.not_after)
    metrics.key_created.clear()
    for k, t in keys.items():
        metrics.key_created.labels(k).set(t)
