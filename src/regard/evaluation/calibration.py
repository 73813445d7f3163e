"""Similarity -> estimated false-match rate, for one model pack, measured on labelled data.

A table is built from the impostor (different-person) pairs of a labelled set: for each similarity ``s`` on
a grid it stores the share of impostor pairs scoring ``>= s`` and a two-sided 95% Clopper-Pearson interval
for it. The interval matters more than the estimate: with ``n`` impostor pairs and no false match, the true
rate can still be up to about ``3.7 / n``.

Tables live under the data folder as ``DATA/calibration/<pack name>.json`` (mode 0600). When a user has
none for the active pack, the table shipped in ``regard/evaluation/calibrations/`` for that pack (built
from small public sets, so with wide bounds) is used instead. A table only applies to the exact
``model_version`` it was measured with.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from regard.evaluation.metrics import CONFIDENCE, clopper_pearson

FORMAT = 1
CALIBRATION_DIR = "calibration"
DEFAULT_GRID: tuple[float, ...] = tuple(float(s) for s in range(0, 90)) + tuple(
    round(90 + 0.5 * i, 1) for i in range(0, 21)
)
"""Every whole similarity from 0 to 89, then every half point from 90 to 100."""


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    similarity: float
    false_matches: int
    fmr: float
    fmr_lower: float
    fmr_upper: float
    true_matches: int | None = None
    tar: float | None = None
    cosine: float | None = None
    """The recogniser's cosine that mapped to ``similarity`` when the table was built."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "similarity": self.similarity,
            "cosine": self.cosine,
            "false_matches": self.false_matches,
            "fmr": self.fmr,
            "fmr_lower": self.fmr_lower,
            "fmr_upper": self.fmr_upper,
        }
        if self.true_matches is not None:
            out["true_matches"] = self.true_matches
            out["tar"] = self.tar
        return out


@dataclass(frozen=True)
class Calibration:
    """A measured similarity -> false-match-rate table for one ``model_version``."""

    model_version: str
    impostor_pairs: int
    genuine_pairs: int
    points: tuple[CalibrationPoint, ...]
    confidence: float = CONFIDENCE
    created: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    origin: str = ""
    """Where the table was loaded from (a file path, or ``builtin:<name>``); not stored."""

    @property
    def pack_name(self) -> str:
        return pack_name(self.model_version)

    @property
    def builtin(self) -> bool:
        return self.origin.startswith("builtin:")

    def point_at(self, similarity: float) -> CalibrationPoint:
        """The table row for the highest grid similarity not above ``similarity``.

        FMR only falls as the similarity rises, so reading the row at or below the asked similarity can
        only overstate the rate, never understate it. When the rows record their cosine, the lookup goes
        through the cosine (with the current similarity mapping), so a table stays right if the 0-100
        mapping is retuned."""
        to_cosine = _cosine_mapping() if all(p.cosine is not None for p in self.points) else None
        values = [p.similarity if to_cosine is None else float(p.cosine or 0.0) for p in self.points]
        target = similarity if to_cosine is None else to_cosine(similarity)
        best = self.points[0]
        for point, value in zip(self.points, values, strict=True):
            if value <= target + 1e-9:
                best = point
            else:
                break
        return best

    def false_match_rate(self, similarity: float) -> tuple[float, float]:
        """``(estimate, upper_bound)`` of the share of different-person pairs scoring at or above
        ``similarity``.

        The upper bound is the upper end of the two-sided ``confidence`` (95%) interval; report it beside
        the estimate, since on small calibration sets the estimate is often 0."""
        point = self.point_at(similarity)
        return (point.fmr, point.fmr_upper)

    def similarity_for_fmr(self, target: float, use_upper_bound: bool = True) -> float | None:
        """The lowest grid similarity whose FMR (by default its upper bound) is at or below ``target``, or
        None when even similarity 100 cannot be shown to reach it on this calibration set."""
        for point in self.points:
            value = point.fmr_upper if use_upper_bound else point.fmr
            if value <= target:
                return point.similarity
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model_version": self.model_version,
            "created": self.created,
            "confidence": self.confidence,
            "impostor_pairs": self.impostor_pairs,
            "genuine_pairs": self.genuine_pairs,
            "source": self.source,
            "note": self.note,
            "table": [p.to_dict() for p in self.points],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "") -> Calibration:
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown calibration format {data.get('format')!r}")
        points = tuple(
            CalibrationPoint(
                similarity=float(p["similarity"]),
                false_matches=int(p["false_matches"]),
                fmr=float(p["fmr"]),
                fmr_lower=float(p["fmr_lower"]),
                fmr_upper=float(p["fmr_upper"]),
                true_matches=None if p.get("true_matches") is None else int(p["true_matches"]),
                tar=None if p.get("tar") is None else float(p["tar"]),
                cosine=None if p.get("cosine") is None else float(p["cosine"]),
            )
            for p in sorted(data["table"], key=lambda p: float(p["similarity"]))
        )
        if not points:
            raise ValueError("calibration table is empty")
        return cls(
            model_version=str(data["model_version"]),
            impostor_pairs=int(data["impostor_pairs"]),
            genuine_pairs=int(data.get("genuine_pairs", 0)),
            points=points,
            confidence=float(data.get("confidence", CONFIDENCE)),
            created=str(data.get("created", "")),
            source=dict(data.get("source", {})),
            note=str(data.get("note", "")),
            origin=origin,
        )


def _cosine_mapping() -> Callable[[float], float] | None:
    try:
        from regard.vision.similarity import cosine_from_similarity
    except ImportError:
        return None
    return lambda s: float(cosine_from_similarity(float(s)))


