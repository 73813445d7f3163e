"""Two ``regard serve`` replicas on one PostgreSQL database behave as one service, through boto3.

Index through one, search through the other; a NextToken from one works on the other; keys made or
revoked with the CLI take effect on both; concurrent writers through both leave one verifiable audit
chain; kill -9 of a replica in the middle of writes loses no acknowledged face.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from regard.store.postgres.local import LocalPostgres

from .server_process import BOOT_KEY_ID, BOOT_SECRET, ServerProcess, run_cli, start_server

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[2] / "data" / "aws"
OBAMA_SMALL = (DATA / "obama-240p.jpg").read_bytes()
OBAMA = (DATA / "obama2.jpg").read_bytes()
BIDEN = (DATA / "biden.jpg").read_bytes()


@pytest.fixture(scope="module")
def database(postgres: LocalPostgres) -> Iterator[str]:
    name = f"replicas_{uuid.uuid4().hex[:8]}"
    yield postgres.create_database(name)
    postgres.drop_database(name)


@pytest.fixture(scope="module")
def replicas(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerProcess]]:
    servers: list[ServerProcess] = []
    try:
        for name in ("a", "b"):
            servers.append(start_server(tmp_path_factory.mktemp(name), "--database", database))
        yield servers
    finally:
        for server in servers:
            server.stop()
    assert servers[0].process.returncode == 0, servers[0].log_text()[-3000:]


def client(server: ServerProcess, key_id: str = BOOT_KEY_ID, secret: str = BOOT_SECRET) -> Any:
    return boto3.client(
        "rekognition",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def test_index_on_one_search_on_the_other(replicas: list[ServerProcess]) -> None:
    a, b = client(replicas[0]), client(replicas[1])
    a.create_collection(CollectionId="shared")
    face = a.index_faces(CollectionId="shared", Image={"Bytes": OBAMA_SMALL}, ExternalImageId="obama")
    b.index_faces(CollectionId="shared", Image={"Bytes": BIDEN}, ExternalImageId="biden")
    found = b.search_faces_by_image(CollectionId="shared", Image={"Bytes": OBAMA})
    assert [m["Face"]["FaceId"] for m in found["FaceMatches"]] == [face["FaceRecords"][0]["Face"]["FaceId"]]
    assert a.describe_collection(CollectionId="shared")["FaceCount"] == 2
    assert b.describe_collection(CollectionId="shared")["FaceCount"] == 2


def test_next_token_from_one_replica_works_on_the_other(replicas: list[ServerProcess]) -> None:
    a, b = client(replicas[0]), client(replicas[1])
    a.create_collection(CollectionId="pages")
    for image in (OBAMA_SMALL, BIDEN, OBAMA):
        a.index_faces(CollectionId="pages", Image={"Bytes": image})
    first = a.list_faces(CollectionId="pages", MaxResults=1)
    second = b.list_faces(CollectionId="pages", MaxResults=1, NextToken=first["NextToken"])
    third = a.list_faces(CollectionId="pages", MaxResults=1, NextToken=second["NextToken"])
    ids = [p["Faces"][0]["FaceId"] for p in (first, second, third)]
    assert len(set(ids)) == 3 and ids == sorted(ids)


def test_keys_made_and_revoked_with_the_cli_act_on_both(replicas: list[ServerProcess], database: str) -> None:
    made = run_cli("keys", "create", "--scope", "search", "--database", database)
    assert made.returncode == 0, made.stderr
    fields = dict(line.split(":", 1) for line in made.stdout.splitlines() if ":" in line)
    key_id, secret = fields["AccessKeyId"].strip(), fields["SecretAccessKey"].strip()
    for server in replicas:
        assert "CollectionIds" in client(server, key_id, secret).list_collections()
    revoked = run_cli("keys", "revoke", key_id, "--database", database)
    assert revoked.returncode == 0, revoked.stderr
    for server in replicas:
        with pytest.raises(ClientError) as caught:
            client(server, key_id, secret).list_collections()
        assert caught.value.response["Error"]["Code"] in (
            "UnrecognizedClientException",
            "AccessDeniedException",
        )


def test_concurrent_writers_through_both_keep_one_audit_chain(
    replicas: list[ServerProcess], database: str
) -> None:
    client(replicas[0]).create_collection(CollectionId="busy")
    made: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(server: ServerProcess, image: bytes) -> None:
        rek = client(server)
        try:
            for _ in range(4):
                tag = uuid.uuid4().hex  # a new ExternalImageId: the same bytes are indexed anew
                out = rek.index_faces(CollectionId="busy", Image={"Bytes": image}, ExternalImageId=tag)
                with lock:
                    made.extend(r["Face"]["FaceId"] for r in out["FaceRecords"])
                rek.list_collections()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(server, image))
        for server in replicas
        for image in (OBAMA_SMALL, BIDEN)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(made) >= 16 and len(set(made)) == len(made)
    listed = client(replicas[1]).list_faces(CollectionId="busy", MaxResults=100)["Faces"]
    assert sorted(f["FaceId"] for f in listed) == sorted(made)
    verified = run_cli("audit", "verify", "--database", database)
    assert verified.returncode == 0, verified.stderr
    assert "hash chain verified" in verified.stdout


def test_kill_9_of_a_replica_mid_write_loses_no_acknowledged_face(replicas: list[ServerProcess]) -> None:
    """Runs last: b is killed while a writer streams IndexFaces to it; a must hold every acknowledged face."""
    a, b = client(replicas[0]), client(replicas[1])
    a.create_collection(CollectionId="crash")
    acked: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            try:
                tag = uuid.uuid4().hex
                out = b.index_faces(CollectionId="crash", Image={"Bytes": OBAMA_SMALL}, ExternalImageId=tag)
            except Exception:
                return  # the replica is gone: this request was never acknowledged
            acked.extend(r["Face"]["FaceId"] for r in out["FaceRecords"])

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = 120.0
    start = time.monotonic()
    while len(acked) < 3 and time.monotonic() - start < deadline:
        time.sleep(0.05)
    replicas[1].process.kill()
    replicas[1].process.wait(30)
    stop.set()
    thread.join(60)
    assert len(acked) >= 3
    stored = {f["FaceId"] for f in a.list_faces(CollectionId="crash", MaxResults=1000)["Faces"]}
    assert set(acked) <= stored
    verdict = a.search_faces_by_image(CollectionId="crash", Image={"Bytes": OBAMA}, MaxFaces=100)
    assert {m["Face"]["FaceId"] for m in verdict["FaceMatches"]} >= set(acked)
