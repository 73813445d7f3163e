"""Building audit records and writing them so that an operation fails when its record cannot be kept."""

from __future__ import annotations

import logging
from typing import Any

from regard.errors import InternalServerError, StorageFullError
from regard.service.context import RequestContext
from regard.store.base import Store
from regard.store.records import AuditEntry

log = logging.getLogger(__name__)


def audit_entry(
    ctx: RequestContext, operation: str, collection_id: str | None = None, **details: Any
) -> AuditEntry:
    """The audit record of ``operation`` run for ``ctx``; details that are None are left out."""
    return AuditEntry(
        operation=operation,
        access_key=ctx.access_key,
        collection_id=collection_id,
        request_id=ctx.request_id,
        client=ctx.client,
        details={key: value for key, value in details.items() if value is not None},
    )


def append_or_fail(store: Store, entry: AuditEntry) -> None:
    """Append ``entry``; if it cannot be written, the operation it records fails (InternalServerError)."""
    try:
        store.append_audit(entry)
    except StorageFullError:
        raise  # says what happened (the disk is full); the store has logged it
    except Exception as error:
        log.exception("audit record for %s could not be written", entry.operation)
        raise InternalServerError(
            f"The audit record could not be written, so {entry.operation} was not completed."
        ) from error
