"""usearch's ``Index``, always loaded after onnxruntime.

Importing onnxruntime *after* usearch kills the process (SIGSEGV in libstdc++'s
``std::codecvt<char16_t>::do_unshift``, called from onnxruntime's extension at import; seen with usearch 2.26
and onnxruntime 1.32): the two extensions disagree about the C++ runtime's symbols. Loading onnxruntime first
is harmless, so every use of usearch imports ``Index`` from here, and a process that opens a store before
it builds a face engine stays alive.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("onnxruntime") is not None:
    import onnxruntime  # noqa: F401  (must be loaded before usearch; see above)

from usearch.index import Index

__all__ = ["Index"]
