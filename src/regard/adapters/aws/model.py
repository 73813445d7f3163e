"""botocore's own Rekognition service model, loaded once on first use.

The wire format (operations, shapes, constraints, errors) comes from this model, never from hand-written
shapes, so a boto3 client and this server agree by construction.
"""

from __future__ import annotations

from functools import cache

from botocore.model import OperationModel, ServiceModel

SERVICE_NAME = "rekognition"  # also the SigV4 signing name (the model has no signingName)


@cache
def service_model() -> ServiceModel:
    """The model botocore ships; loading it reads a large JSON file, hence cached and lazy."""
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def target_prefix() -> str:
    """``RekognitionService``: the part of ``X-Amz-Target`` before the operation name."""
    return str(service_model().metadata["targetPrefix"])


def operation_model(name: str) -> OperationModel | None:
    """The model of operation ``name``, or None when the service model does not know it."""
    model = service_model()
    if name not in model.operation_names:
        return None
    return model.operation_model(name)
