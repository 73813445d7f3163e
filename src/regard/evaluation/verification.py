"""1:1 verification on labelled data: which pairs to score, embedding each image once, and the figures.

Two inputs are accepted:

- a folder holding one sub-folder per identity (the folder name is the identity). Every same-identity pair is
  a genuine pair and every cross-identity pair an impostor pair; each kind is capped at ``max_pairs`` by a
  seeded (so repeatable) sample. An optional ``groups.csv`` (``identity,group``) in that folder assigns
  groups: genuine pairs take their identity's group, impostor pairs take a group only when both identities
  share it (the way NIST measures demographic false-match rates). Images lying loose in the top folder are
  listed as ignored.
- a CSV of pairs, ``image_a,image_b,same[,group]`` (``file_a``/``file_b``/``relation`` are accepted too;
  ``same`` may be 1/0, true/false, yes/no or same/different). Relative paths resolve against ``root``
  (default: the CSV's folder).

Each image is embedded once, from its largest face. An image where no face is found, or that cannot be read,
is counted and listed with the reason, and its pairs are reported as not scored: never dropped silently.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from regard.evaluation import metrics

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
DEFAULT_MAX_PAIRS = 200_000
DEFAULT_THRESHOLDS: tuple[float, ...] = (80.0, 90.0, 95.0, 99.0)
"""Similarities at which FMR/FNMR are always reported: Rekognition's default 80 and the public-safety 99."""

_TRUE = {"1", "true", "yes", "y", "same", "match", "genuine", "t"}
_FALSE = {"0", "false", "no", "n", "different", "diff", "nonmatch", "non-match", "impostor", "f"}


@dataclass(frozen=True, slots=True)
class Pair:
    a: int
    b: int
    same: bool
    group: str | None = None


