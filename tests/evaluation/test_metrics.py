"""Metrics against values computed by hand on tiny score sets."""

from __future__ import annotations

import json
import math
import stat

import numpy as np
import pytest

from regard.evaluation import calibration, detection, metrics, verification

# 4 genuine, 5 impostor. Sorted together (descending):
# 0.9 G, 0.8 G, 0.75 I, 0.7 G, 0.5 I, 0.4 G, 0.3 I, 0.2 I, 0.1 I
GEN = [0.9, 0.8, 0.7, 0.4]
IMP = [0.1, 0.2, 0.3, 0.75, 0.5]


def test_roc_points_by_hand() -> None:
    roc = metrics.roc_curve(GEN, IMP)
    assert roc.thresholds[0] == math.inf
    np.testing.assert_allclose(roc.thresholds[1:], [0.9, 0.8, 0.75, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1])
    np.testing.assert_allclose(roc.fmr, [0, 0, 0, 0.2, 0.2, 0.4, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(roc.tar, [0, 0.25, 0.5, 0.5, 0.75, 0.75, 1, 1, 1, 1])
    assert (roc.n_genuine, roc.n_impostor) == (4, 5)


def test_auc_by_hand() -> None:
    # genuine 0.9 and 0.8 beat all 5 impostors, 0.7 beats 4, 0.4 beats 3: 17 of 20 comparisons
    assert metrics.auc(GEN, IMP) == pytest.approx(17 / 20)
    # ties count one half: 1 genuine vs 2 impostors, one tie and one win
    assert metrics.auc([0.5], [0.5, 0.1]) == pytest.approx(0.75)
    # the Mann-Whitney AUC equals the trapezoidal area under the ROC
    roc = metrics.roc_curve(GEN, IMP)
    assert np.trapezoid(roc.tar, roc.fmr) == pytest.approx(17 / 20)


def test_eer_is_interpolated() -> None:
    # FMR - FNMR changes sign between (0.2, 0.25) at t=0.7 (diff -0.05) and (0.4, 0.25) at t=0.5 (diff +0.15):
    # alpha = 0.05 / 0.2 = 0.25 -> EER = 0.2 + 0.25 * 0.2 = 0.25, threshold 0.7 - 0.25 * 0.2 = 0.65
    e = metrics.eer(metrics.roc_curve(GEN, IMP))
    assert e.rate == pytest.approx(0.25)
    assert e.threshold == pytest.approx(0.65)


def test_eer_of_separable_scores_is_zero() -> None:
    e = metrics.eer(metrics.roc_curve([0.9, 0.8], [0.1, 0.2, 0.3]))
    assert e.rate == 0.0
    assert 0.3 <= e.threshold <= 0.8


def test_eer_exact_crossing() -> None:
    # gen [0.6, 0.4], imp [0.5, 0.3]: at t=0.5, FMR 1/2 and FNMR 1/2
    e = metrics.eer(metrics.roc_curve([0.6, 0.4], [0.5, 0.3]))
    assert e.rate == pytest.approx(0.5)
    assert e.threshold == pytest.approx(0.5)


def test_tar_at_far_by_hand() -> None:
    roc = metrics.roc_curve(GEN, IMP)
    at20 = metrics.tar_at_far(roc, 0.2)
    assert at20.supported
    assert at20.threshold == pytest.approx(0.7)
    assert at20.tar is not None and (at20.tar.count, at20.tar.total) == (3, 4)
    assert at20.fmr is not None and (at20.fmr.count, at20.fmr.total) == (1, 5)
    at40 = metrics.tar_at_far(roc, 0.4)
    assert at40.tar is not None and at40.tar.value == 1.0 and at40.threshold == pytest.approx(0.4)
    # 1/5 = 0.2 is the smallest FAR that 5 impostor pairs can show
    low = metrics.tar_at_far(roc, 0.1)
    assert not low.supported and low.tar is None
    assert "not supported" in low.to_dict()["note"]
    assert low.to_dict()["negatives"] == 5


def test_far_supported_boundary() -> None:
    assert metrics.far_supported(1e-3, 1000)
    assert not metrics.far_supported(1e-3, 999)
    assert not metrics.far_supported(1e-2, 0)


def test_tar_at_far_on_larger_set() -> None:
    # 1000 impostors at 0..0.999, genuine 0.995..: FAR 1e-3 allows one false match (0.999)
    imp = np.arange(1000) / 1000
    gen = np.array([0.9985, 0.9995, 1.5, 0.5])
    at = metrics.tar_at_far(metrics.roc_curve(gen, imp), 1e-3)
    assert at.supported
    assert at.threshold == pytest.approx(0.9985)  # the lowest threshold still admitting only 0.999
    assert at.tar is not None and at.tar.count == 3
    assert at.fmr is not None and at.fmr.count == 1


def test_errors_at_threshold() -> None:
    at = metrics.errors_at(GEN, IMP, 0.7)
    assert (at.fmr.count, at.fmr.total) == (1, 5)  # 0.75
    assert (at.fnmr.count, at.fnmr.total) == (1, 4)  # 0.4; a score equal to the threshold matches (0.7)


def test_best_threshold_and_kfold() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.4, 0.1, 0.2, 0.3, 0.75, 0.5])
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0], bool)
    threshold, acc = metrics.best_threshold(scores, labels)
    # threshold 0.6 (between 0.5 and 0.7): wrong only on 0.75 and 0.4 -> 7/9; 0.35 also 7/9, lowest wins
    assert acc == pytest.approx(7 / 9)
    assert threshold == pytest.approx(0.35)
    # 3 folds, no shuffle: genuine dealt to folds 0,1,2,0 and impostors (offset 4) to 1,2,0,1,2
    # fold 0 = {0.9, 0.4, 0.3}: train on the rest -> best threshold 0.6 -> 0.9 right, 0.4 wrong,
    # 0.3 right = 2/3
    k = metrics.kfold_accuracy(scores, labels, folds=3, seed=None)
    assert k.folds == 3
    assert k.accuracies[0] == pytest.approx(2 / 3)
    assert k.thresholds[0] == pytest.approx(0.6)
    assert k.mean == pytest.approx(np.mean(k.accuracies))


