"""The server's glibc malloc settings are accepted (this machine, like CI, runs glibc)."""

from __future__ import annotations

import subprocess
import sys


def test_malloc_settings_are_taken_by_glibc() -> None:
    # in a child, so this test process keeps its own allocator settings
    done = subprocess.run(
        [sys.executable, "-c", "from regard.adapters.aws import malloc; print(malloc.tune())"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr
