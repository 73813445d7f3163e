"""The Python API for stored faces: the same calls as a boto3 Rekognition client, run in-process.

``Client(data_dir).index_faces(CollectionId="staff", Image={"Bytes": data})`` takes the keyword
arguments boto3 takes and returns the response body Rekognition returns, so code can move between
Regard in-process, Regard over HTTP and Amazon Rekognition unchanged. One addition: every match of a
search or comparison carries ``EstimatedFalseMatchRate`` (and its upper bound) from the calibration
table of the active model pack, because a similarity alone does not say what it costs in errors.
The AWS wire format stays exactly Rekognition's. Any call also takes ``Purpose=`` (why it is run, a case
or ticket reference), kept in its audit record; a collection tagged ``regard:require-purpose`` refuses
searches without one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regard.service.app import Regard
from regard.service.context import RequestContext
from regard.service.purpose import validate_purpose

if TYPE_CHECKING:
    from regard.vision.engine import FaceEngine


def _operation_names() -> dict[str, str]:
    from regard.service.app import HANDLERS

    names = set(HANDLERS) | {"StartFaceDetection", "GetFaceDetection", "StartFaceSearch", "GetFaceSearch"}
    return {_snake(name): name for name in names}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


class Client:
    """In-process Rekognition-style client over a Regard data folder."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        buckets: Mapping[str, Path] | None = None,
        context: RequestContext | None = None,
        engine: FaceEngine | None = None,
        database: str | None = None,
    ) -> None:
        """``database``: a ``postgresql://`` URL shared with other clients and servers (then ``data_dir``
        holds nothing shared)."""
        self.regard = Regard.open(Path(data_dir), buckets=buckets, engine=engine, database=database)
        self._context = context
        self._names = _operation_names()

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        operation = self.__dict__.get("_names", {}).get(name)
        if operation is None:
            raise AttributeError(name)

        def call(*, Purpose: str | None = None, **params: Any) -> dict[str, Any]:
            ctx = self._context or RequestContext(client="api")
            if Purpose is not None:
                ctx = dataclasses.replace(ctx, purpose=validate_purpose(Purpose))
            response = self.regard.invoke(operation, params, ctx)
            annotate_false_match_rates(self.regard, response)
            return response

        call.__name__ = name
        call.__doc__ = f"Rekognition's {operation}, run in-process."
        return call

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._names))

    def close(self) -> None:
        self.regard.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def annotate_false_match_rates(regard: Regard, response: dict[str, Any]) -> dict[str, Any]:
    """Add each match's estimated false-match rate, from the data folder's calibration or the built-in one.

    RecognizeFaces nests its matches, one FaceMatches list per recognized face; each is annotated alike.
    """
    bodies = [response, *(response.get("RecognizedFaces") or [])]
    if not any(body.get(key) for body in bodies for key in ("FaceMatches", "UserMatches")):
        return response
    from regard.evaluation.calibration import annotate_matches, load_calibration

    settings = regard.store if hasattr(regard.store, "get_setting") else None  # a shared database
    calibration = load_calibration(regard.data_dir, regard.engine.model_version, settings=settings)
    for body in bodies:
        annotate_matches(body, calibration)
    return response
