"""Key material for WeChat Pay in public-key mode, for our service and for the simulator.

``generate_keyset(root)`` lays out two folders, each holding only what its party really holds::

    root/merchant/   what tongjiao holds
        merchant.json             mchid, appid, merchant cert serial, WeChat Pay public-key id
        apiclient_key.pem         merchant API private key (0600)
        wechatpay_pub_key.pem     WeChat Pay public key
        apiv3_key.txt             the 32-character APIv3 key (0600)
        appsecret.txt             the 公众号 AppSecret for web authorization (0600)
    root/platform/   what the WeChat Pay simulator holds
        platform.json             mchid, appid, its own public-key id
        platform_private_key.pem  WeChat Pay private key (0600)
        merchant_keys/<SERIAL>.pem  merchant public keys by certificate serial
        apiv3_key.txt             the same APIv3 key (0600)
        appsecret.txt             the same AppSecret: the simulated 公众平台 checks it (0600)
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from adapters import keyset
from adapters.simkit import keyfiles
from adapters.wechatpay.crypto import APIV3_KEY_LEN

MERCHANT_DIR, PLATFORM_DIR = keyset.MERCHANT_DIR, keyset.PLATFORM_DIR
_MERCHANT_JSON = "merchant.json"
_MERCHANT_PRIVATE = "apiclient_key.pem"
_WECHATPAY_PUBLIC = "wechatpay_pub_key.pem"
_PLATFORM_JSON = "platform.json"
_PLATFORM_PRIVATE = "platform_private_key.pem"
_MERCHANT_PUBLIC_DIR = "merchant_keys"
_APIV3_KEY = "apiv3_key.txt"
# the official account's AppSecret (公众平台), used only by the sns/oauth2 code exchange
_APP_SECRET = "appsecret.txt"  # noqa: S105 (a file name)


@dataclass(frozen=True)
class MerchantKeys:
    """What our service needs to call WeChat Pay and to trust its answers."""

    mchid: str
    appid: str
    merchant_serial: str
    wechatpay_public_key_id: str
    private_key: RSAPrivateKey = field(repr=False, compare=False)
    wechatpay_public_key: RSAPublicKey = field(repr=False, compare=False)
    apiv3_key: bytes = field(repr=False, compare=False)
    # empty in a key folder made before JSAPI support: web authorization then cannot work
    app_secret: str = field(default="", repr=False, compare=False)

    @property
    def wechatpay_public_keys(self) -> Mapping[str, RSAPublicKey]:
        """The verification keys by ``Wechatpay-Serial``, as ``NotifyVerifier`` wants them."""
        return MappingProxyType({self.wechatpay_public_key_id: self.wechatpay_public_key})


@dataclass(frozen=True)
class PlatformKeys:
    """What the WeChat Pay side (our simulator) holds."""

    mchid: str
    appid: str
    public_key_id: str
    private_key: RSAPrivateKey = field(repr=False, compare=False)
    merchant_public_keys: Mapping[str, RSAPublicKey] = field(repr=False, compare=False)
    apiv3_key: bytes = field(repr=False, compare=False)
    app_secret: str = field(default="", repr=False, compare=False)


def generate_keyset(root: Path) -> None:
    """Create whatever is missing under ``root/merchant`` and ``root/platform``; keep the rest."""
    merchant_dir, platform_dir = keyset.folders(root)
    (platform_dir / _MERCHANT_PUBLIC_DIR).mkdir(exist_ok=True)

    merchant_key = keyfiles.rsa_private_key(merchant_dir / _MERCHANT_PRIVATE)
    platform_key = keyfiles.rsa_private_key(platform_dir / _PLATFORM_PRIVATE)
    ids = _ids(merchant_dir / _MERCHANT_JSON, platform_dir / _PLATFORM_JSON)

    keyfiles.write_if_missing(
        merchant_dir / _MERCHANT_JSON,
        keyfiles.json_bytes(
            {
                "mchid": ids["mchid"],
                "appid": ids["appid"],
                "merchant_serial": ids["merchant_serial"],
                "wechatpay_public_key_id": ids["public_key_id"],
            }
        ),
    )
    keyfiles.write_if_missing(
        platform_dir / _PLATFORM_JSON,
        keyfiles.json_bytes(
            {
                "mchid": ids["mchid"],
                "appid": ids["appid"],
                "public_key_id": ids["public_key_id"],
                "merchant_serials": [ids["merchant_serial"]],
            }
        ),
    )
    keyfiles.write_if_missing(
        merchant_dir / _WECHATPAY_PUBLIC, keyfiles.public_pem(platform_key.public_key())
    )
    keyfiles.write_if_missing(
        platform_dir / _MERCHANT_PUBLIC_DIR / f"{ids['merchant_serial']}.pem",
        keyfiles.public_pem(merchant_key.public_key()),
    )
    for name, load, fresh in (
        (_APIV3_KEY, _load_apiv3_key, _new_apiv3_key),
        # an AppSecret is 32 lower-case hex digits
        (
            _APP_SECRET,
            lambda path: path.read_bytes().strip(),
            lambda: secrets.token_hex(16).encode(),
        ),
    ):
        paths = (merchant_dir / name, platform_dir / name)
        secret = keyfiles.kept_or_new(paths, load, fresh)
        for path in paths:
            keyfiles.write_if_missing(path, secret, secret=True)


def load_merchant_keys(path: Path) -> MerchantKeys:
    """Load ``root/merchant`` (pass that folder)."""
    ids = keyfiles.read_json(path / _MERCHANT_JSON)
    return MerchantKeys(
        **keyfiles.text_fields(
            ids, ("mchid", "appid", "merchant_serial", "wechatpay_public_key_id")
        ),
        private_key=keyfiles.load_rsa_private(path / _MERCHANT_PRIVATE),
        wechatpay_public_key=keyfiles.load_rsa_public(path / _WECHATPAY_PUBLIC),
        apiv3_key=_load_apiv3_key(path / _APIV3_KEY),
        app_secret=_load_app_secret(path / _APP_SECRET),
    )


def load_platform_keys(path: Path) -> PlatformKeys:
    """Load ``root/platform`` (pass that folder)."""
    ids = keyfiles.read_json(path / _PLATFORM_JSON)
    return PlatformKeys(
        **keyfiles.text_fields(ids, ("mchid", "appid", "public_key_id")),
        private_key=keyfiles.load_rsa_private(path / _PLATFORM_PRIVATE),
        merchant_public_keys=keyfiles.by_stem(
            path / _MERCHANT_PUBLIC_DIR, keyfiles.load_rsa_public, "merchant public keys"
        ),
        apiv3_key=_load_apiv3_key(path / _APIV3_KEY),
        app_secret=_load_app_secret(path / _APP_SECRET),
    )


def _ids(merchant_json: Path, platform_json: Path) -> dict[str, str]:
    if merchant_json.exists():
        known = keyfiles.read_json(merchant_json)
        return {
            "mchid": keyfiles.text_field(known, "mchid"),
            "appid": keyfiles.text_field(known, "appid"),
            "merchant_serial": keyfiles.text_field(known, "merchant_serial"),
            "public_key_id": keyfiles.text_field(known, "wechatpay_public_key_id"),
        }
    if platform_json.exists():
        known = keyfiles.read_json(platform_json)
        serials = known.get("merchant_serials")
        if not isinstance(serials, list) or not serials or not isinstance(serials[0], str):
            raise ValueError(f"{platform_json} lacks merchant_serials")
        return {
            "mchid": keyfiles.text_field(known, "mchid"),
            "appid": keyfiles.text_field(known, "appid"),
            "merchant_serial": serials[0],
            "public_key_id": keyfiles.text_field(known, "public_key_id"),
        }
    mchid = "19" + keyfiles.digits(8)
    return {
        "mchid": mchid,
        "appid": "wx" + secrets.token_hex(8),
        # a merchant API certificate serial is 40 upper-case hex digits
        "merchant_serial": secrets.token_hex(20).upper(),
        "public_key_id": "PUB_KEY_ID_01" + mchid + keyfiles.digits(14),
    }


def _new_apiv3_key() -> bytes:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(APIV3_KEY_LEN)).encode("ascii")


def _load_apiv3_key(path: Path) -> bytes:
    key = path.read_bytes().strip()
    if len(key) != APIV3_KEY_LEN:
        raise ValueError(f"{path} must hold a {APIV3_KEY_LEN}-character APIv3 key")
    return key


def _load_app_secret(path: Path) -> str:
    return path.read_text(encoding="ascii").strip() if path.exists() else ""
