"""``regard serve`` (the Rekognition-compatible HTTP server) and ``regard keys`` (its access keys)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from regard.adapters.cli.options import data_option, database_url
from regard.service.scopes import SCOPES


def _private_folder(data_dir: Path) -> None:
    """The data folder holds key secrets and biometric vectors: owner-only."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        os.chmod(data_dir, 0o700)


@contextlib.contextmanager
def _store(data_dir: Path) -> Iterator[Any]:
    """The access keys of ``data_dir``, even while a server runs on it (it reads keys on every request)."""
    from regard.store import open_key_store, open_store

    database = database_url()
    if database is not None:  # the keys live in the database every server reads on each request
        store = open_store(None, database=database)
        try:
            yield store
        finally:
            store.close()
        return
    _private_folder(data_dir)
    try:
        store = open_key_store(data_dir)
    except RuntimeError as error:  # a new folder whose layout is being made by another process
        raise click.ClickException(str(error)) from None
    try:
        yield store
    finally:
        store.close()


def _anchor_key(target: str | None, key_path: Path | None, data_dir: Path) -> object:
    """The signing key for periodic anchors, checked before the server starts (None without a target)."""
    if target is None:
        return None
    if key_path is None:
        raise click.UsageError("--audit-anchor-to needs --audit-signing-key or REGARD_AUDIT_SIGNING_KEY.")
    from regard.service.audit_anchor import AnchorError, load_signing_key

    try:
        return load_signing_key(key_path, data_dir)
    except AnchorError as error:
        raise click.UsageError(str(error)) from None


def _parse_bucket(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, Path]:
    buckets: dict[str, Path] = {}
    for value in values:
        name, sep, folder = value.partition("=")
        if not sep or not name or not folder:
            raise click.BadParameter(f"{value!r}: expected NAME=DIR")
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise click.BadParameter(f"{value!r}: {folder} is not a folder")
        buckets[name] = path.resolve()
    return buckets


def _parse_names(values: tuple[str, ...], what: str) -> dict[str, str]:
    """``NAME=VALUE`` options (repeatable) as a dict, NAME a valid Kinesis stream name."""
    from regard.service.stream_sinks import parse_mapping

    mapped: dict[str, str] = {}
    for value in values:
        try:
            name, target = parse_mapping(value, what)
        except ValueError as error:
            raise click.BadParameter(f"{value.partition('=')[0]!r}: {error}") from None
        mapped[name] = target
    return mapped


