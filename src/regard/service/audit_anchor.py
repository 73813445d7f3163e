"""Signed anchors of the audit chain, kept by a witness outside the data folder.

The hash chain shows that the log is internally consistent, not that it is the log that was written:
whoever can write the whole data folder can rewrite a record and recompute every later hash (and the local
``audit.anchor``). An anchor is the chain's head (sequence, hash, time, and the chain's identity: the hash
of its first record), signed with an Ed25519 key kept OUTSIDE the data folder, and handed to a witness the
data-folder owner cannot rewrite: appended to a file elsewhere, or POSTed to an https webhook. Later,
``verify_anchors`` checks that each anchored record still has its anchored hash; the first anchor a
rewritten log no longer matches is named. What this does and does not prove: docs/data-layout.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from regard.service.periodic import PeriodicWorker
from regard.store.base import Store

log = logging.getLogger(__name__)

FORMAT = "regard-audit-anchor/1"
KEY_ENV = "REGARD_AUDIT_SIGNING_KEY"
WEBHOOK_TIMEOUT = 10.0


class AnchorError(Exception):
    """An anchor could not be made, published or trusted; the message says why, for a person."""


# --- keys ------------------------------------------------------------------------------------------------
def generate_key(out: Path) -> Path:
    """Write a new Ed25519 private key to ``out`` (PEM, 0600, never overwriting) and its public key beside
    it (``<out>.pub``); returns the public key's path."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pub_path = out.with_name(out.name + ".pub")
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AnchorError(f"{out} exists already; it is not overwritten.") from None
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(private)
    pub_path.write_bytes(public)
    return pub_path


