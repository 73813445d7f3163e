"""A full disk under a running server: clear errors, nothing half-written, a store that reopens and verifies.

The data folder is a real tmpfs of a few MiB mounted in a private mount namespace (``unshare``), so the
writes meet a real ENOSPC, as on a full volume; see disk_full_scenario.py for the steps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_full_disk_answers_clearly_and_leaves_a_consistent_store(tmp_path: Path) -> None:
    namespace = (
        ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--mount"]
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [*namespace, sys.executable, "-m", "tests.service.disk_full_scenario", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    for call in ("index_faces", "search", "create_collection", "start_face_detection"):
        assert seen[call]["code"] == "InternalServerError" and seen[call]["status"] == 500, seen[call]
        assert "disk is full" in seen[call]["message"], seen[call]
    assert seen["indexed_before_full"] >= 1
    assert seen["health_while_full"] == 200 and seen["exit_code"] == 0 and seen["server_log_says_full"]
    # nothing half-written: every acknowledged face is there with its vector, nothing else is
    assert seen["face_count"] == seen["indexed_before_full"]
    assert (
        seen["faces_listed_match"]
        and seen["every_face_has_its_vector"]
        and seen["every_vector_is_searchable"]
    )
    assert seen["collections"] == ["full"] and seen["jobs"] == 0
    assert seen["audit_ok"] and seen["audit_records"] >= seen["indexed_before_full"]
    assert seen["audit_ok_after_new_write"]
