"""Access keys: create, list, revoke, and the bootstrap admin key from the environment.

A key is an AWS-style pair (``AKIA`` + 16 characters, a 40-character secret) so every SDK accepts it. SigV4
needs the secret itself on the server, so it is stored as is: the data folder and database are kept private
to the owner, the secret is shown once at creation, and it never appears in logs or listings.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
import string
import time
from collections.abc import Mapping

from regard.errors import InvalidParameterException, ResourceAlreadyExistsException
from regard.service.scopes import SCOPES
from regard.store.base import Store
from regard.store.records import AccessKeyRecord

log = logging.getLogger(__name__)

ENV_ACCESS_KEY_ID = "REGARD_ACCESS_KEY_ID"
ENV_SECRET_ACCESS_KEY = "REGARD_SECRET_ACCESS_KEY"
_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_ID_CHARS = frozenset(string.ascii_letters + string.digits)


def new_access_key_id() -> str:
    """``AKIA`` and 16 upper-case letters or digits, as AWS long-term keys look."""
    return "AKIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    """40 characters from a CSPRNG (about 238 bits)."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def check_scope_name(scope: str) -> str:
    if scope not in SCOPES:
        raise InvalidParameterException(f"Unknown scope {scope!r}; choose one of {', '.join(SCOPES)}.")
    return scope


def check_rate_limit(rate_limit: float | None) -> float | None:
    """Requests per second: a finite number above zero, or None for the server's default."""
    if rate_limit is not None and not (math.isfinite(rate_limit) and rate_limit > 0):
        raise InvalidParameterException(
            f"A rate limit must be a number of requests per second above 0, not {rate_limit}."
        )
    return rate_limit


def create_key(
    store: Store, scope: str, name: str | None = None, rate_limit: float | None = None
) -> AccessKeyRecord:
    """A new key with ``scope``; the caller shows the secret once, then only the ID is ever shown."""
    record = AccessKeyRecord(
        access_key_id=new_access_key_id(),
        secret_access_key=new_secret_access_key(),
        scope=check_scope_name(scope),
        name=name,
        created_at=time.time(),
        rate_limit=check_rate_limit(rate_limit),
    )
    store.create_key(record)
    log.info("access key created", extra={"access_key": record.access_key_id, "scope": scope})
    return record


def list_keys(store: Store) -> list[AccessKeyRecord]:
    return store.list_keys()


def revoke_key(store: Store, access_key_id: str) -> bool:
    """Revoked keys stay listed (for the audit trail) and are refused from then on."""
    done = store.revoke_key(access_key_id, time.time())
    if done:
        log.info("access key revoked", extra={"access_key": access_key_id})
    return done


def set_rate_limit(store: Store, access_key_id: str, rate_limit: float | None) -> bool:
    """Change a key's requests per second (None: the server's default); a running server uses it at once."""
    done = store.set_key_rate_limit(access_key_id, check_rate_limit(rate_limit))
    if done:
        log.info("access key rate limit set", extra={"access_key": access_key_id, "rate_limit": rate_limit})
    return done


def ensure_bootstrap_key(store: Store, env: Mapping[str, str]) -> AccessKeyRecord | None:
    """Install the admin key named by REGARD_ACCESS_KEY_ID/REGARD_SECRET_ACCESS_KEY, once.

    So a script can start a server and use it at once. A revoked bootstrap key is not brought back, and an
    existing ID with another secret is refused rather than silently replaced.
    """
    key_id = env.get(ENV_ACCESS_KEY_ID, "")
    secret = env.get(ENV_SECRET_ACCESS_KEY, "")
    if not key_id and not secret:
        return None
    if not key_id or not secret:
        raise InvalidParameterException(
            f"Set both {ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY}, or neither."
        )
    if not 16 <= len(key_id) <= 128 or not set(key_id) <= _ID_CHARS:
        raise InvalidParameterException(f"{ENV_ACCESS_KEY_ID} must be 16-128 letters or digits.")
    if len(secret) < 16:
        raise InvalidParameterException(f"{ENV_SECRET_ACCESS_KEY} must be at least 16 characters.")
    existing = store.get_key(key_id)
    if existing is not None:
        if not hmac.compare_digest(existing.secret_access_key.encode(), secret.encode()):
            raise InvalidParameterException(f"Access key {key_id} exists with another secret.")
        if existing.revoked_at is not None:
            log.warning("bootstrap access key is revoked; not restored", extra={"access_key": key_id})
        return existing
    record = AccessKeyRecord(key_id, secret, "admin", "bootstrap", time.time())
    try:
        store.create_key(record)
    except ResourceAlreadyExistsException:  # another replica on the same database installed it just now
        return ensure_bootstrap_key(store, env)
    log.info("bootstrap access key installed", extra={"access_key": key_id})
    return record
