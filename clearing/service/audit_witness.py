"""The audit chain's witness: signed checkpoints of the chain, kept outside PostgreSQL.

The hash chain (``audit.py``) catches a row edited or deleted in the middle. It cannot catch what
someone with the database's superuser rights can do to the chain as a whole: cut off its newest
rows, or change a row and let the sealer seal it and every row after it anew. So each time rows
are sealed, the service appends their ``(seq, hash)`` to a file of its own (``O_APPEND``, fsync),
closed by a checkpoint of the head signed with a key that lives in a file, never in the database.

``verify`` then compares the database with the witness: a sealed row whose hash differs from the
one witnessed is the first rewritten row; rows witnessed but gone are a truncation; a checkpoint
whose signature fails means the witness itself was tampered with.

Line formats (JSON, one per line)::

    {"seq": 41, "hash": "<hex>"}
    {"checkpoint": {"seq": 41, "hash": "<hex>", "at": "<ISO 8601>"}, "key_id": "…", "sig": "<b64>"}
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from clearing.db import Conn
from clearing.security import load_or_create_ed25519

_TAIL_BYTES = 64 * 1024


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _signed_text(seq: int, hash_hex: str, at: str) -> bytes:
    return f"tongjiao-audit-checkpoint\n{seq}\n{hash_hex}\n{at}".encode()


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The checkpoint key (PEM, mode 0600), made on first start; its public half is written
    beside it as ``<name>.pub`` for verifiers."""
    key = load_or_create_ed25519(path)
    pub = path.with_suffix(".pub")
    if not pub.exists():
        pub.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return key


def load_public_keys(paths: list[Path]) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id, from PEM files (the current key's and every retired one's)."""
    keys: dict[str, Ed25519PublicKey] = {}
    for p in paths:
        pub = serialization.load_pem_public_key(p.read_bytes())
        if not isinstance(pub, Ed25519PublicKey):
            raise ValueError(f"{p} does not hold an Ed25519 public key")
        keys[key_id(pub)] = pub
    return keys


def verifying_keys(key_file: Path, retired_dir: Path) -> dict[str, Ed25519PublicKey]:
    """The current checkpoint key's public half and every retired one's."""
    paths = sorted(retired_dir.glob("*.pub")) if retired_dir.is_dir() else []
    current = key_file.with_suffix(".pub")
    if current.exists():
        paths.append(current)
    return load_public_keys(paths)


def _last_seq(path: Path) -> int:
    """The highest seq the witness holds, read from its tail."""
    if not path.exists():
        return 0
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - _TAIL_BYTES))
        lines = f.read().splitlines()
    for raw in reversed(lines):
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # a partial first line of the tail, or a torn last write
        seq = line.get("seq", line.get("checkpoint", {}).get("seq"))
        if isinstance(seq, int):
            return seq
    return 0


@dataclass
class Witness:
    """Appends what the sealer sealed; one writer per file (the sealer's process)."""

    path: Path
    key: Ed25519PrivateKey
    _last: int | None = None

    async def record(self, conn: Conn, batch: int = 5000) -> int:
        """Append every sealed row not yet witnessed and a signed checkpoint; returns rows."""
        if self._last is None:
            self._last = _last_seq(self.path)
        rows = await conn.fetch(
            "SELECT seq, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            self._last,
            batch,
        )
        if not rows:
            return 0
        lines = [json.dumps({"seq": int(r["seq"]), "hash": bytes(r["hash"]).hex()}) for r in rows]
        head_seq, head_hash = int(rows[-1]["seq"]), bytes(rows[-1]["hash"]).hex()
        at = datetime.now(UTC).isoformat(timespec="seconds")
        sig = self.key.sign(_signed_text(head_seq, head_hash, at))
        checkpoint = {"seq": head_seq, "hash": head_hash, "at": at}
        lines.append(
            json.dumps(
                {
                    "checkpoint": checkpoint,
                    "key_id": key_id(self.key.public_key()),
                    "sig": base64.b64encode(sig).decode(),
                }
            )
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, ("\n".join(lines) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self._last = head_seq
        return len(rows)


@dataclass
class WitnessView:
    """What the witness file says, once its checkpoints are checked."""

    hashes: dict[int, str] = field(default_factory=dict)
    checkpoints: int = 0
    head_seq: int = 0
    problems: list[str] = field(default_factory=list)


def read(path: Path, keys: dict[str, Ed25519PublicKey]) -> WitnessView:
    view = WitnessView()
    pending: dict[int, str] = {}
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = json.loads(raw)
                if "checkpoint" in line:
                    cp = line["checkpoint"]
                    seq, hash_hex, at = int(cp["seq"]), str(cp["hash"]), str(cp["at"])
                    key = keys.get(str(line["key_id"]))
                    if key is None:
                        view.problems.append(
                            f"witness line {n}: checkpoint signed by unknown key {line['key_id']}"
                        )
                        continue
                    key.verify(base64.b64decode(line["sig"]), _signed_text(seq, hash_hex, at))
                    if pending.get(seq, hash_hex) != hash_hex:
                        view.problems.append(
                            f"witness line {n}: checkpoint of seq {seq} contradicts its row line"
                        )
                    pending[seq] = hash_hex
                    view.hashes.update(pending)  # only rows a valid checkpoint closes count
                    pending = {}
                    view.checkpoints += 1
                    view.head_seq = max(view.head_seq, seq)
                else:
                    pending[int(line["seq"])] = str(line["hash"])
            except InvalidSignature:
                view.problems.append(f"witness line {n}: checkpoint signature invalid (altered?)")
            except (ValueError, KeyError, TypeError):
                view.problems.append(f"witness line {n}: not a witness line")
    return view