def _parse_streams(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    return _parse_names(values, "URL")


def _parse_sinks(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    from regard.service.stream_sinks import SECRET_ENV

    sinks = _parse_names(values, "FILE-or-URL")
    for name, target in sinks.items():
        if target.lower().startswith(("http://", "https://")) and not os.environ.get(SECRET_ENV):
            raise click.BadParameter(f"{name}: a webhook sink signs its records; set {SECRET_ENV} first")
    return sinks


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@data_option
@click.option(
    "--bucket",
    "buckets",
    multiple=True,
    callback=_parse_bucket,
    metavar="NAME=DIR",
    help="Serve S3Object images of bucket NAME from folder DIR (repeatable).",
)
@click.option(
    "--stream",
    "streams",
    multiple=True,
    callback=_parse_streams,
    metavar="NAME=URL",
    help="Kinesis video stream NAME reads URL: rtsp://, udp://, rtp://, srt://, http(s):// (HLS), a capture "
    "device (/dev/videoN) or a file.",
)
@click.option(
    "--sink",
    "sinks",
    multiple=True,
    callback=_parse_sinks,
    metavar="NAME=TARGET",
    help="Kinesis data stream NAME writes to TARGET: a JSON-lines file, or an http(s) webhook "
    "(signed with REGARD_SINK_SECRET).",
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Requests running models at once (one per core is right).",
)
@click.option(
    "--queue",
    "queue_limit",
    default=64,
    show_default=True,
    type=click.IntRange(0),
    help="Requests allowed to wait for a worker; beyond that, ThrottlingException.",
)
@click.option(
    "--timeout",
    "request_timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a request may wait and run before it is answered with an error.",
)
@click.option(
    "--rate-limit",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Requests per second allowed to each key without its own limit (default: no limit).",
)
@click.option(
    "--bad-signature-limit",
    default=5,
    show_default=True,
    type=click.IntRange(0),
    help="Bad signatures one address may send before it is refused for a window that doubles each time.",
)
@click.option(
    "--bad-signature-backoff",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="The first refusal window after too many bad signatures, in seconds (doubling, at most 60 s).",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM certificate chain: serve HTTPS only (TLS 1.2+). Needs --tls-key.",
)
@click.option(
    "--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="PEM private key."
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    metavar="ADDRESS",
    help="Believe X-Forwarded-For from this proxy (repeatable); without it the TCP peer is the client.",
)
@click.option(
    "--max-body",
    default=16 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(1024),
    help="Largest request body in bytes.",
)
@click.option(
    "--audit-anchor-to",
    "anchor_to",
    metavar="TARGET",
    help="Publish a signed anchor of the audit log to this file (JSON lines) or https:// URL, periodically.",
)
@click.option(
    "--audit-anchor-interval",
    "anchor_interval",
    default=3600.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds between anchors (only when the log grew).",
)
@click.option(
    "--audit-signing-key",
    "signing_key",
    envvar="REGARD_AUDIT_SIGNING_KEY",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ed25519 private key (PEM) for anchors, kept outside the data folder (regard audit keygen).",
)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    buckets: dict[str, Path],
    streams: dict[str, str],
    sinks: dict[str, str],
    workers: int,
    queue_limit: int,
    request_timeout: float,
    rate_limit: float | None,
    bad_signature_limit: int,
    bad_signature_backoff: float,
    tls_cert: Path | None,
    tls_key: Path | None,
    trusted_proxies: tuple[str, ...],
    max_body: int,
    anchor_to: str | None,
    anchor_interval: float,
    signing_key: Path | None,
) -> None:
    """Serve Amazon Rekognition's API (AWS JSON 1.1, SigV4) for boto3, the AWS CLI and other SDKs.

    A first admin key can come from REGARD_ACCESS_KEY_ID and REGARD_SECRET_ACCESS_KEY. Stream
    processors read the sources of --stream and write face-search records to the sinks of --sink.
    """
    from regard.adapters.aws import server
    from regard.service.app import Regard
    from regard.service.keys import ensure_bootstrap_key

    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together.")
    server.configure_logging()
    database = database_url()
    if database is None:
        _private_folder(data_dir)
    anchor_key = _anchor_key(anchor_to, signing_key, data_dir)
    regard = Regard.open(data_dir, buckets=buckets, streams=streams, sinks=sinks, database=database)
    try:
        ensure_bootstrap_key(regard.store, os.environ)
        regard.start_background_work()  # resume video jobs and stream processors, sweep expired faces
        if anchor_to is not None:
            regard.start_audit_anchoring(anchor_key, anchor_to, interval=anchor_interval)
    except Exception:
        regard.close()
        raise
    server.run(
        regard,
        host,
        port,
        max_body=max_body,
        max_concurrency=workers,
        queue_limit=queue_limit,
        request_timeout=request_timeout,
        rate_limit=rate_limit,
        bad_signature_limit=bad_signature_limit,
        bad_signature_backoff=bad_signature_backoff,
        tls_cert=tls_cert,
        tls_key=tls_key,
        trusted_proxies=list(trusted_proxies),
    )


@click.group()
def keys() -> None:
    """Manage the access keys that sign requests to 'regard serve' (run these while it is stopped)."""


@keys.command("create")
@click.option("--scope", required=True, type=click.Choice(list(SCOPES)), help="What the key may call.")
@click.option("--name", default=None, help="A label to recognise the key by.")
@click.option(
    "--rate-limit",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Requests per second for this key (default: the server's --rate-limit).",
)
@data_option
def keys_create(scope: str, name: str | None, rate_limit: float | None, data_dir: Path) -> None:
    """Create a key; its secret is shown this once and cannot be shown again."""
    from regard.service.keys import create_key

    with _store(data_dir) as store:
        record = create_key(store, scope, name, rate_limit)
    click.echo(f"AccessKeyId:     {record.access_key_id}")
    click.echo(f"SecretAccessKey: {record.secret_access_key}")
    click.echo(f"Scope:           {record.scope}")
    click.echo("Store the secret now: it will not be shown again.", err=True)


@keys.command("list")
@data_option
def keys_list(data_dir: Path) -> None:
    """List keys (never their secrets)."""
    import datetime as dt

    from rich.console import Console
    from rich.table import Column, Table

    from regard.service.keys import list_keys

    def when(t: float | None) -> str:
        return "" if t is None else dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")

    with _store(data_dir) as store:
        records = list_keys(store)
    table = Table("Scope", "Name", "Created", "Revoked", "Rate/s")
    table.columns.insert(0, Column("AccessKeyId", no_wrap=True, min_width=20))
    for r in records:
        limit = "default" if r.rate_limit is None else f"{r.rate_limit:g}"
        table.add_row(r.access_key_id, r.scope, r.name or "", when(r.created_at), when(r.revoked_at), limit)
    Console().print(table)


@keys.command("revoke")
@click.argument("access_key_id")
@data_option
def keys_revoke(access_key_id: str, data_dir: Path) -> None:
    """Revoke a key; from the next server start on, requests signed with it are refused."""
    from regard.service.keys import revoke_key

    with _store(data_dir) as store:
        done = revoke_key(store, access_key_id)
    if not done:
        raise click.ClickException(f"No active key {access_key_id}.")
    click.echo(f"Revoked {access_key_id}.")


@keys.command("set-rate-limit")
@click.argument("access_key_id")
@click.argument("rate_limit", metavar="PER_SECOND|default")
@data_option
def keys_set_rate_limit(access_key_id: str, rate_limit: str, data_dir: Path) -> None:
    """Set a key's requests per second, or 'default' for the server's; a running server applies it at once."""
    from regard.service.keys import set_rate_limit

    try:
        value = None if rate_limit == "default" else float(rate_limit)
    except ValueError:
        raise click.BadParameter(f"{rate_limit!r}: a number or 'default'", param_hint="RATE_LIMIT") from None
    with _store(data_dir) as store:
        done = set_rate_limit(store, access_key_id, value)
    if not done:
        raise click.ClickException(f"No key {access_key_id}.")
    click.echo(f"Rate limit of {access_key_id}: {rate_limit if value is None else f'{value:g}/s'}.")


COMMANDS = [serve, keys]
