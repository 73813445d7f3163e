"""Follow faces across the sampled frames of a video, so each face is embedded a few times, not every frame.

Association is greedy, frame to frame: every (track, detection) pair is scored by the IoU of the
detection with the track's predicted box (last box moved by the track's recent velocity), or, when
the boxes do not overlap (fast motion at a low sampling rate), by how close their centres are relative
to the face size; pairs are taken best first. Appearance checks the geometry: a track is embedded on
its first frame, again whenever a clearly better view of the face turns up (bigger, more frontal,
more confident), and periodically; an embedding far from the track's own means the box jumped to
someone else, and the track is split there.

When the video is done, tracks that never overlap in time and look alike (cosine of their mean
embeddings over ``reid_cosine``) are given the same Person Index, as Rekognition gives one index to
one person seen twice; indexes run from 0 in order of first appearance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from regard.vision.face import Face

Vector = NDArray[np.float32]


@dataclass(slots=True)
class TrackPoint:
    timestamp_ms: int
    face: Face


@dataclass(slots=True)
class Track:
    """One face followed across frames; ``points`` in time order, ``embeddings`` a few of them."""

    track_id: int
    points: list[TrackPoint] = field(default_factory=list)
    embeddings: list[tuple[int, Vector, float]] = field(default_factory=list)  # (timestamp, vector, weight)
    misses: int = 0
    last_embedded_ms: int = -1
    best_embedded_quality: float = 0.0
    person_index: int = -1

    @property
    def first_ms(self) -> int:
        return self.points[0].timestamp_ms

    @property
    def last_ms(self) -> int:
        return self.points[-1].timestamp_ms

    def mean_embedding(self) -> Vector | None:
        """Quality-weighted mean of the track's embeddings, L2-normalised; None if never embedded."""
        if not self.embeddings:
            return None
        vectors = np.stack([v for _, v, _ in self.embeddings])
        weights = np.array([max(w, 1e-6) for _, _, w in self.embeddings], dtype=np.float32)
        mean = (vectors * weights[:, None]).sum(axis=0)
        norm = float(np.linalg.norm(mean))
        return (mean / norm).astype(np.float32) if norm > 0 else None

    def predicted_box(self, timestamp_ms: int) -> NDArray[np.float32]:
        last = self.points[-1]
        box = np.asarray(last.face.box, dtype=np.float32)
        if len(self.points) < 2:
            return box
        prev = self.points[-2]
        dt = last.timestamp_ms - prev.timestamp_ms
        if dt <= 0:
            return box
        velocity = (box - np.asarray(prev.face.box, dtype=np.float32)) / dt
        ahead = min(timestamp_ms - last.timestamp_ms, 2 * dt)  # do not extrapolate far
        return box + velocity * ahead


def view_quality(face: Face) -> float:
    """How good a view of the face this is, to choose frames to embed: size x confidence x frontality."""
    size = math.sqrt(max(face.area, 0.0))
    yaw = math.radians(max(min(face.pose.yaw, 90.0), -90.0))
    pitch = math.radians(max(min(face.pose.pitch, 90.0), -90.0))
    frontal = max(math.cos(yaw), 0.1) * max(math.cos(pitch), 0.1)
    return float(face.score) * size * frontal


def iou(a: Sequence[float] | NDArray[np.float32], b: Sequence[float] | NDArray[np.float32]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    area_a = max(a[2] - a[0], 0.0) * max(a[3] - a[1], 0.0)
    area_b = max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)
    union = area_a + area_b - inter
    return float(inter / union) if union > 0 else 0.0


