"""Markdown tables for docs/accuracy.md from the JSON that ``regard evaluate`` and ``bench/accuracy_peer.py``
print.

    .venv/bin/python bench/accuracy_report.py RESULTS_DIR

RESULTS_DIR holds ``ours-<set>.json`` / ``peer-<set>.json`` (verification) and ``ours-det-<name>.json`` /
``peer-det-<name>.json`` (detection), as written by the commands listed in docs/accuracy.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SETS = ("johns", "bbt", "knn", "openface", "insightface", "all")
NAMES = {
    "johns": "dlib johns",
    "bbt": "face-api.js characters",
    "knn": "face_recognition knn_examples",
    "openface": "openface examples",
    "insightface": "InspireFace pairs",
    "all": "all sets together",
}
WHO = {"ours": "Regard buffalo_s", "peer": "face_recognition"}


def rate(r: dict[str, Any] | None) -> str:
    if not r:
        return "-"
    low, high = 100 * r["ci_lower"], 100 * r["ci_upper"]
    return f"{100 * r['value']:.1f}% ({r['count']}/{r['total']}; {low:.1f}-{high:.1f})"


def tar(row: dict[str, Any]) -> str:
    if not row["supported"]:
        return f"n/s ({row['negatives']} neg.)"
    return f"{100 * row['tar']['value']:.1f}% ({row['tar']['count']}/{row['tar']['total']})"


def verification_table(results: Path) -> str:
    lines = [
        "| set | engine | images (no face / unreadable) | genuine / impostor pairs scored | AUC | EER "
        "| TAR@FAR 1e-2 | TAR@FAR 1e-3 | 10-fold accuracy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in SETS:
        for who in ("ours", "peer"):
            path = results / f"{who}-{key}.json"
            if not path.is_file():
                continue
            d = json.loads(path.read_text())
            o, im, pa = d["overall"], d["images"], d["pairs"]
            far = {row["far_target"]: row for row in o["tar_at_far"]}
            lines.append(
                f"| {NAMES[key]} | {WHO[who]} | {im['total']} ({im['no_face']} / {im['unreadable']}) "
                f"| {pa['genuine'] - pa['not_scored_genuine']} "
                f"/ {pa['impostor'] - pa['not_scored_impostor']} "
                f"| {o['auc']:.4f} | {100 * o['eer']['rate']:.2f}% | {tar(far[0.01])} | {tar(far[0.001])} "
                f"| {100 * o['kfold']['accuracy_mean']:.2f}% ± {100 * o['kfold']['accuracy_std']:.2f} |"
            )
    return "\n".join(lines)


def threshold_table(results: Path) -> str:
    lines = [
        "| set | engine | threshold | FMR (count; 95% CI) | FNMR (count; 95% CI) |",
        "|---|---|---|---|---|",
    ]
    for key in SETS:
        for who in ("ours", "peer"):
            path = results / f"{who}-{key}.json"
            if not path.is_file():
                continue
            d = json.loads(path.read_text())
            for row in d["overall"]["at_thresholds"]:
                if who == "ours":
                    label = f"similarity {row['threshold']:g} (cosine {row['threshold_raw']:.3f})"
                else:
                    label = f"tolerance {row['threshold_raw']:.2g}"
                lines.append(
                    f"| {NAMES[key]} | {WHO[who]} | {label} | {rate(row['fmr'])} | {rate(row['fnmr'])} |"
                )
    return "\n".join(lines)


def detection_table(results: Path) -> str:
    lines = [
        "| annotations | engine | faces | recall | precision | AP | recall 32-64 px | recall 64-128 px |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("testing", "training"):
        for who in ("ours", "peer"):
            path = results / f"{who}-det-{name}.json"
            if not path.is_file():
                continue
            d = json.loads(path.read_text())
            bands = d["size_bands"]
            lines.append(
                f"| dlib {name}.xml | {WHO[who]} | {d['faces']} | {rate(d['recall'])} "
                f"| {rate(d['precision'])} "
                f"| {d['average_precision']:.3f} | {rate(bands['32-64']['recall'])} "
                f"| {rate(bands['64-128']['recall'])} |"
            )
    return "\n".join(lines)


def main() -> None:
    results = Path(sys.argv[1])
    print(verification_table(results), end="\n\n")
    print(threshold_table(results), end="\n\n")
    print(detection_table(results))


if __name__ == "__main__":
    main()
