"""Who is asking, from where, under which request ID: carried into every operation and its audit record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RequestContext:
    access_key: str | None = None  # the SigV4 access key ID; None for local use (CLI, Python API)
    scope: str = "admin"  # the key's scope; local use is the machine's owner, hence admin
    client: str = "local"  # client address for HTTP, "cli" or "api" locally
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    purpose: str | None = None  # why the caller runs this (a case or ticket reference); see service.purpose

