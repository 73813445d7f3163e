"""A short, deterministic libFuzzer run of each fuzz target (fixed seed, fixed run count) on the seed corpus.

Each run is a child process, so a crash in a C decoder fails this test instead of killing pytest. The
longer run is ``bench/fuzz.py``.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.fuzz.launch import run_fresh, run_target

HERE = Path(__file__).resolve().parent
RUNS = 5000


@pytest.mark.parametrize("target", ["image", "protocol"])
def test_fuzz_target_short_run(target: str, tmp_path: Path) -> None:
    corpus = tmp_path / target
    shutil.copytree(HERE / "corpus" / target, corpus)  # libFuzzer adds what it finds to the corpus folder
    seeds = len(list(corpus.iterdir()))
    done = run_target(
        target,
        corpus,
        f"{tmp_path}/",
        f"-runs={RUNS}",
        "-seed=1",
        "-max_len=32768",
        "-timeout=20",
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert f"Done {RUNS} runs" in done.stderr
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*"))
    assert len(list(corpus.iterdir())) > seeds  # it explored: new inputs reached new code


def test_target_peak_memory_is_its_own() -> None:
    """A target's peak RSS does not start at the (deliberately large) peak of the process that starts it."""
    held = np.ones(768 * 2**20, dtype=np.uint8)  # 768 MiB, touched, so it is resident in this process
    probe = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 >= 768
    inherited = int(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout)
    fresh = int(run_fresh([sys.executable, "-c", probe], timeout=60).stdout)
    assert held.all()
    assert inherited >= 768  # what a plain child reports on Linux: the reason for run_fresh
    assert fresh < 256
