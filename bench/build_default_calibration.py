"""Rebuild the calibration table shipped for the default model pack (``src/regard/evaluation/calibrations/``).

    .venv/bin/python bench/make_pairs.py          # writes bench/pairs/all_sets.csv
    .venv/bin/python bench/build_default_calibration.py [--data ../shared/data]

It runs exactly what ``regard calibrate bench/pairs/all_sets.csv --root ../shared/data`` runs and writes
the table into the package instead of a data folder. The sets are small (about 7,000 different-person pairs
of public, mostly celebrity photos), so the table can only show false-match rates down to about 5 in 10,000
and says nothing about any particular population: users should run ``regard calibrate`` on their own data,
which overrides it. Rebuild it whenever the default pack changes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from regard.adapters.cli.evaluate import _similarity_functions, run_verification
from regard.evaluation import calibration

HERE = Path(__file__).resolve().parent
TARGET = HERE.parent / "src" / "regard" / "evaluation" / "calibrations"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--pairs", type=Path, default=HERE / "pairs" / "all_sets.csv")
    args = parser.parse_args()
    console = Console(stderr=True)
    result, scored, engine = run_verification(args.pairs, args.data, 200_000, (), 10, console)
    _, to_cosine = _similarity_functions()
    imp, gen = scored.scores[~scored.same], scored.scores[scored.same]
    table = calibration.build_calibration(
        engine.model_version,
        imp,
        gen,
        to_cosine=to_cosine,
        source={
            "data": "bench/pairs/all_sets.csv over ../shared/data: dlib johns, face-api.js characters, "
            "face_recognition knn_examples, openface examples, InspireFace test photos",
            "images": result["images"]["total"],
            "images_without_face": result["images"]["no_face"] + result["images"]["unreadable"],
        },
        note=(
            f"Built-in table from small public sets ({imp.size} different-person pairs): rates below about "
            f"{3.7 / imp.size:.1g} cannot be shown, and the people in these sets say nothing about yours. "
            "Run `regard calibrate` on your own labelled data."
        ),
    )
    TARGET.mkdir(parents=True, exist_ok=True)
    path = TARGET / f"{calibration.pack_name(engine.model_version)}.json"
    path.write_text(json.dumps(table.to_dict(), indent=1) + "\n", encoding="utf-8")
    print(f"{path}: {imp.size} impostor pairs, {gen.size} genuine pairs")


if __name__ == "__main__":
    main()
