"""Access-key scopes and the operations each allows; checked by the service on every call.

Scopes nest: ``detect`` < ``search`` < ``index`` < ``admin``. A key sees only what its work needs:
a kiosk that verifies visitors gets ``search``, an ingest job ``index``, the operator ``admin``.
"""

from __future__ import annotations

from regard.errors import AccessDeniedException

DETECT_OPERATIONS = frozenset({"DetectFaces", "CompareFaces", "StartFaceDetection", "GetFaceDetection"})
SEARCH_OPERATIONS = DETECT_OPERATIONS | {
    "ListCollections",
    "DescribeCollection",
    "ListFaces",
    "ListUsers",
    "SearchFaces",
    "SearchFacesByImage",
    "SearchUsers",
    "SearchUsersByImage",
    "StartFaceSearch",
    "GetFaceSearch",
    "RecognizeFaces",
}
INDEX_OPERATIONS = SEARCH_OPERATIONS | {
    "IndexFaces",
    "CreateUser",
    "AssociateFaces",
    "DisassociateFaces",
}
# admin may do everything, including deletions, collection lifecycle and reading the audit log.

SCOPES: dict[str, frozenset[str] | None] = {
    "detect": DETECT_OPERATIONS,
    "search": SEARCH_OPERATIONS,
    "index": INDEX_OPERATIONS,
    "admin": None,
}


def check_scope(scope: str, operation: str) -> None:
    """Raise AccessDeniedException unless ``scope`` allows ``operation``."""
    if scope not in SCOPES:
        raise AccessDeniedException(f"Unknown scope {scope!r}.")
    allowed = SCOPES[scope]
    if allowed is not None and operation not in allowed:
        raise AccessDeniedException(f"A key with scope {scope!r} may not call {operation}.")
