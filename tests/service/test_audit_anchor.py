"""Signed anchors: the https webhook witness, the key's safekeeping, and what verify_anchors reports."""

from __future__ import annotations

import http.server
import json
import os
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from regard.service.audit_anchor import (
    AnchorError,
    generate_key,
    load_public_key,
    load_signing_key,
    make_anchor,
    publish,
    verify_anchors,
)
from regard.store import open_store
from regard.store.records import AuditEntry


@pytest.fixture
def webhook(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_certificates: Callable[[Path], tuple[Path, Path, Path]],
) -> Iterator[tuple[str, list[bytes]]]:
    """An https server on 127.0.0.1 keeping every POSTed body; its certificate trusted via SSL_CERT_FILE."""
    received: list[bytes] = []

    class Witness(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    ca, cert, key = make_certificates(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Witness)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    try:
        yield f"https://localhost:{server.server_address[1]}/anchors", received
    finally:
        server.shutdown()
        server.server_close()


def test_anchor_posted_to_an_https_witness_verifies(tmp_path: Path, webhook: tuple[str, list[bytes]]) -> None:
    url, received = webhook
    key_path = tmp_path / "keys" / "anchor.pem"
    key_path.parent.mkdir()
    public = load_public_key(generate_key(key_path))
    store = open_store(tmp_path / "data")
    try:
        for n in range(3):
            store.append_audit(AuditEntry("DetectFaces", details={"faces": n}))
        key = load_signing_key(key_path, tmp_path / "data")
        publish(make_anchor(store, key, now=0.0), url, data_dir=tmp_path / "data")
        assert len(received) == 1
        anchor = json.loads(received[0])
        assert (anchor["seq"], anchor["hash"]) == store.audit_head()
        assert verify_anchors(store, [received[0].decode()], public).ok
        # A log cut below the anchor is caught; so is another log (a different first record).
        other = open_store(tmp_path / "other")
        try:
            other.append_audit(AuditEntry("DetectFaces", details={"faces": 9}))
            verdict = verify_anchors(other, [received[0].decode()], public)
            assert not verdict.ok and "first record" in verdict.reason and verdict.first_bad_line == 1
        finally:
            other.close()
    finally:
        store.close()
    with pytest.raises(AnchorError, match="could not be reached"):
        publish(anchor, "https://127.0.0.1:9/none", data_dir=None)


def test_signing_key_must_be_private_and_outside_the_data_folder(tmp_path: Path) -> None:
    key_path = tmp_path / "anchor.pem"
    generate_key(key_path)
    assert (key_path.stat().st_mode & 0o777) == 0o600
    load_signing_key(key_path, tmp_path / "data")
    os.chmod(key_path, 0o644)
    with pytest.raises(AnchorError, match="readable by others"):
        load_signing_key(key_path, tmp_path / "data")
    with pytest.raises(AnchorError, match="inside the data folder"):
        load_signing_key(key_path, tmp_path)
    (tmp_path / "not-a-key.pem").write_text("hello")
    os.chmod(tmp_path / "not-a-key.pem", 0o600)
    with pytest.raises(AnchorError, match="not an unencrypted PEM"):
        load_signing_key(tmp_path / "not-a-key.pem", None)
