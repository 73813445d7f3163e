"""Start a fuzz target so that libFuzzer's memory limit measures the target alone.

libFuzzer's ``-rss_limit_mb`` reads the process's *peak* RSS (``ru_maxrss``), and Linux carries the peak of
the memory a process had when it called ``exec`` into the new program. A target started straight from a
pytest process that holds 2 GB of loaded models therefore starts with a 2 GB peak, and libFuzzer reports an
out-of-memory with no input to blame (the artifact is the empty input). Starting it from a small
intermediate Python process gives it that process's few megabytes instead.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TARGETS = Path(__file__).resolve().parent / "targets.py"

RSS_LIMIT_MB = 2048
"""An input that makes decoding or parsing hold more than this is a finding."""

_RELAY = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def run_fresh(argv: list[str], *, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as a grandchild whose peak RSS starts from a small relay process, not from this one."""
    return subprocess.run(
        [sys.executable, "-c", _RELAY, *argv], capture_output=True, text=True, timeout=timeout
    )


def run_target(
    target: str, corpus: Path, artifact_prefix: str, *flags: str, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Fuzz ``target`` (``image`` or ``protocol``) from ``corpus`` with the shared limits plus ``flags``."""
    return run_fresh(
        [
            sys.executable,
            str(TARGETS),
            target,
            *flags,
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-artifact_prefix={artifact_prefix}",
            str(corpus),
        ],
        timeout=timeout,
    )