def pack_name(model_version: str) -> str:
    """``buffalo_s/1.0`` -> ``buffalo_s``, made safe as a file name."""
    name = model_version.split("/", 1)[0]
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "default"


def build_calibration(
    model_version: str,
    impostor_similarities: ArrayLike,
    genuine_similarities: ArrayLike | None = None,
    grid: Sequence[float] = DEFAULT_GRID,
    confidence: float = CONFIDENCE,
    source: dict[str, Any] | None = None,
    note: str = "",
    to_cosine: Callable[[float], float] | None = None,
) -> Calibration:
    """The table from the similarities of impostor (and optionally genuine) pairs; ``to_cosine`` (the inverse
    of the similarity mapping) records each row's cosine so lookups survive a change of mapping."""
    imp = np.sort(np.asarray(impostor_similarities, dtype=np.float64).reshape(-1))
    if imp.size == 0:
        raise ValueError("calibration needs at least one impostor (different-person) pair")
    gen = (
        None
        if genuine_similarities is None
        else np.sort(np.asarray(genuine_similarities, np.float64).ravel())
    )
    points = []
    for s in sorted(float(x) for x in grid):
        k = int(imp.size - np.searchsorted(imp, s, side="left"))
        lower, upper = clopper_pearson(k, int(imp.size), confidence)
        tm = None if gen is None or gen.size == 0 else int(gen.size - np.searchsorted(gen, s, side="left"))
        points.append(
            CalibrationPoint(
                similarity=s,
                false_matches=k,
                fmr=k / imp.size,
                fmr_lower=lower,
                fmr_upper=upper,
                true_matches=tm,
                tar=None if tm is None or gen is None else tm / gen.size,
                cosine=None if to_cosine is None else float(to_cosine(s)),
            )
        )
    return Calibration(
        model_version=model_version,
        impostor_pairs=int(imp.size),
        genuine_pairs=0 if gen is None else int(gen.size),
        points=tuple(points),
        confidence=confidence,
        created=datetime.now(UTC).replace(microsecond=0).isoformat(),
        source=source or {},
        note=note,
    )


def calibration_path(data_dir: Path, model_version: str) -> Path:
    return Path(data_dir) / CALIBRATION_DIR / f"{pack_name(model_version)}.json"


def calibration_setting(model_version: str) -> str:
    """The name a shared database (``--database``) keeps the table under, for every replica to read."""
    return f"{CALIBRATION_DIR}/{pack_name(model_version)}.json"


def save_calibration(data_dir: Path, calibration: Calibration, *, settings: Any = None) -> Path | str:
    """Write atomically to ``DATA/calibration/<pack name>.json`` with mode 0600 (folder 0700); or, given a
    shared store's ``settings`` (``put_setting``), into the database, and return where it went."""
    if settings is not None:
        name = calibration_setting(calibration.model_version)
        settings.put_setting(name, json.dumps(calibration.to_dict(), indent=1).encode())
        return f"database:{name}"
    path = calibration_path(data_dir, calibration.model_version)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = json.dumps(calibration.to_dict(), indent=1, sort_keys=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".calibration-", suffix=".json", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)
    return path


def builtin_calibration(model_version: str) -> Calibration | None:
    """The table shipped with Regard for this pack, if there is one for exactly this ``model_version``."""
    name = f"{pack_name(model_version)}.json"
    try:
        resource = resources.files("regard.evaluation").joinpath("calibrations", name)
        if not resource.is_file():
            return None
        calibration = Calibration.from_dict(json.loads(resource.read_text("utf-8")), origin=f"builtin:{name}")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return calibration if calibration.model_version == model_version else None


def load_calibration(
    data_dir: Path | str | None, model_version: str, *, settings: Any = None
) -> Calibration | None:
    """The user's table for ``model_version`` (in the shared database when ``settings`` is given, else under
    ``data_dir``) if present and valid, else the built-in one for that pack, else None. A table measured with
    another version of the pack is never used."""
    if settings is not None:
        name = calibration_setting(model_version)
        raw = settings.get_setting(name)
        try:
            stored = Calibration.from_dict(json.loads(raw), origin=f"database:{name}") if raw else None
        except (ValueError, KeyError, TypeError):
            stored = None
        if stored is not None and stored.model_version == model_version:
            return stored
        return builtin_calibration(model_version)
    if data_dir is not None:
        path = calibration_path(Path(data_dir), model_version)
        if path.is_file():
            try:
                calibration = Calibration.from_dict(json.loads(path.read_text("utf-8")), origin=str(path))
            except (OSError, ValueError, KeyError, TypeError):
                calibration = None
            if calibration is not None and calibration.model_version == model_version:
                return calibration
    return builtin_calibration(model_version)


def format_fmr(estimate: float, upper: float) -> str:
    """Human wording, e.g. ``0.1% (at most 0.4%)`` or ``0 (at most 1 in 270)``."""

    def pct(x: float) -> str:
        if x == 0:
            return "0"
        if x >= 0.001:
            return f"{x * 100:.2g}%"
        return f"1 in {math.ceil(1 / x):,}"

    return f"{pct(estimate)} (at most {pct(upper)})"


MATCH_LISTS = ("FaceMatches", "UserMatches")


def annotate_matches(response: dict[str, Any], calibration: Calibration | None) -> dict[str, Any]:
    """Add ``EstimatedFalseMatchRate`` and ``FalseMatchRateUpperBound`` to every match of a response.

    For the Python API and the CLI only: the AWS wire format stays exactly Rekognition's.
    """
    if calibration is None:
        return response
    for key in MATCH_LISTS:
        for match in response.get(key) or []:
            estimate, upper = calibration.false_match_rate(match["Similarity"])
            match["EstimatedFalseMatchRate"] = estimate
            match["FalseMatchRateUpperBound"] = upper
    return response