def test_kfold_separable_is_perfect() -> None:
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.uniform(0.6, 1.0, 50), rng.uniform(0.0, 0.4, 50)])
    labels = np.concatenate([np.ones(50, bool), np.zeros(50, bool)])
    k = metrics.kfold_accuracy(scores, labels, folds=10)
    assert k.folds == 10 and k.mean == 1.0 and k.std == 0.0
    assert all(0.4 <= t <= 0.6 for t in k.thresholds)


def test_clopper_pearson_known_values() -> None:
    lo, hi = metrics.clopper_pearson(5, 10)
    assert lo == pytest.approx(0.187086, abs=1e-6) and hi == pytest.approx(0.812914, abs=1e-6)
    # zero events: upper bound 1 - (alpha/2)^(1/n); all events: the mirror image
    lo, hi = metrics.clopper_pearson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-9)
    lo, hi = metrics.clopper_pearson(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 10), rel=1e-9)
    # "rule of three": 0 of 1000 -> upper bound about 3.7/1000 for a two-sided 95% interval
    assert metrics.clopper_pearson(0, 1000)[1] == pytest.approx(0.003682, abs=2e-6)
    assert all(math.isnan(v) for v in metrics.clopper_pearson(0, 0))


def test_wilson_known_values() -> None:
    lo, hi = metrics.wilson(5, 10)
    assert lo == pytest.approx(0.236593, abs=1e-5) and hi == pytest.approx(0.763407, abs=1e-5)


