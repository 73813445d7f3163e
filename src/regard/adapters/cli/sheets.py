"""Contact sheets: face tiles cropped from pixels, laid out in rows; shared by video and cluster commands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import click
import cv2
import numpy as np
from numpy.typing import NDArray

Pixels = NDArray[np.uint8]
CAPTION = 24  # pixels of white under each tile for its caption


def face_tile(pixels: Pixels, box: Mapping[str, float], caption: str, *, tile: int = 160) -> Pixels:
    """A square crop around the face's relative BoundingBox (with a margin), captioned underneath."""
    h, w = pixels.shape[:2]
    cx, cy = (box["Left"] + box["Width"] / 2) * w, (box["Top"] + box["Height"] / 2) * h
    half = max(box["Width"] * w, box["Height"] * h) * 0.8
    x1, y1 = int(max(cx - half, 0)), int(max(cy - half, 0))
    x2, y2 = int(min(cx + half, w)), int(min(cy + half, h))
    canvas = blank_tile(tile)
    if x2 > x1 and y2 > y1:
        canvas[:tile] = cv2.resize(pixels[y1:y2, x1:x2], (tile, tile), interpolation=cv2.INTER_AREA)
    cv2.putText(
        canvas, caption[:26], (4, tile + 17), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA
    )
    return canvas


def blank_tile(tile: int = 160) -> Pixels:
    return np.full((tile + CAPTION, tile, 3), 255, np.uint8)


def write_sheet(rows: Sequence[Sequence[Pixels]], out: Path) -> None:
    """Write rows of equally sized tiles (ragged rows padded white) as one image; fails clearly."""
    rows = [list(r) for r in rows if r] or [[blank_tile()]]
    th, tw = rows[0][0].shape[:2]
    width = max(len(r) for r in rows) * tw
    sheet = np.full((len(rows) * th, width, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            sheet[r * th : (r + 1) * th, c * tw : (c + 1) * tw] = tile
    if not cv2.imwrite(str(out), sheet):
        raise click.ClickException(f"Could not write {out}.")
    out.chmod(0o600)  # faces are biometric data: readable by their owner only
