"""botocore's own Rekognition service model, loaded once on first use.

The wire format (operations, shapes, constraints, errors) comes from this model, never from hand-written
shapes, so a boto3 client and this server agree by construction.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from botocore.model import OperationModel, ServiceModel

SERVICE_NAME = "rekognition"  # also the SigV4 signing name (the model has no signingName)
EXTRAS_PATH = Path(__file__).resolve().parent / "data"
"""Regard's additions (the admin-only ListAuditRecords, RecognizeFaces), as a botocore ``sdk-extras`` file
merged into the model. A boto3 client gains ``list_audit_records`` and ``recognize_faces`` the same way:
``AWS_DATA_PATH=<this folder>``."""


@cache
def service_model() -> ServiceModel:
    """botocore's model plus Regard's extras; reading it parses a large JSON file, hence cached, lazy."""
    import botocore.session

    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(EXTRAS_PATH))
    return session.get_service_model(SERVICE_NAME)


def target_prefix() -> str:
    """``RekognitionService``: the part of ``X-Amz-Target`` before the operation name."""
    return str(service_model().metadata["targetPrefix"])


def operation_model(name: str) -> OperationModel | None:
    """The model of operation ``name``, or None when the service model does not know it."""
    model = service_model()
    if name not in model.operation_names:
        return None
    return model.operation_model(name)
