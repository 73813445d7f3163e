"""Where ``shared/data`` is: next to the repository (CI clones it beside ``shared/``), or one folder further
up (a git worktree under ``wt/``); ``REGARD_SHARED_DATA`` overrides both."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    configured = os.environ.get("REGARD_SHARED_DATA", "").strip()
    candidates = [Path(configured)] if configured else []
    candidates += [ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise SystemExit(
        f"shared/data not found (tried {', '.join(str(c) for c in candidates)}); set REGARD_SHARED_DATA"
    )
