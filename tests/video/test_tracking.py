"""The tracker: one track per face across frames, few embeddings, splits on identity switches, re-id."""

from __future__ import annotations

import numpy as np

from regard.vision.tracking import Tracker, iou

from .helpers import face, unit


def run(tracker: Tracker, frames: list[tuple[int, list, list]]) -> None:
    """frames: (timestamp, faces, identity seed per face)."""
    for ts, faces, seeds in frames:
        for request in tracker.update(ts, faces):
            position = next(i for i, f in enumerate(faces) if f is request.face)
            tracker.add_embedding(request, unit(seeds[position]))


def test_iou() -> None:
    assert iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert iou([0, 0, 10, 10], [20, 20, 30, 30]) == 0.0
    assert abs(iou([0, 0, 10, 10], [5, 0, 15, 10]) - 1 / 3) < 1e-6


def test_a_moving_face_is_one_track_embedded_a_few_times() -> None:
    tracker = Tracker(embed_every_ms=2000)
    frames = [(ts, [face(10 + ts / 20, 50, 90 + ts / 20, 150)], [1]) for ts in range(0, 10_000, 200)]
    run(tracker, frames)
    tracks = tracker.finish()
    assert len(tracks) == 1
    assert len(tracks[0].points) == 50
    assert tracks[0].person_index == 0
    # first frame + one every 2 s: 5, not 50
    assert 4 <= tracker.embeddings_requested <= 6


def test_embed_all_is_the_baseline() -> None:
    tracker = Tracker(embed_all=True)
    run(tracker, [(ts, [face(10, 50, 90, 150)], [1]) for ts in range(0, 2000, 200)])
    assert tracker.embeddings_requested == 10


def test_a_better_view_is_embedded() -> None:
    tracker = Tracker(embed_every_ms=60_000)
    run(tracker, [(0, [face(10, 50, 90, 150, yaw=60)], [1])])
    assert tracker.embeddings_requested == 1
    run(tracker, [(200, [face(10, 50, 90, 150, yaw=58)], [1])])
    assert tracker.embeddings_requested == 1  # no better
    run(tracker, [(400, [face(10, 50, 90, 150, yaw=0)], [1])])
    assert tracker.embeddings_requested == 2  # frontal now


def test_two_faces_side_by_side_stay_apart() -> None:
    tracker = Tracker()
    frames = [
        (ts, [face(10, 50, 90, 150), face(300 - ts / 100, 50, 380 - ts / 100, 150)], [1, 2])
        for ts in range(0, 4000, 200)
    ]
    run(tracker, frames)
    tracks = tracker.finish()
    assert len(tracks) == 2
    assert {t.person_index for t in tracks} == {0, 1}
    assert all(len(t.points) == 20 for t in tracks)


def test_fast_motion_without_overlap_is_still_followed() -> None:
    tracker = Tracker()
    # 40 px wide face moving 30 px per sample: IoU with the last box is small, proximity carries it.
    run(tracker, [(i * 200, [face(i * 30, 50, i * 30 + 40, 100)], [1]) for i in range(10)])
    assert len(tracker.finish()) == 1


def test_a_face_that_leaves_and_returns_gets_its_person_index_back() -> None:
    tracker = Tracker(max_gap_ms=600)
    first = [(ts, [face(10, 50, 90, 150)], [1]) for ts in range(0, 1000, 200)]
    other = [(ts, [face(400, 50, 480, 150)], [2]) for ts in range(1000, 2000, 200)]
    again = [(ts, [face(200, 60, 280, 160)], [1]) for ts in range(3000, 4000, 200)]
    run(tracker, first + other + again)
    tracks = tracker.finish()
    assert len(tracks) == 3
    assert [t.person_index for t in tracks] == [0, 1, 0]


def test_an_identity_switch_splits_the_track() -> None:
    tracker = Tracker(embed_every_ms=400)
    frames = [(ts, [face(10, 50, 90, 150)], [1 if ts < 1000 else 2]) for ts in range(0, 2000, 200)]
    run(tracker, frames)
    tracks = tracker.finish()
    assert tracker.splits == 1
    assert len(tracks) == 2
    assert tracks[0].last_ms <= 1000 <= tracks[1].first_ms <= 1400
    assert tracks[0].person_index != tracks[1].person_index


def test_mean_embedding_is_normalised() -> None:
    tracker = Tracker(embed_all=True, switch_cosine=-1.0)
    run(tracker, [(ts, [face(10, 50, 90, 150)], [ts]) for ts in range(0, 1000, 200)])
    (track,) = tracker.finish()
    mean = track.mean_embedding()
    assert mean is not None and abs(float(np.linalg.norm(mean)) - 1.0) < 1e-5


def test_a_cut_to_someone_nearby_is_checked_and_split() -> None:
    """A scene cut puts another person's face where the last one was, overlapping it only partly (IoU about
    0.35, as in the Hamilton clip at 7.2 s): the weak link is checked with an embedding at once and the track
    splits, instead of carrying the first person's name onto the second until the next periodic embedding."""
    tracker = Tracker(embed_every_ms=60_000)
    run(tracker, [(ts, [face(100, 50, 200, 180)], [1]) for ts in range(0, 1000, 200)])
    assert tracker.embeddings_requested == 1
    cut = face(140, 65, 215, 170)
    assert 0.25 <= iou([100, 50, 200, 180], [140, 65, 215, 170]) < 0.5
    run(tracker, [(ts, [cut], [2]) for ts in range(1000, 2000, 200)])
    assert tracker.splits == 1 and len(tracker.finish()) == 2
