"""Checksums and detached signatures of settlement files: RSA-PSS, Ed25519 and SM2-with-SM3."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import subprocess
from pathlib import Path

import pytest

from clearing.settlement import signing
from clearing.settlement.signing import Alg, SignatureInvalid, Signer, Verifier

NAME = "TJ_ICBC_20261125_001.pain001.xml"
DATA = '<?xml version="1.0"?><Document>某市不动产登记中心</Document>\n'.encode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[Alg, tuple[Signer, bytes, Signer]]:
    """Per algorithm: a signer, its public key file content, and a second, unrelated signer."""
    folder = tmp_path_factory.mktemp("keys")
    out: dict[Alg, tuple[Signer, bytes, Signer]] = {}
    for alg in signing.ALGS:
        private, public = signing.generate_keypair(alg, folder, f"{alg}-a")
        other, _ = signing.generate_keypair(alg, folder, f"{alg}-b")
        out[alg] = (
            signing.load_signer(private, f"{alg}-a", alg),
            public.read_bytes(),
            signing.load_signer(other, f"{alg}-a", alg),  # same id, another key
        )
    return out


def _verifier(keys: dict[Alg, tuple[Signer, bytes, Signer]]) -> Verifier:
    return Verifier({f"{alg}-a": (alg, public) for alg, (_, public, _) in keys.items()})


@pytest.mark.parametrize("alg", signing.ALGS)
def test_sign_and_verify(alg: Alg, keys: dict[Alg, tuple[Signer, bytes, Signer]]) -> None:
    signer = keys[alg][0]
    sig = signing.signature_file(signer, NAME, DATA)
    doc = json.loads(sig)
    assert doc["file"] == NAME and doc["alg"] == alg and doc["key_id"] == f"{alg}-a"
    assert doc["sha256"] == hashlib.sha256(DATA).hexdigest()
    raw = base64.b64decode(doc["signature"])
    assert len(raw) == {"rsa-pss-sha256": 384, "ed25519": 64, "sm2-sm3": 64}[alg]
    _verifier(keys).verify(DATA, sig, file_name=NAME)


@pytest.mark.parametrize("alg", signing.ALGS)
def test_a_single_flipped_byte_is_refused(
    alg: Alg, keys: dict[Alg, tuple[Signer, bytes, Signer]]
) -> None:
    sig = signing.signature_file(keys[alg][0], NAME, DATA)
    flipped = bytearray(DATA)
    flipped[10] ^= 0x01
    with pytest.raises(SignatureInvalid) as caught:
        _verifier(keys).verify(bytes(flipped), sig)
    assert caught.value.reason == "checksum_mismatch"
    # an attacker who also fixes the checksum field still fails on the signature itself
    doc = json.loads(sig)
    doc["sha256"] = hashlib.sha256(flipped).hexdigest()
    with pytest.raises(SignatureInvalid) as caught:
        _verifier(keys).verify(bytes(flipped), json.dumps(doc).encode())
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize("alg", signing.ALGS)
def test_a_signature_by_another_key_is_refused(
    alg: Alg, keys: dict[Alg, tuple[Signer, bytes, Signer]]
) -> None:
    forged = signing.signature_file(keys[alg][2], NAME, DATA)
    with pytest.raises(SignatureInvalid) as caught:
        _verifier(keys).verify(DATA, forged)
    assert caught.value.reason == "bad_signature"


def test_unknown_key_id_wrong_name_and_algorithm_confusion_are_refused(
    keys: dict[Alg, tuple[Signer, bytes, Signer]],
) -> None:
    verifier = _verifier(keys)
    doc = json.loads(signing.signature_file(keys["ed25519"][0], NAME, DATA))
    for change, reason in (
        ({"key_id": "retired-2019"}, "unknown_key_id"),
        ({"alg": "sm2-sm3"}, "algorithm_mismatch"),
        ({"signature": "not base64!"}, "malformed"),
    ):
        with pytest.raises(SignatureInvalid) as caught:
            verifier.verify(DATA, json.dumps({**doc, **change}).encode())
        assert caught.value.reason == reason
    with pytest.raises(SignatureInvalid) as caught:
        verifier.verify(
            DATA, json.dumps(doc).encode(), file_name="TJ_ICBC_20261126_001.pain001.xml"
        )
    assert caught.value.reason == "wrong_file_name"
    for garbage in (b"", b"[]", b'{"file": 1}'):
        with pytest.raises(SignatureInvalid) as caught:
            verifier.verify(DATA, garbage)
        assert caught.value.reason == "malformed"


def test_sm2_refuses_out_of_range_and_truncated_signatures(
    keys: dict[Alg, tuple[Signer, bytes, Signer]],
) -> None:
    doc = json.loads(signing.signature_file(keys["sm2-sm3"][0], NAME, DATA))
    for raw in (b"\x00" * 64, b"\xff" * 64, base64.b64decode(doc["signature"])[:63]):
        bad = {**doc, "signature": base64.b64encode(raw).decode()}
        with pytest.raises(SignatureInvalid):
            _verifier(keys).verify(DATA, json.dumps(bad).encode())


def test_repr_shows_no_key_material(keys: dict[Alg, tuple[Signer, bytes, Signer]]) -> None:
    for alg, (signer, _, _) in keys.items():
        assert repr(signer) == str(signer) == f"Signer(key_id='{alg}-a', alg='{alg}')"
    sm2_d = keys["sm2-sm3"][0]._key
    assert isinstance(sm2_d, tuple) and f"{sm2_d[0]:064x}" not in repr(keys["sm2-sm3"][0])


def test_generated_private_keys_are_0600_and_never_overwritten(tmp_path: Path) -> None:
    for alg in signing.ALGS:
        private, public = signing.generate_keypair(alg, tmp_path, f"k-{alg}")
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
        assert public.stat().st_mode & stat.S_IRUSR
        with pytest.raises(FileExistsError):
            signing.generate_keypair(alg, tmp_path, f"k-{alg}")


def test_loading_checks_the_key_matches_the_algorithm(tmp_path: Path) -> None:
    ed_private, _ = signing.generate_keypair("ed25519", tmp_path, "ed")
    sm2_private, _ = signing.generate_keypair("sm2-sm3", tmp_path, "sm")
    with pytest.raises(signing.KeyFileInvalid):
        signing.load_signer(ed_private, "ed", "rsa-pss-sha256")
    with pytest.raises(signing.KeyFileInvalid) as caught:
        signing.load_signer(sm2_private, "sm", "ed25519")
    assert sm2_private.read_text().strip() not in str(caught.value)
    with pytest.raises(signing.KeyFileInvalid):
        signing.load_signer(ed_private, "ed", "sm2-sm3")
    with pytest.raises(ValueError, match="key id"):
        signing.load_signer(ed_private, "../ed", "ed25519")


def test_sha256_sidecar_is_sha256sum_format(
    tmp_path: Path, keys: dict[Alg, tuple[Signer, bytes, Signer]]
) -> None:
    files = signing.sidecars(keys["ed25519"][0], NAME, DATA)
    assert set(files) == {f"{NAME}.sha256", f"{NAME}.sig"}
    checksum = files[f"{NAME}.sha256"]
    assert checksum == f"{hashlib.sha256(DATA).hexdigest()}  {NAME}\n".encode()
    signing.verify_checksum(DATA, checksum, file_name=NAME)
    with pytest.raises(SignatureInvalid):
        signing.verify_checksum(DATA + b" ", checksum, file_name=NAME)
    (tmp_path / NAME).write_bytes(DATA)
    (tmp_path / f"{NAME}.sha256").write_bytes(checksum)
    done = subprocess.run(
        ["sha256sum", "-c", f"{NAME}.sha256"], cwd=tmp_path, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_verifier_from_files_and_its_repr(tmp_path: Path) -> None:
    private, public = signing.generate_keypair("sm2-sm3", tmp_path, "bank-sm2")
    signer = signing.load_signer(private, "bank-sm2", "sm2-sm3")
    verifier = Verifier.from_files({"bank-sm2": ("sm2-sm3", public)})
    verifier.verify(DATA, signing.signature_file(signer, NAME, DATA), file_name=NAME)
    assert repr(verifier) == "Verifier(key_ids=['bank-sm2'])"
    with pytest.raises(ValueError):
        Verifier({"x": ("sm2-sm3", "04" + "00" * 64)})  # not a point on the curve


def test_sm2_public_keys_starting_with_0_or_4_survive(tmp_path: Path) -> None:
    # gmssl's constructor lstrip("04")s the public key, which also eats a leading 0 or 4 of x;
    # find such a key and check it still signs and verifies through our wrapper
    d = next(d for d in range(1, 5000) if signing._sm2_public_of(d).startswith("04"))
    (tmp_path / "odd.key").write_text(f"{d:064x}\n")
    public = "04" + signing._sm2_public_of(d)
    signer = signing.load_signer(tmp_path / "odd.key", "odd", "sm2-sm3")
    verifier = Verifier({"odd": ("sm2-sm3", public)})
    verifier.verify(DATA, signing.signature_file(signer, NAME, DATA))
