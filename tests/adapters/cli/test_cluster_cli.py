"""``regard cluster`` on real faces: JSON, a contact sheet cropped from the image folder, clusters to users;
and the same operation through the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
from click.testing import CliRunner

import regard
from regard.adapters.cli.main import cli

GALLERIES = Path(__file__).resolve().parents[2] / "data" / "galleries"


def run(*args: str, answer: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=answer, catch_exceptions=False)
    return result.exit_code, result.output


def copy(folder: Path, person: str, paths: list[Path]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        (folder / f"{person}-{path.name}").write_bytes(path.read_bytes())


def test_cluster_json_contact_sheet_and_to_users(tmp_path: Path, engine) -> None:
    data = str(tmp_path / "data")
    photos = tmp_path / "photos"
    for person in ("amy", "howard", "raj"):
        copy(photos, person, sorted((GALLERIES / "bbt" / person).iterdir())[:3])
    copy(photos, "alex", [GALLERIES / "knn" / "train" / "alex_lacamoire" / "img1.jpg"])
    assert run("collections", "create", "c", "--data", data)[0] == 0
    code, out = run("index", "c", str(photos), "--max-faces", "1", "--json", "--data", data)
    assert code == 0 and json.loads(out)["indexed"] == 10, out

    code, out = run("cluster", "c", "--json", "--data", data)
    assert code == 0, out
    result = json.loads(out)
    with regard.Client(tmp_path / "data", engine=engine) as client:
        names = {
            f["FaceId"]: f["ExternalImageId"].split("-")[0]
            for f in client.list_faces(CollectionId="c")["Faces"]
        }
        through_api = client.cluster_faces(CollectionId="c")  # the Python API: same IDs, same faces
    assert sorted(c["ClusterId"] for c in through_api["Clusters"]) == sorted(
        c["ClusterId"] for c in result["Clusters"]
    )
    people = sorted({names[f] for f in c["FaceIds"]}.pop() for c in result["Clusters"])
    assert people == ["amy", "howard", "raj"]
    assert all(
        len({names[f] for f in c["FaceIds"]}) == 1 and len(c["FaceIds"]) == 3 for c in result["Clusters"]
    )
    assert [names[f] for f in result["UnclusteredFaceIds"]] == ["alex"]

    code, out = run("cluster", "c", "--data", data)  # the table names the images
    assert code == 0 and "amy-amy1.png" in out and "1 faces matched nobody" in out

    sheet = tmp_path / "sheet.png"
    code, out = run("cluster", "c", "--contact-sheet", str(sheet), "--data", data)
    assert code == 2 and "--images" in out  # Regard keeps no face images: it must be told where they are
    code, out = run("cluster", "c", "--contact-sheet", str(sheet), "--images", str(photos), "--data", data)
    assert code == 0 and "9 faces" in out, out
    assert sheet.stat().st_mode & 0o777 == 0o600
    pixels = cv2.imread(str(sheet))
    assert pixels.shape == (3 * (160 + 24), 3 * 160, 3)  # a row per cluster, three faces each
    for r in range(3):
        for c in range(3):
            face = pixels[r * 184 : r * 184 + 160, c * 160 : (c + 1) * 160]
            assert face.std() > 20  # a real crop, not a blank tile

    code, out = run("cluster", "c", "--to-users", "--data", data, answer="n\n")
    assert code == 1 and "Aborted" in out
    with regard.Client(tmp_path / "data", engine=engine) as client:
        assert client.list_users(CollectionId="c")["Users"] == []
    code, out = run("cluster", "c", "--to-users", "--user-prefix", "person-", "--data", data, answer="y\n")
    assert code == 0 and out.count(": 3 faces") == 3, out
    with regard.Client(tmp_path / "data", engine=engine) as client:
        users = sorted(u["UserId"] for u in client.list_users(CollectionId="c")["Users"])
        assert users == sorted(f"person-{c['ClusterId']}" for c in result["Clusters"])
        for cluster in result["Clusters"]:
            faces = client.list_faces(CollectionId="c", UserId=f"person-{cluster['ClusterId']}")["Faces"]
            assert sorted(f["FaceId"] for f in faces) == sorted(cluster["FaceIds"])
        operations = [r.entry.operation for r in client.regard.store.list_audit(collection_id="c")]
        assert operations.count("CreateUser") == 3 and operations.count("AssociateFaces") == 3

    # named faces are left out now; a newcomer with two photos is the only cluster, made a user with --yes
    copy(photos, "penny", sorted((GALLERIES / "bbt" / "penny").iterdir())[:2])
    assert run("index", "c", str(photos), "--max-faces", "1", "--json", "--data", data)[0] == 0
    code, out = run("cluster", "c", "--to-users", "--yes", "--json", "--data", data)
    assert code == 0, out
    with regard.Client(tmp_path / "data", engine=engine) as client:
        users = client.list_users(CollectionId="c")["Users"]
        assert len(users) == 4
        newest = {u["UserId"] for u in users} - {f"cluster-{c['ClusterId']}" for c in result["Clusters"]}
        penny = [u for u in newest if u.startswith("cluster-")]
        assert len(penny) == 1
        faces = client.list_faces(CollectionId="c", UserId=penny[0])["Faces"]
        assert sorted(f["ExternalImageId"] for f in faces) == ["penny-penny1.png", "penny-penny2.png"]
