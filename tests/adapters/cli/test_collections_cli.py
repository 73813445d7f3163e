"""The stored-data commands, run in-process with click's runner on a real data folder and real images."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from regard.adapters.cli.main import cli

GALLERIES = Path(__file__).resolve().parents[2] / "data" / "galleries"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_collections_index_search_users_audit_and_erase(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    johns = GALLERIES / "johns"
    code, out = run(
        "collections", "create", "johns", "--purpose", "test gallery", "--retention-days", "7", "--data", data
    )
    assert code == 0, out

    gallery = tmp_path / "gallery"
    for person in ("John_Salley", "John_Simm"):
        (gallery / person).mkdir(parents=True)
        for path in sorted((johns / person).iterdir())[:3]:
            (gallery / person / f"{person}-{path.name}").write_bytes(path.read_bytes())
    code, out = run("index", "johns", str(gallery), "--json", "--data", data)
    assert code == 0, out
    summary = json.loads(out)
    assert summary["images"] == 6 and summary["indexed"] == 6 and summary["skipped"] == 0
    code, out = run("index", "johns", str(gallery), "--json", "--data", data)  # re-running skips
    assert json.loads(out)["skipped"] == 6 and json.loads(out)["indexed"] == 0

    code, out = run("collections", "describe", "johns", "--data", data)
    assert json.loads(out)["FaceCount"] == 6
    code, out = run("collections", "list", "--data", data)
    assert "johns" in out and "test gallery" in out

    probe = sorted((johns / "John_Simm").iterdir())[-1]
    code, out = run("search", "johns", str(probe), "--json", "--data", data)
    assert code == 0, out
    matches = json.loads(out)["FaceMatches"]
    assert matches and all(m["Face"]["ExternalImageId"].startswith("John_Simm") for m in matches)

    faces = [f for f in _list_faces(data) if f["ExternalImageId"].startswith("John_Simm")]
    code, out = run("users", "create", "johns", "simm", "--data", data)
    assert code == 0, out
    code, out = run("users", "associate", "johns", "simm", *[f["FaceId"] for f in faces], "--data", data)
    assert len(json.loads(out)["AssociatedFaces"]) == 3
    code, out = run("users", "search", "johns", "--image", str(probe), "--data", data)
    assert "simm" in out

    code, out = run("audit", "verify", "--data", data)
    assert code == 0 and "intact" in out
    code, out = run("audit", "list", "--collection", "johns", "--json", "--data", data)
    operations = [r["Operation"] for r in json.loads(out)]
    assert operations[0] == "CreateCollection" and "SearchFacesByImage" in operations

    code, out = run("erase", "--collection", "johns", "--user", "simm", "--data", data)
    assert code == 0 and "Erased 3 face(s)" in out
    code, out = run("collections", "describe", "johns", "--data", data)
    assert json.loads(out)["FaceCount"] == 3

    code, out = run("collections", "describe", "nope", "--data", data)
    assert code == 1 and "ResourceNotFoundException" in out


def _list_faces(data: str) -> list[dict]:
    from regard.service.app import Regard

    with Regard.open(Path(data)) as regard:
        return regard.invoke("ListFaces", {"CollectionId": "johns"})["Faces"]


def test_audit_verify_exits_non_zero_on_a_removed_record(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name in ("a", "b", "c"):
        assert run("collections", "create", name, "--data", str(data))[0] == 0
    database = next(p for p in data.rglob("*.db") if p.is_file())
    with sqlite3.connect(database) as raw:
        table = next(
            r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'") if "audit" in r[0]
        )
        raw.execute(f"DELETE FROM {table} WHERE rowid = (SELECT rowid FROM {table} LIMIT 1 OFFSET 1)")
    code, out = run("audit", "verify", "--data", str(data))
    assert code == 1
    assert "BROKEN at record" in out


def test_faces_indexed_with_an_expiry_are_swept(tmp_path: Path) -> None:
    import time

    data = str(tmp_path / "data")
    photo = sorted((GALLERIES / "johns" / "John_Savage").iterdir())[0]
    assert run("collections", "create", "short", "--data", data)[0] == 0
    code, out = run("index", "short", str(photo), "--expires-in-days", "0.00001", "--json", "--data", data)
    assert json.loads(out)["indexed"] == 1
    code, out = run("retention", "sweep", "--data", data)
    assert code == 0 and "Erased" in out
    time.sleep(1.0)
    code, out = run("retention", "sweep", "--data", data)
    code, out = run("collections", "describe", "short", "--data", data)
    assert json.loads(out)["FaceCount"] == 0
    code, out = run("audit", "list", "--collection", "short", "--json", "--data", data)
    assert "RetentionSweep" in [r["Operation"] for r in json.loads(out)]


def test_a_data_folder_held_by_another_process_is_reported_not_crashed(tmp_path: Path, engine) -> None:
    from regard.service.app import Regard

    data = tmp_path / "data"
    with Regard.open(data, engine=engine):  # as a running server would hold it
        code, out = run("audit", "verify", "--data", str(data))
    assert code == 1
    assert "open in another Regard store" in out and "Traceback" not in out
