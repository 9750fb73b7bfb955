"""The common part of a certificate the simulated PKIs issue (the bank's mutual-TLS CA and
leaves, UnionPay's CFCA chain): what each is for differs per party, its layout does not."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

# KeyUsage takes every usage as a flag: its own parameters are the list of names
_USAGES = tuple(inspect.signature(x509.KeyUsage).parameters)


def builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: CertificatePublicKeyTypes,
    now: datetime,
    *,
    ca: int | None,
    usage: Iterable[str],
    valid_for: timedelta,
    backdated: timedelta,
    serial: int | None = None,
) -> x509.CertificateBuilder:
    """A certificate to sign: ``ca`` is a CA's path length (None: a leaf), ``usage`` the key
    usages granted (both extensions critical), valid from ``backdated`` before ``now`` (clocks
    differ) until ``valid_for`` after it."""
    granted = set(usage)
    if unknown := granted - set(_USAGES):
        raise ValueError(f"unknown key usage: {sorted(unknown)}")
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(now - backdated)
        .not_valid_after(now + valid_for)
        .add_extension(x509.BasicConstraints(ca=ca is not None, path_length=ca), critical=True)
        .add_extension(x509.KeyUsage(**{name: name in granted for name in _USAGES}), critical=True)
    )
