"""glibc malloc settings for a long-lived server that decodes images of every size.

By default glibc raises its mmap threshold each time a large block is freed, so later image-sized buffers
(a 2000 px frame is 12 MB) come from the heap instead of fresh mappings, and the freed heap is seldom given
back: resident memory ratchets up with the largest images seen. A fixed threshold keeps every buffer over
1 MiB in its own mapping, returned to the system when freed; two arenas keep worker threads from each
growing a heap of their own. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 1024 * 1024
ARENAS = 2


def tune() -> bool:
    """Apply the settings; True when glibc took them all."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    done = all(
        mallopt(option, value) == 1
        for option, value in (
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD),
            (M_ARENA_MAX, ARENAS),
        )
    )
    log.info("malloc tuned", extra={"mmap_threshold": MMAP_THRESHOLD, "arenas": ARENAS, "applied": done})
    return done
