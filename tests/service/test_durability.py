"""A face acknowledged by IndexFaces survives kill -9 of the process; the index agrees with the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.service.conftest import GALLERIES, gallery

from regard.service.app import Regard
from regard.vision.image import read_image_file

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from regard.service.app import Regard

    data, folder = Path(sys.argv[1]), Path(sys.argv[2])
    regard = Regard.open(data)
    regard.invoke("CreateCollection", {"CollectionId": "c"})
    print("ready", flush=True)
    for path in sorted(folder.rglob("*.jpg")) * 20:
        response = regard.invoke(
            "IndexFaces",
            {"CollectionId": "c", "Image": {"Bytes": path.read_bytes()}, "ExternalImageId": path.stem},
        )
        for record in response["FaceRecords"]:
            print(record["Face"]["FaceId"], flush=True)
    """
)


def test_acknowledged_faces_survive_kill_9(tmp_path: Path, engine) -> None:
    data = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data), str(GALLERIES / "johns")],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    acknowledged: list[str] = []
    try:
        assert process.stdout.readline().strip() == "ready"
        while len(acknowledged) < 12:
            line = process.stdout.readline().strip()
            assert line, "the writer stopped early"
            acknowledged.append(line)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    with Regard.open(data, engine=engine) as regard:
        stored = {f.face_id for f in regard.store.get_faces("c", acknowledged)}
        assert stored == set(acknowledged)
        listed = regard.invoke("ListFaces", {"CollectionId": "c", "MaxResults": 4096})["Faces"]
        # Every face the database holds is in the vector index: an unbounded search returns them all.
        probe = engine.embed(*_first_face(engine, gallery("johns")["John_Salley"][0]))[0]
        found = regard.store.search_faces("c", probe, max_results=4096, min_cosine=-1.0)
        assert {record.face_id for record, _ in found} == {f["FaceId"] for f in listed}


def _first_face(engine, path: Path):
    decoded = read_image_file(path)
    return decoded, engine.detect(decoded, max_faces=1)