def _proximity(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    """0-1 closeness of two boxes that may not overlap: centre distance over face size, sizes alike."""
    wa, ha = a[2] - a[0], a[3] - a[1]
    wb, hb = b[2] - b[0], b[3] - b[1]
    size_a, size_b = math.sqrt(max(wa * ha, 1e-6)), math.sqrt(max(wb * hb, 1e-6))
    ratio = size_a / size_b
    if not 0.6 <= ratio <= 1.67:
        return 0.0
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    distance = math.hypot(dx, dy) / ((size_a + size_b) / 2)
    return max(0.0, 1.0 - distance)  # 1 = same centre; 0 at one face-width apart


@dataclass(slots=True)
class EmbedRequest:
    """A detection the tracker wants embedded; hand the vector back with ``Tracker.add_embedding``."""

    track: Track
    face: Face
    timestamp_ms: int


class Tracker:
    """Greedy IoU/proximity tracker with sparse embeddings.

    Per sampled frame: ``requests = tracker.update(timestamp_ms, faces)``; embed ``[r.face for r in
    requests]`` on that frame and call ``tracker.add_embedding(request, vector)`` for each; at the end
    ``tracks = tracker.finish()``.
    """

    def __init__(
        self,
        *,
        iou_threshold: float = 0.25,
        proximity_threshold: float = 0.2,
        max_gap_ms: int = 1000,
        embed_every_ms: int = 2000,
        quality_gain: float = 1.3,
        confirm_iou: float = 0.5,
        switch_cosine: float = 0.15,
        reid_cosine: float = 0.5,
        embed_all: bool = False,
    ) -> None:
        self.iou_threshold = iou_threshold
        self.proximity_threshold = proximity_threshold
        self.max_gap_ms = max_gap_ms
        self.embed_every_ms = embed_every_ms
        self.quality_gain = quality_gain
        self.confirm_iou = confirm_iou  # a weaker link (a cut, a jump) is checked with an embedding
        self.switch_cosine = switch_cosine
        self.reid_cosine = reid_cosine
        self.embed_all = embed_all  # the baseline the benchmark compares against: embed every detection
        self._active: list[Track] = []
        self._done: list[Track] = []
        self._next_id = 0
        self.embeddings_requested = 0
        self.splits = 0

    # --- per frame -------------------------------------------------------------------------------
    def update(self, timestamp_ms: int, faces: Sequence[Face]) -> list[EmbedRequest]:
        self._retire(timestamp_ms)
        pairs: list[tuple[float, int, int]] = []
        for ti, track in enumerate(self._active):
            predicted = track.predicted_box(timestamp_ms)
            for di, face in enumerate(faces):
                box = np.asarray(face.box, dtype=np.float32)
                overlap = iou(predicted, box)
                if overlap >= self.iou_threshold:
                    pairs.append((1.0 + overlap, ti, di))  # any overlap beats any mere proximity
                    continue
                near = _proximity(predicted, box)
                if near >= self.proximity_threshold:
                    pairs.append((near, ti, di))
        pairs.sort(key=lambda p: -p[0])
        used_tracks: set[int] = set()
        assigned: dict[int, Track] = {}
        weak: set[int] = set()
        for link, ti, di in pairs:
            if ti in used_tracks or di in assigned:
                continue
            used_tracks.add(ti)
            assigned[di] = self._active[ti]
            if link < 1.0 + self.confirm_iou:
                weak.add(di)
        for ti, track in enumerate(self._active):
            if ti not in used_tracks:
                track.misses += 1
        requests: list[EmbedRequest] = []
        for di, face in enumerate(faces):
            track = assigned.get(di)
            if track is None:
                track = Track(track_id=self._next_id)
                self._next_id += 1
                self._active.append(track)
            track.misses = 0
            track.points.append(TrackPoint(timestamp_ms, face))
            if di in weak or self._wants_embedding(track, face, timestamp_ms):
                requests.append(EmbedRequest(track, face, timestamp_ms))
        self.embeddings_requested += len(requests)
        return requests

    def _wants_embedding(self, track: Track, face: Face, timestamp_ms: int) -> bool:
        if self.embed_all or track.last_embedded_ms < 0:
            return True
        if timestamp_ms - track.last_embedded_ms >= self.embed_every_ms:
            return True
        return view_quality(face) >= self.quality_gain * track.best_embedded_quality

    def add_embedding(self, request: EmbedRequest, vector: Vector) -> None:
        track = request.track
        vector = np.asarray(vector, dtype=np.float32)
        mean = track.mean_embedding()
        if (
            mean is not None
            and len(track.points) > 1
            and track.points[-1].face is request.face
            and float(mean @ vector) < self.switch_cosine
        ):
            # The box slid onto someone else: close the old track before this point, start a new one.
            track.points.pop()
            self._done.append(track)
            self._active.remove(track)
            track = Track(track_id=self._next_id, points=[TrackPoint(request.timestamp_ms, request.face)])
            self._next_id += 1
            self._active.append(track)
            self.splits += 1
        quality = view_quality(request.face)
        track.embeddings.append((request.timestamp_ms, vector, quality))
        track.last_embedded_ms = request.timestamp_ms
        track.best_embedded_quality = max(track.best_embedded_quality, quality)

    def _retire(self, timestamp_ms: int) -> None:
        keep: list[Track] = []
        for track in self._active:
            if timestamp_ms - track.last_ms > self.max_gap_ms:
                self._done.append(track)
            else:
                keep.append(track)
        self._active = keep

    # --- at the end ------------------------------------------------------------------------------
    def finish(self) -> list[Track]:
        """All tracks, ordered by first appearance, with Person Indexes assigned."""
        tracks = sorted(self._done + self._active, key=lambda t: (t.first_ms, t.track_id))
        self._done, self._active = [], []
        tracks = [t for t in tracks if t.points]
        assign_person_indexes(tracks, self.reid_cosine)
        return tracks


def assign_person_indexes(tracks: Sequence[Track], reid_cosine: float) -> None:
    """Give every track a Person Index; a track like an earlier, non-overlapping one reuses its index."""
    people: list[list[Track]] = []
    for track in tracks:  # in order of first appearance
        mean = track.mean_embedding()
        best: tuple[float, int] | None = None
        if mean is not None and reid_cosine < 1.0:
            for index, members in enumerate(people):
                if any(_overlap(track, other) for other in members):
                    continue
                vectors = [m for m in (o.mean_embedding() for o in members) if m is not None]
                if not vectors:
                    continue
                cosine = max(float(v @ mean) for v in vectors)
                if cosine >= reid_cosine and (best is None or cosine > best[0]):
                    best = (cosine, index)
        if best is None:
            track.person_index = len(people)
            people.append([track])
        else:
            track.person_index = best[1]
            people[best[1]].append(track)


def _overlap(a: Track, b: Track) -> bool:
    return a.first_ms <= b.last_ms and b.first_ms <= a.last_ms