def test_group_fmr_ratio() -> None:
    groups = {
        "a": [0.1, 0.2, 0.9, 0.95],  # 2 of 4 at >= 0.9
        "b": [0.1, 0.2, 0.3, 0.91, 0.1, 0.1, 0.1, 0.1],  # 1 of 8
        "c": [0.1, 0.2, 0.3, 0.4],  # 0 of 4
    }
    out = metrics.group_fmr_ratio({k: v for k, v in groups.items() if k != "c"}, 0.9)
    assert out["worst_group"] == "a" and out["best_group"] == "b"
    assert out["ratio"] == pytest.approx((2 / 4) / (1 / 8))
    assert out["groups"]["a"]["count"] == 2 and out["groups"]["b"]["total"] == 8
    undefined = metrics.group_fmr_ratio(groups, 0.9)
    assert undefined["ratio"] is None and undefined["best_group"] == "c"
    assert "undefined" in undefined["note"]
    none = metrics.group_fmr_ratio({"a": [0.1], "b": [0.2]}, 0.9)
    assert none["ratio"] is None and none["worst_group"] is None and "no group" in none["note"]


def test_summary_is_json_ready() -> None:
    out = metrics.summary(GEN, IMP, thresholds=[0.7])
    text = json.dumps(out, allow_nan=False)
    assert '"auc": 0.85' in text
    assert out["genuine_pairs"] == 4 and out["impostor_pairs"] == 5
    assert [row["supported"] for row in out["tar_at_far"]] == [False] * 5  # 5 negatives support none of them
    assert out["at_thresholds"][0]["fmr"]["count"] == 1


def test_iou_and_detection_matching() -> None:
    truth = [[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]]
    dets = [[0, 0, 10, 5], [21, 21, 31, 31], [0, 0, 10, 10], [100, 100, 110, 110]]
    iou = metrics.iou_matrix(dets, truth)
    assert iou[0, 0] == pytest.approx(0.5)
    assert iou[1, 1] == pytest.approx(81 / 119)
    d2t, status = metrics.match_detections(truth, dets, [0.9, 0.8, 0.7, 0.6])
    # the 0.9 box takes truth 0 (IoU 0.5); the exact 0.7 box then finds truth 0 taken: false positive
    assert d2t.tolist() == [0, 1, -1, -1]
    assert status.tolist() == [1, 1, 0, 0]
    ignored = metrics.match_detections(truth, dets, [0.9, 0.8, 0.7, 0.6], ignore=[False, False, True])
    assert ignored[1].tolist() == [1, 1, 0, 0]
    d2t, status = metrics.match_detections(truth, [[50, 50, 60, 60]], [0.5], ignore=[False, False, True])
    assert status.tolist() == [-1]


def test_average_precision_by_hand() -> None:
    # 3 truth faces; detections by score: TP, FP, TP -> precision 1, 1/2, 2/3 at recall 1/3, 1/3, 2/3
    # interpolated: recall 0->1/3 at precision 1, 1/3->2/3 at 2/3 -> AP = 1/3 + 2/9 = 5/9
    ap, recall, precision = metrics.average_precision([0.9, 0.8, 0.7], [True, False, True], 3)
    assert ap == pytest.approx(5 / 9)
    np.testing.assert_allclose(recall, [1 / 3, 1 / 3, 2 / 3])
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3])
    assert metrics.average_precision([], [], 3)[0] == 0.0


