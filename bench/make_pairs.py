"""Write the pairs CSVs used by docs/accuracy.md from the labelled sets in ../shared/data.

    .venv/bin/python bench/make_pairs.py [--data ../shared/data]

Paths in the CSVs are relative to the data folder (pass it as ``--root`` to ``regard evaluate
verification``). Identities come from the upstream labels (folder and file names, see each set's
MANIFEST.md). Images holding several people are left out (only the largest face is embedded), and
byte-identical files are kept once.

- ``knn_examples.csv``: face_recognition knn_examples (train folders + the single-person test images).
- ``openface.csv``: the openface example photos (the two-person longoria-cooper.jpg left out).
- ``insightface.csv``: the InspireFace test photos with known identities (their 9 upstream pairs and more).
- ``all_sets.csv``: every image above plus dlib johns and the face-api.js characters, every pair, with
  ``group`` = the set's name for pairs inside one set and ``cross_set`` for pairs across sets.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def identity_sets(data: Path) -> dict[str, dict[str, list[str]]]:
    """set name -> identity -> image paths relative to ``data``."""

    def rel(paths: list[Path]) -> list[str]:
        return [str(p.relative_to(data)) for p in paths]

    sets: dict[str, dict[str, list[str]]] = {}
    johns = data / "dlib" / "johns"
    sets["dlib_johns"] = {d.name: rel(_images(d)) for d in sorted(johns.iterdir()) if d.is_dir()}
    bbt = data / "face-api.js" / "examples" / "images"
    sets["faceapi_bbt"] = {d.name: rel(_images(d)) for d in sorted(bbt.iterdir()) if d.is_dir()}
    knn = data / "face_recognition" / "examples" / "knn_examples"
    knn_ids = {d.name: rel(_images(d)) for d in sorted((knn / "train").iterdir()) if d.is_dir()}
    for name, who in (
        ("alex_lacamoire1.jpg", "alex_lacamoire"),
        ("johnsnow_test1.jpg", "kit_harington"),
        ("obama1.jpg", "obama"),
    ):
        knn_ids[who].append(str((knn / "test" / name).relative_to(data)))
    sets["fr_knn"] = knn_ids
    ex = "openface/images/examples"
    sets["openface"] = {
        "adams": [f"{ex}/adams.jpg"],
        "carell": [f"{ex}/carell.jpg"],
        "clapton": [f"{ex}/clapton-1.jpg", f"{ex}/clapton-2.jpg"],
        "lennon": [f"{ex}/lennon-1.jpg", f"{ex}/lennon-2.jpg"],
    }
    res = "insightface/inspireface/test_res/data"
    sets["insightface"] = {
        "kun": [f"{res}/bulk/kun.jpg", f"{res}/bulk/jntm.jpg"],
        "woman": [f"{res}/bulk/woman.png", f"{res}/bulk/woman_search.jpeg"],
        "rd": [f"{res}/RD/d{i}.jpeg" for i in range(1, 6)],
        "rob_lowe": [f"{res}/bulk/Rob_Lowe_0001.jpg", f"{res}/bulk/Rob_Lowe_0002.jpg"],
    }
    return sets


def _dedupe(data: Path, images: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    seen: set[str] = set()
    out = []
    for item in images:
        digest = hashlib.sha256((data / item[2]).read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            out.append(item)
    return out


def write_pairs(path: Path, images: list[tuple[str, str, str]], with_groups: bool) -> int:
    """images: (set, identity, path). Every pair once."""
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        header = ["image_a", "image_b", "same"]
        writer.writerow([*header, "group"] if with_groups else header)
        for (set_a, id_a, a), (set_b, id_b, b) in itertools.combinations(images, 2):
            same = int(set_a == set_b and id_a == id_b)
            row = [a, b, same]
            if with_groups:
                row.append(set_a if set_a == set_b else "cross_set")
            writer.writerow(row)
            rows += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE / "pairs")
    args = parser.parse_args()
    data = args.data.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    sets = identity_sets(data)
    everything = []
    for name, ids in sets.items():
        flat = _dedupe(data, [(name, who, p) for who, paths in ids.items() for p in paths])
        everything.extend(flat)
        if name in ("fr_knn", "openface", "insightface"):
            file = {"fr_knn": "knn_examples.csv"}.get(name, f"{name}.csv")
            n = write_pairs(args.out / file, flat, with_groups=False)
            print(f"{file}: {len(flat)} images, {n} pairs")
    n = write_pairs(args.out / "all_sets.csv", everything, with_groups=True)
    print(f"all_sets.csv: {len(everything)} images, {n} pairs")


if __name__ == "__main__":
    main()
