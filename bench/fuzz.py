"""A longer coverage-guided fuzz run of each target in tests/fuzz/targets.py; results in bench/results.

    .venv/bin/python bench/fuzz.py [--seconds 300] [--targets image protocol]

Each target starts from its seed corpus (copied, so the repository's stays small) and runs for
``--seconds``; crashes, timeouts and out-of-memory inputs are kept in bench/results/fuzz-findings/.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from machine import describe, load_average

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.fuzz.launch import run_target  # noqa: E402  (the repository root is not on the path of a script)

FUZZ = ROOT / "tests" / "fuzz"
RESULTS = ROOT / "bench" / "results"
_STATS = re.compile(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/")


def run(target: str, seconds: int, work: Path, findings: Path) -> dict[str, object]:
    corpus = work / target
    shutil.copytree(FUZZ / "corpus" / target, corpus)
    seeds = len(list(corpus.iterdir()))
    started = time.perf_counter()
    done = run_target(
        target,
        corpus,
        f"{findings}/{target}-",
        f"-max_total_time={seconds}",
        "-max_len=65536",
        "-timeout=30",
    )
    elapsed = time.perf_counter() - started
    stats = _STATS.findall(done.stderr)
    runs, cov, ft, corp = (int(x) for x in stats[-1]) if stats else (0, 0, 0, 0)
    return {
        "target": target,
        "exit": done.returncode,
        "seconds": round(elapsed),
        "runs": runs,
        "runs_per_s": round(runs / elapsed),
        "coverage": cov,
        "features": ft,
        "corpus": f"{seeds} -> {corp}",
        "findings": sorted(p.name for p in findings.glob(f"{target}-*")),
        "tail": done.stderr[-1500:] if done.returncode else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--targets", nargs="+", default=["image", "protocol"])
    args = parser.parse_args()
    findings = RESULTS / "fuzz-findings"
    findings.mkdir(parents=True, exist_ok=True)
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(t, args.seconds, Path(tmp), findings) for t in args.targets]
    if not any(findings.iterdir()):
        findings.rmdir()
    table = "\n".join(
        f"| {r['target']} | {r['seconds']} | {r['runs']} | {r['runs_per_s']} | {r['coverage']} | "
        f"{r['features']} | {r['corpus']} | {', '.join(r['findings']) or 'none'} |"  # type: ignore[arg-type]
        for r in rows
    )
    tails = "\n".join(
        f"\n### {r['target']} exited {r['exit']}\n\n```\n{r['tail']}\n```" for r in rows if r["tail"]
    )
    text = f"""# Fuzzing

`.venv/bin/python bench/fuzz.py --seconds {args.seconds}`: atheris (libFuzzer) on tests/fuzz/targets.py, from
the seed corpora in tests/fuzz/corpus. Coverage counts edges in the instrumented Python modules
(Regard's, and Pillow's for the image target).

| target | seconds | runs | runs/s | coverage | features | corpus (seeds -> end) | findings |
|---|---|---|---|---|---|---|---|
{table}
{tails}
{describe(load_before)}
"""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fuzz.md").write_text(text)
    print(text)
    if any(r["exit"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