def test_detection_parsers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    xml = tmp_path / "a.xml"
    xml.write_text(
        "<?xml version='1.0'?><dataset><images>"
        "<image file='x.jpg'><box top='10' left='20' width='30' height='40'/>"
        "<box top='0' left='0' width='5' height='5' ignore='1'/></image>"
        "<image file='y.jpg'/></images></dataset>"
    )
    items = detection.load_annotations(xml, tmp_path)
    assert [i.image.name for i in items] == ["x.jpg", "y.jpg"]
    np.testing.assert_allclose(items[0].boxes[0], [20, 10, 50, 50])
    assert items[0].ignore.tolist() == [False, True]
    assert items[1].boxes.shape == (0, 4)
    wider = tmp_path / "gt.txt"
    wider.write_text(
        "0--Parade/a.jpg\n2\n10 20 30 40 0 0 0 0 0 0 \n1 1 5 5 2 0 0 1 0 0\n"
        "0--Parade/b.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n0--Parade/c.jpg\n1\n5 5 10 10\n"
    )
    items = detection.load_annotations(wider, tmp_path)
    assert [i.image.name for i in items] == ["a.jpg", "b.jpg", "c.jpg"]
    np.testing.assert_allclose(items[0].boxes[0], [10, 20, 40, 60])
    assert items[0].ignore.tolist() == [False, True]  # "invalid" flag
    assert items[1].boxes.shape == (0, 4)
    assert len(items[2].boxes) == 1


