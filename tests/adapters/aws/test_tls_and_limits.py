"""HTTPS, per-key rate limits and the bad-signature back-off, against a real ``regard serve`` over TLS.

One server for the module: ``--tls-cert/--tls-key`` from a throwaway CA made here, and ``--rate-limit 100``
as the default for keys without their own limit. boto3 retries are off, so every refusal is seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .server_process import BOOT_KEY_ID, BOOT_SECRET, ServerProcess, run_cli, start_server

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[2] / "data" / "aws"
OBAMA = (DATA / "obama2.jpg").read_bytes()
WINDOW = 4.0  # the first refusal window (s): wide enough that a loaded machine still answers inside it


@pytest.fixture(scope="module")
def tls(
    tmp_path_factory: pytest.TempPathFactory, make_certificates: Callable[[Path], tuple[Path, Path, Path]]
) -> Iterator[tuple[ServerProcess, Path]]:
    tmp = tmp_path_factory.mktemp("tls")
    ca, cert, key = make_certificates(tmp)
    server = start_server(
        tmp,
        *("--tls-cert", str(cert), "--tls-key", str(key)),
        *("--rate-limit", "100", "--bad-signature-limit", "3", "--bad-signature-backoff", str(WINDOW)),
        verify=str(ca),
    )
    yield server, ca
    assert server.stop() == 0, server.log_text()[-3000:]


def _client(url: str, verify: bool | str, key_id: str = BOOT_KEY_ID, secret: str = BOOT_SECRET) -> Any:
    return boto3.client(
        "rekognition",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        verify=verify,
        config=Config(retries={"max_attempts": 1}),
    )


def _key(server: ServerProcess, *extra: str) -> tuple[str, str]:
    done = run_cli("keys", "create", "--scope", "admin", *extra, "--data", str(server.data_dir))
    assert done.returncode == 0, done.stderr
    fields = dict(line.split(":", 1) for line in done.stdout.splitlines() if ":" in line)
    return fields["AccessKeyId"].strip(), fields["SecretAccessKey"].strip()


def _code(error: ClientError) -> tuple[str, int]:
    return str(error.response["Error"]["Code"]), int(error.response["ResponseMetadata"]["HTTPStatusCode"])


# --- TLS ----------------------------------------------------------------------------------------------


def test_https_with_the_ca_works_end_to_end(tls: tuple[ServerProcess, Path]) -> None:
    server, ca = tls
    assert server.url.startswith("https://127.0.0.1:")
    faces = _client(server.url, str(ca)).detect_faces(Image={"Bytes": OBAMA})["FaceDetails"]
    assert len(faces) == 1 and faces[0]["Confidence"] > 50


def test_https_without_the_ca_is_refused_by_the_client(tls: tuple[ServerProcess, Path]) -> None:
    server, _ = tls
    with pytest.raises(botocore.exceptions.SSLError):
        _client(server.url, True).detect_faces(Image={"Bytes": OBAMA})


def test_plain_http_to_the_tls_port_gets_no_service(tls: tuple[ServerProcess, Path]) -> None:
    server, _ = tls
    plain = server.url.replace("https://", "http://")
    with pytest.raises(httpx.TransportError):
        httpx.post(
            plain + "/",
            content=b"{}",
            headers={"X-Amz-Target": "RekognitionService.ListCollections"},
            timeout=10,
        )
    with pytest.raises(httpx.TransportError):
        httpx.get(plain + "/health", timeout=10)


def test_tls_cert_without_key_is_a_usage_error(
    tmp_path: Path, make_certificates: Callable[[Path], tuple[Path, Path, Path]]
) -> None:
    _, cert, _ = make_certificates(tmp_path)
    done = run_cli("serve", "--port", "0", "--data", str(tmp_path / "d"), "--tls-cert", str(cert))
    assert done.returncode == 2 and "--tls-key" in done.stderr


# --- per-key rate limits ------------------------------------------------------------------------------


def test_a_key_over_its_rate_gets_throttling_exception(tls: tuple[ServerProcess, Path]) -> None:
    server, ca = tls
    key_id, secret = _key(server, "--rate-limit", "0.2")  # one request per 5 s, bursts of 1
    client = _client(server.url, str(ca), key_id, secret)
    client.list_collections()
    with pytest.raises(ClientError) as caught:
        client.list_collections()
    assert _code(caught.value) == ("ThrottlingException", 400)
    assert "0.2 requests per second" in caught.value.response["Error"]["Message"]
    # another key is not affected by this one's budget
    _client(server.url, str(ca)).list_collections()

    # back to the server's default (100/s, bursts of 100): a quick run of requests all pass
    done = run_cli("keys", "set-rate-limit", key_id, "default", "--data", str(server.data_dir))
    assert done.returncode == 0, done.stderr
    time.sleep(5.5)  # the bucket refills to one token at 0.2/s; from then on the new rate applies
    for _ in range(8):
        client.list_collections()

    done = run_cli("keys", "set-rate-limit", key_id, "0.1", "--data", str(server.data_dir))
    assert done.returncode == 0, done.stderr
    listed = run_cli("keys", "list", "--data", str(server.data_dir))
    assert "0.1" in listed.stdout
    with pytest.raises(ClientError) as caught:
        for _ in range(3):
            client.list_collections()
    assert _code(caught.value) == ("ThrottlingException", 400)


def test_rate_limit_cli_refuses_bad_values(tls: tuple[ServerProcess, Path]) -> None:
    server, _ = tls
    for bad in ("0", "-1", "fast"):
        done = run_cli("keys", "set-rate-limit", BOOT_KEY_ID, bad, "--data", str(server.data_dir))
        assert done.returncode != 0, bad
    done = run_cli("keys", "set-rate-limit", "AKIANOSUCHKEY0000000", "1", "--data", str(server.data_dir))
    assert done.returncode == 1 and "No key" in done.stderr


# --- bad signatures -----------------------------------------------------------------------------------


def test_repeated_bad_signatures_are_refused_for_a_growing_window(tls: tuple[ServerProcess, Path]) -> None:
    server, ca = tls
    good = _client(server.url, str(ca))
    bad = _client(server.url, str(ca), BOOT_KEY_ID, "not-the-secret-0123456789abcdefghijklmno")
    good.list_collections()  # a success clears this address's record

    def bad_code() -> tuple[str, int]:
        with pytest.raises(ClientError) as caught:
            bad.list_collections()
        return _code(caught.value)

    for _ in range(4):  # three free failures, the fourth opens a WINDOW s window
        assert bad_code() == ("InvalidSignatureException", 403)
    with pytest.raises(ClientError) as caught:
        good.list_collections()  # even a good signature waits: the address is refused, not the key
    assert _code(caught.value) == ("ThrottlingException", 400)
    assert "invalid signature" in caught.value.response["Error"]["Message"]
    time.sleep(WINDOW + 0.5)
    assert bad_code() == ("InvalidSignatureException", 403)  # the fifth: a 2 * WINDOW s window
    opened = time.monotonic()
    time.sleep(WINDOW + 0.5)
    assert bad_code()[0] == "ThrottlingException"  # still inside the doubled window
    time.sleep(max(0.0, opened + 2 * WINDOW + 0.5 - time.monotonic()))
    good.list_collections()  # window over; success resets the count
    for _ in range(3):
        assert bad_code() == ("InvalidSignatureException", 403)
    good.list_collections()
