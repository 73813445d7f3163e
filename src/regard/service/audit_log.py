"""Reading and checking the audit log (admin only): who searched for whom, when, and what was found."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from regard.errors import InvalidParameterException
from regard.service import params as p
from regard.service.context import RequestContext
from regard.store.records import AuditRecord

if TYPE_CHECKING:
    from regard.service.app import Regard

OPERATION = "ListAuditRecords"  # a Regard operation; Rekognition has no audit log to imitate


def record_to_wire(record: AuditRecord) -> dict[str, Any]:
    """One record in the ListAuditRecords shape; Details is a JSON object serialized as a string."""
    entry = record.entry
    return {
        "Sequence": record.seq,
        "Time": datetime.fromtimestamp(record.time, UTC).isoformat(),
        "Operation": entry.operation,
        "AccessKeyId": entry.access_key,
        "CollectionId": entry.collection_id,
        "RequestId": entry.request_id,
        "Client": entry.client,
        "Details": json.dumps(entry.details, sort_keys=True),
        "PreviousHash": record.prev_hash,
        "Hash": record.hash,
    }


def parse_since(value: Any) -> float | None:
    """``since`` as epoch seconds, from a number or an ISO 8601 date/time (UTC unless it says otherwise)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidParameterException(f"Since {value!r} is not an ISO 8601 date or time.") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    raise InvalidParameterException("Since must be epoch seconds or an ISO 8601 date/time.")


def list_audit_records(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.string(params, "CollectionId", pattern=p.COLLECTION_ID, required=False)
    since = parse_since(params.get("Since"))
    limit = p.integer(params, "MaxResults", default=1000, low=1, high=10_000)
    after = p.optional_integer(params, "AfterSequence", low=0, high=None)
    records = regard.store.list_audit(collection_id=collection_id, since=since, after_seq=after, limit=limit)
    # Reading the log is itself recorded: who looked at whose searches is accountable too.
    regard.record(regard.audit_entry(ctx, OPERATION, collection_id, returned=len(records), since=since))
    response: dict[str, Any] = {"Records": [record_to_wire(r) for r in records]}
    if len(records) == limit:
        response["NextSequence"] = records[-1].seq
    return response
