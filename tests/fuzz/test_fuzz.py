"""A short, deterministic libFuzzer run of each fuzz target (fixed seed, fixed run count) on the seed corpus.

Each run is a child process, so a crash in a C decoder fails this test instead of killing pytest. The
longer run is ``bench/fuzz.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
RUNS = 5000


@pytest.mark.parametrize("target", ["image", "protocol"])
def test_fuzz_target_short_run(target: str, tmp_path: Path) -> None:
    corpus = tmp_path / target
    shutil.copytree(HERE / "corpus" / target, corpus)  # libFuzzer adds what it finds to the corpus folder
    seeds = len(list(corpus.iterdir()))
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "targets.py"),
            target,
            f"-runs={RUNS}",
            "-seed=1",
            "-max_len=32768",
            "-timeout=20",
            "-rss_limit_mb=2048",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert f"Done {RUNS} runs" in done.stderr
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*"))
    assert len(list(corpus.iterdir())) > seeds  # it explored: new inputs reached new code
