"""The SMS account, for our service and for the simulator.

The provider issues an API key pair (SecretId, SecretKey: TC3-HMAC-SHA256 signs every request
with it), an application (SmsSdkAppId), and approves a sign (签名) and body templates.
``generate_keyset(root)`` lays out what each party holds::

    root/merchant/   what tongjiao holds
        sms.json        SecretId, SmsSdkAppId, region, sign, the approved templates
        secret_key.txt  SecretKey (0600)
    root/platform/   what the provider (our simulator) holds
        account.json    the same registration, as the provider keeps it
        secret_key.txt  the same key, to check signatures (0600)

``site`` is the pay site's address that the notice template carries as constant text (links may
not be variables); ``register_site`` re-registers the template for another address, as a
deployment would when its address changes (the demo, whose port is chosen at start).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters import keyset
from adapters.simkit import keyfiles
from adapters.sms.templates import Template, check_sign, notice_template

MERCHANT_DIR, PLATFORM_DIR = keyset.MERCHANT_DIR, keyset.PLATFORM_DIR
_MERCHANT_JSON = "sms.json"
_PLATFORM_JSON = "account.json"
_SECRET_FILE = "secret_key.txt"  # noqa: S105 — a file name, not a secret
DEFAULT_SITE = "https://jf.example.gov.cn"
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class SmsAccount:
    """The registration both sides hold, and the key that signs requests."""

    secret_id: str
    sdk_app_id: str
    region: str
    sign_name: str
    templates: dict[str, Template]
    notice_template_id: str
    secret_key: str = field(repr=False, compare=False)

    @property
    def notice_template(self) -> Template:
        return self.templates[self.notice_template_id]


def generate_keyset(root: Path, *, site: str = DEFAULT_SITE) -> None:
    """Create whatever is missing under ``root/merchant`` and ``root/platform``; keep the rest."""
    merchant, platform = keyset.folders(root)
    ids = keyset.known_registration(merchant / _MERCHANT_JSON, platform / _PLATFORM_JSON)
    ids = ids or _new_ids(site)
    secret = next(
        (
            p.read_text().strip()
            for p in (merchant / _SECRET_FILE, platform / _SECRET_FILE)
            if p.exists()
        ),
        None,
    ) or "".join(secrets.choice(_ALNUM) for _ in range(32))
    for folder, name in ((merchant, _MERCHANT_JSON), (platform, _PLATFORM_JSON)):
        keyfiles.write_if_missing(folder / _SECRET_FILE, (secret + "\n").encode(), secret=True)
        keyfiles.write_if_missing(folder / name, keyfiles.json_bytes(ids))


def register_site(root: Path, site: str) -> None:
    """Approve the notice template anew for ``site`` on both sides (same id, new text)."""
    for folder, name in (
        (root / MERCHANT_DIR, _MERCHANT_JSON),
        (root / PLATFORM_DIR, _PLATFORM_JSON),
    ):
        path = folder / name
        data = keyfiles.read_json(path)
        tid = data["notice_template_id"]
        data["templates"][tid] = notice_template(site, tid).as_json()
        path.write_bytes(keyfiles.json_bytes(data))


def load_account(path: Path) -> SmsAccount:
    """Load ``root/merchant`` or ``root/platform`` (pass that folder)."""
    json_path = path / _MERCHANT_JSON
    if not json_path.exists():
        json_path = path / _PLATFORM_JSON
    data = keyfiles.read_json(json_path)
    try:
        templates = {tid: Template.from_json(tid, t) for tid, t in data["templates"].items()}
        account = SmsAccount(
            secret_id=str(data["secret_id"]),
            sdk_app_id=str(data["sdk_app_id"]),
            region=str(data["region"]),
            sign_name=str(data["sign_name"]),
            templates=templates,
            notice_template_id=str(data["notice_template_id"]),
            secret_key=(path / _SECRET_FILE).read_text().strip(),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{json_path}: incomplete SMS account ({exc!r})") from None
    check_sign(account.sign_name)
    if account.notice_template_id not in templates:
        raise ValueError(f"{json_path}: notice_template_id names no template")
    if len(account.secret_key) < 16:
        raise ValueError(f"{path / _SECRET_FILE} must hold the SecretKey")
    return account


def _new_ids(site: str) -> dict[str, Any]:
    template = notice_template(site)
    return {
        "secret_id": "AKID" + "".join(secrets.choice(_ALNUM) for _ in range(32)),
        "sdk_app_id": "1400" + keyfiles.digits(6),
        "region": "ap-guangzhou",
        "sign_name": "示范市不动产登记中心",
        "templates": {template.template_id: template.as_json()},
        "notice_template_id": template.template_id,
    }