@dataclass
class PairSet:
    """Images (by index) and the labelled pairs over them."""

    images: list[Path]
    pairs: list[Pair]
    kind: str
    source: str
    identities: int | None = None
    ignored: list[str] = field(default_factory=list)
    capped: dict[str, dict[str, int]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------------
# Inputs


def load_pairs(
    data: Path, root: Path | None = None, max_pairs: int = DEFAULT_MAX_PAIRS, seed: int = 0
) -> PairSet:
    data = Path(data)
    if data.is_dir():
        return load_identity_folders(data, max_pairs=max_pairs, seed=seed)
    if data.is_file():
        return load_pairs_csv(data, root=root)
    raise FileNotFoundError(f"{data}: no such folder or file")


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_identity_folders(root: Path, max_pairs: int = DEFAULT_MAX_PAIRS, seed: int = 0) -> PairSet:
    root = Path(root)
    images: list[Path] = []
    owner: list[int] = []
    names: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found = _images_in(folder)
        if not found:
            continue
        names.append(folder.name)
        images.extend(found)
        owner.extend([len(names) - 1] * len(found))
    ignored = [str(p) for p in _images_in(root)]
    if len(names) < 2:
        raise ValueError(f"{root}: needs at least two identity sub-folders holding images")
    groups = _read_groups(root / "groups.csv")
    ident = np.asarray(owner)
    n = len(images)
    capped: dict[str, dict[str, int]] = {}

    by_identity = [np.flatnonzero(ident == i) for i in range(len(names))]
    n_genuine = sum(len(ix) * (len(ix) - 1) // 2 for ix in by_identity)
    n_impostor = n * (n - 1) // 2 - n_genuine
    rng = np.random.default_rng(seed)

    genuine: list[tuple[int, int]]
    if n_genuine <= max_pairs:
        genuine = [(int(a), int(b)) for ix in by_identity for a, b in itertools.combinations(ix, 2)]
    else:
        genuine = _sample_pairs(rng, ident, max_pairs, same=True)
        capped["genuine"] = {"available": n_genuine, "used": len(genuine)}
    impostor: list[tuple[int, int]]
    if n_impostor <= max_pairs:
        impostor = [(a, b) for a, b in itertools.combinations(range(n), 2) if owner[a] != owner[b]]
    else:
        impostor = _sample_pairs(rng, ident, max_pairs, same=False)
        capped["impostor"] = {"available": n_impostor, "used": len(impostor)}

    def group_of(a: int, b: int) -> str | None:
        if not groups:
            return None
        ga, gb = groups.get(names[owner[a]]), groups.get(names[owner[b]])
        return ga if ga is not None and ga == gb else None

    pairs = [Pair(a, b, True, group_of(a, b)) for a, b in genuine]
    pairs += [Pair(a, b, False, group_of(a, b)) for a, b in impostor]
    return PairSet(images, pairs, "identity_folders", str(root), len(names), ignored, capped)


def _sample_pairs(
    rng: np.random.Generator, ident: NDArray[Any], count: int, same: bool
) -> list[tuple[int, int]]:
    """``count`` distinct pairs (a < b) of the wanted kind, drawn uniformly, sorted (stable)."""
    n = ident.size
    chosen: set[tuple[int, int]] = set()
    by_identity: list[NDArray[Any]] = []
    weights: NDArray[Any] | None = None
    if same:
        by_identity = [np.flatnonzero(ident == i) for i in np.unique(ident)]
        sizes = np.array([len(ix) * (len(ix) - 1) / 2 for ix in by_identity])
        weights = sizes / sizes.sum()
    while len(chosen) < count:
        batch = 2 * (count - len(chosen)) + 16
        if same:
            assert weights is not None
            which = rng.choice(len(by_identity), size=batch, p=weights)
            for w in which:
                ix = by_identity[int(w)]
                a, b = rng.choice(ix, size=2, replace=False)
                chosen.add((int(min(a, b)), int(max(a, b))))
                if len(chosen) >= count:
                    break
        else:
            a = rng.integers(0, n, size=batch)
            b = rng.integers(0, n, size=batch)
            for x, y in zip(a, b, strict=True):
                if ident[x] != ident[y]:
                    chosen.add((int(min(x, y)), int(max(x, y))))
                    if len(chosen) >= count:
                        break
    return sorted(chosen)


def _read_groups(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = {f.lower().strip(): f for f in reader.fieldnames or []}
        if "identity" not in fields or "group" not in fields:
            raise ValueError(f"{path}: needs the columns identity,group")
        return {row[fields["identity"]].strip(): row[fields["group"]].strip() for row in reader}


def _column(fields: dict[str, str], names: Sequence[str], path: Path) -> str:
    for name in names:
        if name in fields:
            return fields[name]
    raise ValueError(f"{path}: needs a column named {' or '.join(names)}")


def parse_same(value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"cannot read {value!r} as same/different")


def load_pairs_csv(path: Path, root: Path | None = None) -> PairSet:
    path = Path(path)
    base = Path(root) if root is not None else path.parent
    index: dict[Path, int] = {}
    images: list[Path] = []
    pairs: list[Pair] = []

    def image_index(name: str) -> int:
        p = Path(name.strip())
        p = p if p.is_absolute() else base / p
        if p not in index:
            index[p] = len(images)
            images.append(p)
        return index[p]

    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = {f.lower().strip(): f for f in reader.fieldnames or []}
        col_a = _column(fields, ("image_a", "file_a", "a"), path)
        col_b = _column(fields, ("image_b", "file_b", "b"), path)
        col_same = _column(fields, ("same", "relation", "label", "match"), path)
        col_group = fields.get("group")
        for line, row in enumerate(reader, start=2):
            try:
                same = parse_same(row[col_same] or "")
            except ValueError as exc:
                raise ValueError(f"{path}:{line}: {exc}") from None
            group = (row.get(col_group) or "").strip() or None if col_group else None
            pairs.append(Pair(image_index(row[col_a]), image_index(row[col_b]), same, group))
    if not pairs:
        raise ValueError(f"{path}: no pairs")
    missing = [str(p) for p in images if not p.is_file()]
    return PairSet(images, pairs, "pairs_csv", str(path), None, [], {}, missing)


# ----------------------------------------------------------------------------------------------------
# Embedding


@dataclass
class Embedded:
    """One vector per image that yielded a face; the reason for every image that did not."""

    vectors: dict[int, NDArray[np.float32]]
    failures: dict[int, str]
    face_counts: dict[int, int]


Embedder = Callable[[Path], tuple[NDArray[np.float32] | None, int, str | None]]
"""Image path -> (vector of its largest face or None, number of faces found, failure reason or None)."""


def engine_embedder(engine: Any) -> Embedder:
    """Regard's engine: decode like the service does, detect, embed the largest face."""
    from regard.errors import RegardError
    from regard.vision.image import read_image_file

    def embed(path: Path) -> tuple[NDArray[np.float32] | None, int, str | None]:
        try:
            image = read_image_file(path)
        except FileNotFoundError:
            return None, 0, "missing file"
        except RegardError as exc:
            return None, 0, f"{exc.code}: {exc.message}"
        faces = engine.detect(image, max_faces=100)
        if not faces:
            return None, 0, "no face found"
        faces = sorted(faces, key=lambda f: f.area, reverse=True)
        vector = np.asarray(engine.embed(image, faces[:1]), dtype=np.float32)[0]
        return vector, len(faces), None

    return embed


def embed_all(
    images: Sequence[Path],
    embedder: Embedder,
    needed: Iterable[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Embedded:
    wanted = sorted(set(range(len(images)) if needed is None else needed))
    vectors: dict[int, NDArray[np.float32]] = {}
    failures: dict[int, str] = {}
    counts: dict[int, int] = {}
    for done, i in enumerate(wanted, start=1):
        vector, count, reason = embedder(images[i])
        counts[i] = count
        if vector is None:
            failures[i] = reason or "no face found"
        else:
            vectors[i] = vector
        if progress is not None:
            progress(done, len(wanted))
    return Embedded(vectors, failures, counts)


# ----------------------------------------------------------------------------------------------------
# Scores and figures


@dataclass
class Scored:
    """Scores of the pairs whose two images both gave a face."""

    scores: NDArray[np.float64]
    raw: NDArray[np.float64]
    same: NDArray[np.bool_]
    groups: list[str | None]
    pair_index: NDArray[np.int64]
    unscored: Counter[str]


def score_pairs(
    pairset: PairSet,
    embedded: Embedded,
    raw_score: Callable[[NDArray[np.float32], NDArray[np.float32]], float],
    to_score: Callable[[float], float],
) -> Scored:
    """``raw_score`` compares two vectors (cosine for Regard); ``to_score`` maps it to the reported scale."""
    scores, raw, same, groups, kept = [], [], [], [], []
    unscored: Counter[str] = Counter()
    for k, pair in enumerate(pairset.pairs):
        va, vb = embedded.vectors.get(pair.a), embedded.vectors.get(pair.b)
        if va is None or vb is None:
            unscored["genuine" if pair.same else "impostor"] += 1
            continue
        r = float(raw_score(va, vb))
        raw.append(r)
        scores.append(float(to_score(r)))
        same.append(pair.same)
        groups.append(pair.group)
        kept.append(k)
    return Scored(
        np.asarray(scores, np.float64),
        np.asarray(raw, np.float64),
        np.asarray(same, bool),
        groups,
        np.asarray(kept, np.int64),
        unscored,
    )


def cosine(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0
    return float(np.dot(a.astype(np.float64), b.astype(np.float64)) / (na * nb))


def report(
    pairset: PairSet,
    embedded: Embedded,
    scored: Scored,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    far_targets: Sequence[float] = metrics.DEFAULT_FAR_TARGETS,
    folds: int = 10,
    score_scale: str = "",
    threshold_to_raw: Callable[[float], float] | None = None,
) -> dict[str, Any]:
    """Every figure as one JSON-ready dict."""
    failures = [
        {"image": str(pairset.images[i]), "reason": reason} for i, reason in sorted(embedded.failures.items())
    ]
    reasons = Counter(
        "no_face" if r == "no face found" else "missing" if r == "missing file" else "unreadable"
        for r in embedded.failures.values()
    )
    multi = sum(1 for c in embedded.face_counts.values() if c > 1)
    n_gen = sum(1 for p in pairset.pairs if p.same)
    out: dict[str, Any] = {
        "input": {"kind": pairset.kind, "source": pairset.source, "identities": pairset.identities},
        "score_scale": score_scale,
        "images": {
            "total": len(pairset.images),
            "embedded": len(embedded.vectors),
            "no_face": reasons.get("no_face", 0),
            "unreadable": reasons.get("unreadable", 0),
            "missing": reasons.get("missing", 0),
            "several_faces_largest_used": multi,
            "failures": failures,
            "ignored_loose_files": pairset.ignored,
        },
        "pairs": {
            "total": len(pairset.pairs),
            "genuine": n_gen,
            "impostor": len(pairset.pairs) - n_gen,
            "scored": int(scored.scores.size),
            "not_scored_genuine": scored.unscored.get("genuine", 0),
            "not_scored_impostor": scored.unscored.get("impostor", 0),
            "capped": pairset.capped,
        },
    }
    if failures:
        out["pairs"]["note"] = (
            "pairs with an image where no face was found are not scored; in use such a pair is a failed match"
        )
    gen, imp = scored.scores[scored.same], scored.scores[~scored.same]
    overall = metrics.summary(gen, imp, far_targets, thresholds, folds)
    if threshold_to_raw is not None:
        _add_raw_thresholds(overall, threshold_to_raw)
    out["overall"] = overall
    out["hardest_pairs"] = hardest_pairs(pairset, scored)
    names = sorted({g for g in scored.groups if g is not None})
    if names:
        group_arr = np.asarray([g if g is not None else "" for g in scored.groups], dtype=object)
        per_group: dict[str, Any] = {}
        imp_by_group: dict[str, NDArray[np.float64]] = {}
        for name in names:
            mask = group_arr == name
            g_gen, g_imp = scored.scores[mask & scored.same], scored.scores[mask & ~scored.same]
            per_group[name] = (
                metrics.summary(g_gen, g_imp, far_targets, thresholds, folds)
                if (g_gen.size + g_imp.size >= 2)
                else {"genuine_pairs": int(g_gen.size), "impostor_pairs": int(g_imp.size)}
            )
            imp_by_group[name] = g_imp
        out["groups"] = per_group
        ratio_thresholds = list(thresholds)
        for entry in overall.get("tar_at_far", []):
            if entry.get("supported") and entry.get("threshold") is not None:
                ratio_thresholds.append(float(entry["threshold"]))
        unique = sorted(set(ratio_thresholds))
        out["group_fmr_ratio"] = [metrics.group_fmr_ratio(imp_by_group, t) for t in unique]
    return out


def hardest_pairs(pairset: PairSet, scored: Scored, count: int = 5) -> dict[str, list[dict[str, Any]]]:
    """The highest-scoring different-person pairs and the lowest-scoring same-person pairs: the ones to
    look at first."""

    def rows(mask: NDArray[np.bool_], highest: bool) -> list[dict[str, Any]]:
        index = np.flatnonzero(mask)
        order = index[np.argsort(scored.scores[index], kind="stable")]
        picked = order[::-1][:count] if highest else order[:count]
        out = []
        for k in picked:
            pair = pairset.pairs[int(scored.pair_index[k])]
            out.append(
                {
                    "image_a": str(pairset.images[pair.a]),
                    "image_b": str(pairset.images[pair.b]),
                    "score": float(scored.scores[k]),
                    "raw": float(scored.raw[k]),
                    "group": pair.group,
                }
            )
        return out

    return {"impostor_highest": rows(~scored.same, True), "genuine_lowest": rows(scored.same, False)}


def write_scores(path: Path, pairset: PairSet, scored: Scored) -> Path:
    """Every scored pair as CSV: image_a, image_b, same, group, score, raw."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["image_a", "image_b", "same", "group", "score", "raw"])
        for k, index in enumerate(scored.pair_index):
            pair = pairset.pairs[int(index)]
            writer.writerow(
                [
                    pairset.images[pair.a],
                    pairset.images[pair.b],
                    int(pair.same),
                    pair.group or "",
                    f"{scored.scores[k]:.6f}",
                    f"{scored.raw[k]:.6f}",
                ]
            )
    return path


def _add_raw_thresholds(summary: dict[str, Any], to_raw: Callable[[float], float]) -> None:
    def conv(value: Any) -> float | None:
        if value is None:
            return None
        raw = to_raw(float(value))
        return raw if math.isfinite(raw) else None

    if "eer" in summary:
        summary["eer"]["threshold_raw"] = conv(summary["eer"]["threshold"])
    for entry in summary.get("tar_at_far", []):
        if entry.get("supported"):
            entry["threshold_raw"] = conv(entry.get("threshold"))
    for entry in summary.get("at_thresholds", []):
        entry["threshold_raw"] = conv(entry["threshold"])


def evaluate(
    data: Path,
    embedder: Embedder,
    raw_score: Callable[[NDArray[np.float32], NDArray[np.float32]], float],
    to_score: Callable[[float], float],
    *,
    root: Path | None = None,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    far_targets: Sequence[float] = metrics.DEFAULT_FAR_TARGETS,
    folds: int = 10,
    score_scale: str = "",
    threshold_to_raw: Callable[[float], float] | None = None,
    progress: Callable[[int, int], None] | None = None,
    scores_path: Path | None = None,
) -> tuple[dict[str, Any], Scored]:
    """Load, embed, score and report in one call (used by the CLI and by the peer benchmark)."""
    pairset = load_pairs(data, root=root, max_pairs=max_pairs)
    needed = {p.a for p in pairset.pairs} | {p.b for p in pairset.pairs}
    embedded = embed_all(pairset.images, embedder, needed, progress)
    scored = score_pairs(pairset, embedded, raw_score, to_score)
    result = report(pairset, embedded, scored, thresholds, far_targets, folds, score_scale, threshold_to_raw)
    if scores_path is not None:
        result["scores_csv"] = str(write_scores(scores_path, pairset, scored))
    return result, scored
