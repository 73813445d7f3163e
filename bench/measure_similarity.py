"""Measure genuine and impostor cosine distributions on the labelled faces in ../shared/data.

Run: .venv/bin/python bench/measure_similarity.py [--data ../shared/data]

Each image contributes the embedding of its largest face, labelled with the identity its source gives (folder
or file name). Every pair of images is scored: same identity = genuine, different = impostor (byte-identical
files are counted once). The script prints the distributions and the false-match / false-non-match rates at
several cosine thresholds and at Regard's similarity 80, which ``regard.vision.similarity`` maps from cosine.
These sets are small (a few hundred images): they show that the mapping is conservative, they do not publish
an accuracy figure.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
from pathlib import Path

import numpy as np
from shared_data import shared_data

from regard.errors import RegardError
from regard.vision.engine import FaceEngine
from regard.vision.image import read_image_file
from regard.vision.similarity import cosine_from_similarity, similarity_from_cosine


def labelled_images(data: Path) -> list[tuple[str, str, Path]]:
    """(set, identity, path) for every single-identity image with an identity label."""
    items: list[tuple[str, str, Path]] = []
    for path in sorted((data / "dlib/johns").glob("*/*.jpg")):
        items.append(("dlib johns", path.parent.name, path))
    for path in sorted((data / "face-api.js/examples/images").glob("*/*.png")):
        items.append(("face-api.js", path.parent.name, path))
    knn = data / "face_recognition/examples/knn_examples"
    for path in sorted((knn / "train").glob("*/*")):
        items.append(("knn_examples", path.parent.name, path))
    for name, who in [
        ("alex_lacamoire1.jpg", "alex_lacamoire"),
        ("johnsnow_test1.jpg", "kit_harington"),
        ("obama1.jpg", "obama"),
    ]:
        items.append(("knn_examples", who, knn / "test" / name))
    tests = data / "face_recognition/tests/test_images"
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"):
        items.append(("face_recognition", name.rstrip("0123456789.jpg") or "obama", tests / name))
    for path in sorted((data / "openface/images/examples").glob("*.jpg")):
        if "-" in path.stem and not path.stem[-1].isdigit():
            continue  # longoria-cooper holds two people
        items.append(("openface", path.stem.split("-")[0], path))
    for path in sorted((data / "facenet_pytorch/data/test_images").glob("*/*.jpg")):
        items.append(("facenet_pytorch", path.parent.name, path))
    rd = data / "insightface/inspireface/test_res/data"
    for path in sorted((rd / "RD").glob("*.jpeg")):
        items.append(("inspireface", "RD", path))
    for name, who in [
        ("kun.jpg", "kun"),
        ("jntm.jpg", "kun"),
        ("woman.png", "ZY"),
        ("woman_search.jpeg", "ZY"),
        ("Rob_Lowe_0001.jpg", "Rob_Lowe"),
        ("Rob_Lowe_0002.jpg", "Rob_Lowe"),
    ]:
        items.append(("inspireface", who, rd / "bulk" / name))
    return items


def embed_labelled(
    items: list[tuple[str, str, Path]],
) -> tuple[list[str], list[str], np.ndarray, list[str]]:
    """(identities, sets, largest-face embeddings, skipped files) of ``items``; identical files count once."""
    engine = FaceEngine()
    seen: set[str] = set()
    labels, sets, vectors, skipped = [], [], [], []
    for set_name, identity, path in items:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        try:
            image = read_image_file(path)
        except RegardError as exc:
            skipped.append(f"{path} ({exc.code})")
            continue
        faces = engine.detect(image, max_faces=1)
        if not faces:
            skipped.append(f"{path} (no face)")
            continue
        labels.append(identity)
        sets.append(set_name)
        vectors.append(engine.embed(image, faces)[0])
    return labels, sets, np.stack(vectors), skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_data())
    args = parser.parse_args()
    labels, sets, emb, skipped = embed_labelled(labelled_images(args.data))
    genuine, impostor, worst = [], [], []
    for i, j in itertools.combinations(range(len(labels)), 2):
        cos = float(emb[i] @ emb[j])
        if labels[i] == labels[j]:
            genuine.append(cos)
        else:
            impostor.append(cos)
            worst.append((cos, labels[i], labels[j], sets[i], sets[j]))
    genuine_a, impostor_a = np.array(genuine), np.array(impostor)
    print(f"images {len(labels)} (identities {len(set(labels))}); skipped {len(skipped)}: {skipped}")
    print(
        f"genuine pairs {genuine_a.size}: min {genuine_a.min():.3f} p5 {np.percentile(genuine_a, 5):.3f} "
        f"median {np.median(genuine_a):.3f}"
    )
    print(
        f"impostor pairs {impostor_a.size}: max {impostor_a.max():.3f} p99.9 "
        f"{np.percentile(impostor_a, 99.9):.3f} p99 {np.percentile(impostor_a, 99):.3f} "
        f"median {np.median(impostor_a):.3f}"
    )
    print("worst impostors:", [(round(w[0], 3), w[1], w[2]) for w in sorted(worst, reverse=True)[:5]])
    print("cosine  similarity  FMR            FNMR")
    for threshold in (0.2, 0.25, 0.3, 0.35, cosine_from_similarity(80.0), 0.45, 0.5):
        fmr = int((impostor_a >= threshold).sum())
        fnmr = int((genuine_a < threshold).sum())
        print(
            f"{threshold:6.3f}  {similarity_from_cosine(threshold):10.1f}  "
            f"{fmr}/{impostor_a.size} = {fmr / impostor_a.size:.2e}  "
            f"{fnmr}/{genuine_a.size} = {fnmr / genuine_a.size:.3f}"
        )
    for name in sorted(set(sets)):
        idx = [k for k, s in enumerate(sets) if s == name]
        g = [float(emb[a] @ emb[b]) for a, b in itertools.combinations(idx, 2) if labels[a] == labels[b]]
        if g:
            below = sum(similarity_from_cosine(c) < 80 for c in g)
            print(
                f"  {name}: genuine pairs {len(g)}, below similarity 80: {below} ({below / len(g):.3f}), "
                f"min cosine {min(g):.3f}"
            )


if __name__ == "__main__":
    main()
