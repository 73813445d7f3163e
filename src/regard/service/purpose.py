"""A stated purpose: why a search is run (a case or ticket reference and a short reason).

A caller may state one with any request (HTTP header ``X-Regard-Purpose``, ``Purpose=`` on the Python API,
``--purpose`` on the CLI); it is kept in the request's audit record. A collection created with the tag
``regard:require-purpose`` = ``true`` refuses every search against it that states none. The check lives
here once and runs in ``Regard.invoke`` right after the scope check, for the operations that look people up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from regard.errors import AccessDeniedException, InvalidParameterException, ResourceNotFoundException
from regard.service.context import RequestContext

if TYPE_CHECKING:
    from regard.store.base import Store
    from regard.store.records import CollectionRecord

REQUIRE_PURPOSE_TAG = "regard:require-purpose"
MAX_PURPOSE_LENGTH = 512


def validate_purpose(value: Any) -> str | None:
    """A purpose as given (None or blank: none stated); InvalidParameterException unless printable text."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameterException("Purpose must be text.")
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_PURPOSE_LENGTH:
        raise InvalidParameterException(f"Purpose is longer than {MAX_PURPOSE_LENGTH} characters.")
    if not value.isprintable():
        raise InvalidParameterException("Purpose must be printable text (no control characters).")
    return value


def requires_purpose(collection: CollectionRecord) -> bool:
    return collection.tags.get(REQUIRE_PURPOSE_TAG, "").strip().lower() == "true"


def require_purpose_tag(value: Any) -> None:
    """The tag's value, checked at CreateCollection: only ``true`` or ``false`` mean something."""
    if value is not None and (not isinstance(value, str) or value.strip().lower() not in ("true", "false")):
        raise InvalidParameterException(f"{REQUIRE_PURPOSE_TAG} must be 'true' or 'false'.")


def _top_level(params: Mapping[str, Any]) -> Any:
    return params.get("CollectionId")


def _stream_settings(params: Mapping[str, Any]) -> Any:
    settings = params.get("Settings")
    face_search = settings.get("FaceSearch") if isinstance(settings, Mapping) else None
    return face_search.get("CollectionId") if isinstance(face_search, Mapping) else None


# Operations that look people up in a collection, and where each names its collection. Operations other
# parts of Regard add later are listed already; an operation the server does not offer is never reached.
# StartStreamProcessor names only the processor, whose collection was checked at CreateStreamProcessor.
PURPOSE_BOUND: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "SearchFaces": _top_level,
    "SearchFacesByImage": _top_level,
    "SearchUsers": _top_level,
    "SearchUsersByImage": _top_level,
    "StartFaceSearch": _top_level,
    "RecognizeFaces": _top_level,
    "ClusterFaces": _top_level,
    "CreateStreamProcessor": _stream_settings,
    "StartStreamProcessor": _top_level,
}


def check_purpose(store: Store, operation: str, params: Mapping[str, Any], ctx: RequestContext) -> None:
    """AccessDeniedException when ``operation`` searches a purpose-bound collection and states no purpose."""
    locate = PURPOSE_BOUND.get(operation)
    if locate is None or ctx.purpose is not None:
        return
    collection_id = locate(params)
    if not isinstance(collection_id, str):
        return  # the operation's own validation reports a missing or malformed CollectionId
    try:
        collection = store.get_collection(collection_id)
    except ResourceNotFoundException:
        return  # likewise: the operation reports the missing collection in its own words
    if requires_purpose(collection):
        raise AccessDeniedException(
            f"Collection {collection_id} requires a stated purpose for {operation} ({REQUIRE_PURPOSE_TAG} "
            "is true): send one in the X-Regard-Purpose header, Purpose= on the Python API or --purpose "
            "on the CLI. It is kept in the audit record."
        )
