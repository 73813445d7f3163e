"""A stop signal lets requests in flight finish, then the service is closed and the process exits 0."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from .server_process import BOOT_KEY_ID, BOOT_SECRET, start_server

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[2] / "data" / "aws"


def test_sigterm_drains_in_flight_requests(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--workers", "1")
    client = boto3.client(
        "rekognition",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=BOOT_KEY_ID,
        aws_secret_access_key=BOOT_SECRET,
        config=Config(retries={"mode": "standard", "max_attempts": 1}, max_pool_connections=8),
    )
    image = (DATA / "biden.jpg").read_bytes()
    results: list[Any] = []

    def call() -> None:
        try:
            results.append(len(client.detect_faces(Image={"Bytes": image})["FaceDetails"]))
        except Exception as error:
            results.append(error)

    threads = [threading.Thread(target=call) for _ in range(4)]  # one runs, three wait in the queue
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    server.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(120)
    assert server.process.wait(120) == 0, server.log_text()[-3000:]
    assert results == [1, 1, 1, 1]
    log = server.log_text()
    assert '"message": "stopped"' in log and "SIGTERM" in log
    after_signal = log[log.index('"Shutting down"') :]
    assert '"operation": "DetectFaces", "status": 200' in after_signal  # some were still running then