def load_signing_key(path: Path, data_dir: Path | None) -> Ed25519PrivateKey:
    """The private key at ``path``; refused inside the data folder or readable by group/others."""
    path = Path(path)
    if data_dir is not None and _inside(path, data_dir):
        raise AnchorError(
            f"The signing key {path} is inside the data folder; keep it outside, or whoever can rewrite "
            "the log can sign matching anchors too."
        )
    try:
        if os.stat(path).st_mode & 0o077:
            raise AnchorError(f"The signing key {path} is readable by others; chmod 600 it.")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise AnchorError(f"Cannot read the signing key {path}: {error.strerror}.") from None
    except (ValueError, TypeError):
        raise AnchorError(f"{path} is not an unencrypted PEM private key.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorError(f"{path} is not an Ed25519 key.")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM public key file (or from a private key file, whose public half)."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise AnchorError(f"Cannot read the public key {path}: {error.strerror}.") from None
    try:
        key: Any = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError):
            raise AnchorError(f"{path} holds no PEM public or private key.") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AnchorError(f"{path} is not an Ed25519 key.")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of the SHA-256 of its raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _inside(path: Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


# --- anchors ---------------------------------------------------------------------------------------------
def _signed_bytes(payload: dict[str, Any]) -> bytes:
    """One spelling per payload (sorted keys, no spaces), so a signature is checked on what was signed."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_id(store: Store) -> str | None:
    """The chain's identity: the hash of its first record (None while the log is empty)."""
    first = store.list_audit(limit=1)
    return first[0].hash if first and first[0].seq == 1 else None


def make_anchor(store: Store, key: Ed25519PrivateKey, *, now: float) -> dict[str, Any]:
    """The signed head of the chain as a JSON-ready dict."""
    seq, head_hash = store.audit_head()
    if seq == 0:
        raise AnchorError("The audit log is empty: there is nothing to anchor yet.")
    head = store.list_audit(after_seq=seq - 1, limit=1)[0]
    payload = {
        "format": FORMAT,
        "chain": chain_id(store),
        "seq": seq,
        "hash": head_hash,
        "record_time": datetime.fromtimestamp(head.time, UTC).isoformat(),
        "anchored_at": datetime.fromtimestamp(now, UTC).isoformat(),
        "key_id": key_id(key.public_key()),
    }
    signature = key.sign(_signed_bytes(payload))
    return {**payload, "signature": base64.b64encode(signature).decode("ascii")}


def publish(anchor: dict[str, Any], target: str, *, data_dir: Path | None) -> None:
    """Hand ``anchor`` to its witness: POST it to an https URL, or append it as a JSON line to a file."""
    line = json.dumps(anchor, sort_keys=True)
    if target.startswith("https://"):
        request = urllib.request.Request(
            target, data=line.encode(), method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
                if not 200 <= response.status < 300:
                    raise AnchorError(f"The anchor webhook answered {response.status}.")
        except OSError as error:
            raise AnchorError(f"The anchor webhook could not be reached: {error}.") from None
        return
    if "://" in target:
        raise AnchorError("An anchor target is a file path or an https:// URL (never plain http).")
    path = Path(target)
    if data_dir is not None and _inside(path, data_dir):
        raise AnchorError(
            f"The anchor file {path} is inside the data folder; a witness must be out of the reach of "
            "whoever can rewrite the log."
        )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise AnchorError(f"Cannot append to the anchor file {path}: {error.strerror}.") from None


@dataclass(frozen=True, slots=True)
class AnchorVerdict:
    ok: bool
    anchors_checked: int
    reason: str = ""
    first_bad_line: int | None = None
    forged: bool = False  # the anchor itself is not trustworthy (bad signature, damaged)


def verify_anchors(store: Store, lines: Iterable[str], public_key: Ed25519PublicKey) -> AnchorVerdict:
    """Check every anchor (signature first, then the log) in order; stop at the first that fails."""
    own_chain = chain_id(store)
    checked = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        anchor = trusted_anchor(line, number, public_key)
        if isinstance(anchor, AnchorVerdict):
            return AnchorVerdict(False, checked, anchor.reason, number, forged=True)
        seq, wanted = anchor["seq"], anchor["hash"]
        at = f"anchor on line {number} (record {seq}, anchored {anchor.get('anchored_at')})"
        if anchor.get("chain") != own_chain:
            return AnchorVerdict(
                False,
                checked,
                f"{at} is for chain {str(anchor.get('chain'))[:16]}…, but this log's first record hashes to "
                f"{str(own_chain)[:16]}…: the log was rewritten from its first record, or it is another log.",
                number,
            )
        found = store.list_audit(after_seq=seq - 1, limit=1)
        if not found or found[0].seq != seq:
            return AnchorVerdict(
                False, checked, f"{at}: record {seq} is missing; the log was cut or rewritten.", number
            )
        if found[0].hash != wanted:
            return AnchorVerdict(
                False,
                checked,
                f"{at} no longer matches: record {seq} hashes to {found[0].hash[:16]}…, the anchor says "
                f"{wanted[:16]}…. The log was rewritten at or before record {seq}.",
                number,
            )
        checked += 1
    return AnchorVerdict(True, checked)


def trusted_anchor(line: str, number: int, public_key: Ed25519PublicKey) -> dict[str, Any] | AnchorVerdict:
    """The anchor on ``line`` if its signature holds under ``public_key``; otherwise why it is refused."""
    refused = f"anchor on line {number} is REFUSED"
    try:
        anchor = json.loads(line)
        signature = base64.b64decode(anchor.pop("signature"), validate=True)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        return AnchorVerdict(False, 0, f"{refused}: it is not a signed anchor (damaged or forged).")
    if anchor.get("format") != FORMAT or not isinstance(anchor.get("seq"), int) or anchor["seq"] < 1:
        return AnchorVerdict(False, 0, f"{refused}: it is not a {FORMAT} anchor.")
    try:
        public_key.verify(signature, _signed_bytes(anchor))
    except InvalidSignature:
        return AnchorVerdict(
            False,
            0,
            f"{refused}: its signature does not verify under key {key_id(public_key)} (forged, altered, "
            "or signed with another key). It proves nothing.",
        )
    return anchor


# --- the server's periodic anchoring --------------------------------------------------------------------
class AnchorWorker(PeriodicWorker):
    """Publishes a signed anchor at start, every ``interval`` seconds while the log has grown, and at stop."""

    def __init__(
        self, store: Store, key: Ed25519PrivateKey, target: str, interval: float, *, data_dir: Path | None
    ) -> None:
        self._store, self._key, self._target, self._data_dir = store, key, target, data_dir
        self._last_seq = 0
        super().__init__("audit-anchor", interval, self.anchor_once, join_timeout=WEBHOOK_TIMEOUT + 5)

    def stop(self) -> None:
        super().stop()
        self.anchor_once()  # the head at shutdown is anchored too

    def anchor_once(self) -> None:
        """Anchor the head if it moved since the last anchor; a failure is logged and retried later."""
        try:
            seq, _ = self._store.audit_head()
            if seq == 0 or seq == self._last_seq:
                return
            anchor = make_anchor(self._store, self._key, now=time.time())
            publish(anchor, self._target, data_dir=self._data_dir)
            self._last_seq = seq
            log.info("audit anchored at record %d", seq)
        except Exception:
            log.exception("audit anchoring failed; it is retried at the next interval")