def test_detection_report_size_bands(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ann = detection.Annotated(
        tmp_path / "x.jpg",
        np.array([[0, 0, 20, 20], [100, 100, 150, 150], [200, 200, 400, 400]], float),
        np.zeros(3, bool),
    )

    def fake(_path):  # type: ignore[no-untyped-def]
        boxes = np.array([[100, 100, 150, 150], [200, 200, 400, 400], [500, 500, 540, 540]], float)
        return detection.Detected(boxes, np.array([0.9, 0.8, 0.7]))

    results = detection.run([ann], fake)
    figures, _curve = detection.report(results)
    assert figures["faces"] == 3 and figures["true_positives"] == 2 and figures["false_positives"] == 1
    assert figures["size_bands"]["<32"]["recall"]["value"] == 0.0
    assert figures["size_bands"]["32-64"]["recall"]["value"] == 1.0
    assert figures["size_bands"][">128"]["faces"] == 1
    assert figures["size_bands"]["32-64"]["false_positives"] == 1  # the unmatched 40 px detection
    assert figures["average_precision"] == pytest.approx(2 / 3)
    assert results[0].missed.tolist() == [True, False, False]


def test_pairs_csv_and_folders(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name, count in (("ann", 3), ("bob", 2), ("cy", 1)):
        (tmp_path / "ids" / name).mkdir(parents=True)
        for i in range(count):
            (tmp_path / "ids" / name / f"{i}.jpg").write_bytes(b"")
    (tmp_path / "ids" / "loose.jpg").write_bytes(b"")
    (tmp_path / "ids" / "groups.csv").write_text("identity,group\nann,g1\nbob,g1\ncy,g2\n")
    ps = verification.load_pairs(tmp_path / "ids")
    genuine = [p for p in ps.pairs if p.same]
    impostor = [p for p in ps.pairs if not p.same]
    assert len(ps.images) == 6 and ps.identities == 3
    assert len(genuine) == 3 + 1 and len(impostor) == 15 - 4
    assert ps.ignored and ps.ignored[0].endswith("loose.jpg")
    # ann-bob impostor pairs share group g1; pairs with cy cross groups and get none
    assert sum(1 for p in impostor if p.group == "g1") == 6
    assert sum(1 for p in impostor if p.group is None) == 5
    capped = verification.load_pairs(tmp_path / "ids", max_pairs=3)
    assert capped.capped["impostor"] == {"available": 11, "used": 3}
    assert capped.capped["genuine"] == {"available": 4, "used": 3}
    again = verification.load_pairs(tmp_path / "ids", max_pairs=3)
    assert [(p.a, p.b) for p in again.pairs] == [(p.a, p.b) for p in capped.pairs]

    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text(
        "file_a,file_b,relation\nids/ann/0.jpg,ids/ann/1.jpg,same\nids/ann/0.jpg,nope.jpg,different\n"
    )
    ps = verification.load_pairs(csv_path)
    assert [p.same for p in ps.pairs] == [True, False]
    assert len(ps.images) == 3 and ps.missing == [str(tmp_path / "nope.jpg")]


def test_unembedded_images_are_counted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    images = [tmp_path / f"{n}.jpg" for n in "abc"]
    ps = verification.PairSet(
        images,
        [verification.Pair(0, 1, True), verification.Pair(0, 2, False), verification.Pair(1, 2, False)],
        "pairs_csv",
        "x",
    )
    vectors = {"a.jpg": np.array([1, 0], np.float32), "b.jpg": np.array([0.8, 0.6], np.float32)}

    def embed(path):  # type: ignore[no-untyped-def]
        v = vectors.get(path.name)
        return (v, 1, None) if v is not None else (None, 0, "no face found")

    embedded = verification.embed_all(images, embed)
    scored = verification.score_pairs(ps, embedded, verification.cosine, lambda c: 100 * c)
    out = verification.report(ps, embedded, scored, thresholds=[50])
    assert out["images"]["no_face"] == 1 and out["images"]["failures"][0]["image"].endswith("c.jpg")
    assert out["pairs"]["scored"] == 1 and out["pairs"]["not_scored_impostor"] == 2
    assert scored.scores.tolist() == pytest.approx([80.0])


def test_calibration_table_and_loader(tmp_path) -> None:  # type: ignore[no-untyped-def]
    imp = np.concatenate([np.full(990, 10.0), np.full(9, 85.0), [99.5]])  # 1000 impostor pairs
    table = calibration.build_calibration("toy/1.0", imp, [95.0, 99.7], grid=[0, 50, 80, 90, 99, 99.5, 100])
    upper_10 = metrics.clopper_pearson(10, 1000)[1]
    assert table.false_match_rate(80) == (pytest.approx(0.010), pytest.approx(upper_10))
    assert table.false_match_rate(84.9)[0] == pytest.approx(0.010)  # read at the grid point below
    assert table.false_match_rate(99.6)[0] == pytest.approx(0.001)
    estimate, upper = table.false_match_rate(100)
    assert estimate == 0.0 and upper == pytest.approx(1 - 0.025 ** (1 / 1000))
    assert table.point_at(90).tar == 1.0 and table.point_at(99).tar == 0.5
    assert table.similarity_for_fmr(0.02) == 50  # 10/1000 false matches: upper bound about 0.0183
    assert table.similarity_for_fmr(0.005) == 100  # 1/1000 up to 99.5: upper bound 0.0056
    path = calibration.save_calibration(tmp_path, table)
    assert path == tmp_path / "calibration" / "toy.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = calibration.load_calibration(tmp_path, "toy/1.0")
    assert loaded is not None and loaded.origin == str(path)
    assert loaded.false_match_rate(80) == table.false_match_rate(80)
    assert calibration.load_calibration(tmp_path, "toy/2.0") is None  # another version: never used
    assert calibration.load_calibration(tmp_path / "empty", "toy/1.0") is None
    assert calibration.format_fmr(0.0, 0.0037).startswith("0 (at most 0.37%")


def test_calibration_lookup_follows_the_cosine(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import regard.vision.similarity as similarity

    # rows built when similarity s meant cosine s/100; the mapping is then retuned to cosine = s/200
    table = calibration.build_calibration(
        "toy/1.0", [10.0, 40.0, 60.0, 90.0], grid=[0, 25, 50, 75, 100], to_cosine=lambda s: s / 100
    )
    assert [p.cosine for p in table.points] == [0, 0.25, 0.5, 0.75, 1.0]
    monkeypatch.setattr(similarity, "cosine_from_similarity", lambda s: s / 100)
    assert table.false_match_rate(50)[0] == pytest.approx(2 / 4)  # the current mapping: rows read as they are
    monkeypatch.setattr(similarity, "cosine_from_similarity", lambda s: s / 200)
    # similarity 100 is now cosine 0.5: the row for cosine 0.5 holds (60 and 90 scored at or above it)
    assert table.false_match_rate(100)[0] == pytest.approx(2 / 4)
