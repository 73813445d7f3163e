"""``regard audit``, ``retention`` and ``erase``: showing what was done, and undoing it for good."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from regard.adapters.cli.common import cli_context, open_regard, print_json
from regard.adapters.cli.options import data_option

console = Console()


@click.group("audit")
def audit() -> None:
    """Read and verify the tamper-evident audit log."""


@audit.command("list")
@click.option("--collection", "collection_id", help="Only records about this collection.")
@click.option("--since", help="Only records at or after this time (ISO 8601, UTC unless stated, or epoch s).")
@click.option("--limit", type=int, default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
@data_option
def audit_list(
    collection_id: str | None, since: str | None, limit: int, as_json: bool, data_dir: Path
) -> None:
    """List audit records, oldest first."""
    params: dict[str, Any] = {"MaxResults": limit}
    if collection_id:
        params["CollectionId"] = collection_id
    if since:
        params["Since"] = since
    with open_regard(data_dir) as regard:
        records = regard.invoke("ListAuditRecords", params, cli_context())["Records"]
    if as_json:
        print_json(records)
        return
    table = Table("seq", "time (UTC)", "operation", "key", "collection", "client", "details")
    for record in records:
        details = ", ".join(f"{k}={_short(v)}" for k, v in json.loads(record["Details"]).items())
        table.add_row(
            str(record["Sequence"]),
            record["Time"][:19],
            record["Operation"],
            record["AccessKeyId"] or "-",
            record["CollectionId"] or "-",
            record["Client"] or "-",
            details,
        )
    console.print(table)


def _short(value: Any) -> str:
    if isinstance(value, list):
        return f"[{len(value)}]" if len(value) > 2 else ",".join(map(str, value))
    return str(value)


_key_option = click.option(
    "--key",
    "key_path",
    envvar="REGARD_AUDIT_SIGNING_KEY",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ed25519 private key (PEM), kept outside the data folder [env: REGARD_AUDIT_SIGNING_KEY].",
)


@contextmanager
def _anchor_errors() -> Iterator[None]:
    from regard.service.audit_anchor import AnchorError

    try:
        yield
    except AnchorError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)


@audit.command("verify")
@click.option(
    "--anchors",
    "anchors_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also check the log against every signed anchor in this file (regard audit anchor).",
)
@click.option(
    "--public-key",
    "public_key_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The anchors' Ed25519 public key (PEM); default: the public half of --key.",
)
@_key_option
@data_option
def audit_verify(
    anchors_path: Path | None, public_key_path: Path | None, key_path: Path | None, data_dir: Path
) -> None:
    """Check the hash chain; exit 1 and name the first broken link if any record was changed or removed.

    With --anchors, also check that each anchored record still has its anchored hash, which catches a log
    rewritten consistently (every later hash recomputed) up to the newest anchor.
    """
    from regard.service.audit_anchor import load_public_key, verify_anchors

    with _anchor_errors():
        public_key = None
        if anchors_path is not None:
            trusted = public_key_path or key_path
            if trusted is None:
                raise click.UsageError("--anchors needs --public-key (or --key) to check the signatures.")
            public_key = load_public_key(trusted)
        with open_regard(data_dir) as regard:
            result = regard.store.verify_audit()
            verdict = None
            if public_key is not None and anchors_path is not None:
                with anchors_path.open(encoding="utf-8", errors="replace") as lines:
                    verdict = verify_anchors(regard.store, lines, public_key)
    if not result.ok:
        click.echo(
            f"Audit log BROKEN at record {result.first_bad_seq}: {result.reason} "
            f"({result.records_checked} records checked before it).",
            err=True,
        )
        sys.exit(1)
    click.echo(f"Audit log intact: {result.records_checked} records, hash chain verified.")
    if verdict is None:
        return
    if verdict.ok:
        click.echo(f"Anchors: all {verdict.anchors_checked} signed anchors match the log.")
        return
    label = "Anchor REFUSED" if verdict.forged else "Audit log REWRITTEN"
    click.echo(f"{label}: {verdict.reason} ({verdict.anchors_checked} earlier anchors matched).", err=True)
    sys.exit(1)


@audit.command("keygen")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Key file.")
def audit_keygen(out: Path) -> None:
    """Make an Ed25519 signing key for anchors (mode 0600) and its public key (<out>.pub)."""
    from regard.service.audit_anchor import generate_key

    with _anchor_errors():
        public = generate_key(out)
    click.echo(f"Wrote {out} (keep it outside the data folder) and {public} (give it to verifiers).")


@audit.command("anchor")
@click.option("--to", "target", required=True, help="A file to append the anchor to, or an https:// URL.")
@_key_option
@data_option
def audit_anchor(target: str, key_path: Path | None, data_dir: Path) -> None:
    """Sign the audit log's head and hand it to a witness outside the data folder."""
    import time

    from regard.service.audit_anchor import load_signing_key, make_anchor, publish

    if key_path is None:
        raise click.UsageError("Give --key or set REGARD_AUDIT_SIGNING_KEY.")
    with _anchor_errors():
        key = load_signing_key(key_path, data_dir)
        with open_regard(data_dir) as regard:
            anchor = make_anchor(regard.store, key, now=time.time())
        publish(anchor, target, data_dir=data_dir)
    click.echo(f"Anchored record {anchor['seq']} ({anchor['hash'][:16]}…) to {target}.")


@audit.command("subject")
@click.option("--collection", "collection_id", required=True, help="The person's collection.")
@click.option("--user", "user_id", help="The person as a user ID.")
@click.option("--face-id", "face_id", help="The person as one face ID.")
@click.option("--external-id", "external_image_id", help="The person as their ExternalImageId.")
@click.option("--json", "as_json", is_flag=True, help="Print the ListSubjectAuditRecords response body.")
@data_option
def audit_subject(
    collection_id: str,
    user_id: str | None,
    face_id: str | None,
    external_image_id: str | None,
    as_json: bool,
    data_dir: Path,
) -> None:
    """A person's access report: every search that returned their faces, and every change to them.

    Faces erased since are included (the audit history still names them). The report is audited too.
    """
    named = {"UserId": user_id, "FaceId": face_id, "ExternalImageId": external_image_id}
    params: dict[str, Any] = {k: v for k, v in named.items() if v is not None}
    if len(params) != 1:
        raise click.UsageError("Give exactly one of --user, --face-id or --external-id.")
    params.update(CollectionId=collection_id, MaxResults=10_000)
    with open_regard(data_dir) as regard:
        response = regard.invoke("ListSubjectAuditRecords", params, cli_context())
    if as_json:
        print_json(response)
        return
    console.print(
        f"{len(response['FaceIds'])} face(s) of this person in {collection_id} (held now or erased), "
        f"{len(response['Records'])} record(s):"
    )
    table = Table("seq", "time (UTC)", "operation", "role", "key", "similarity", "probe sha256", "purpose")
    for item in response["Records"]:
        similarity = item.get("Similarity")
        table.add_row(
            str(item["Sequence"]),
            item["Time"][:19],
            item["Operation"],
            item["Role"],
            item.get("AccessKeyId") or item.get("Client") or "-",
            "-" if similarity is None else f"{similarity:.1f}",
            (item.get("ProbeSha256") or "-")[:16],
            item.get("Purpose") or "-",
        )
    console.print(table)


@click.group("retention")
def retention() -> None:
    """Erase faces whose retention period has passed."""


@retention.command("sweep")
@data_option
def retention_sweep(data_dir: Path) -> None:
    """Erase every expired face now (the server also does this every hour)."""
    from regard.service.retention import sweep

    with open_regard(data_dir) as regard:
        reports = sweep(regard, cli_context())
    total = sum(len(report.face_ids) for report in reports)
    click.echo(
        f"Erased {total} expired face(s) from {len({r.collection_id for r in reports})} collection(s)."
    )


@click.command("erase")
@click.option("--collection", "collection_id", required=True, help="The collection to erase from.")
@click.option("--user", "user_id", help="Erase this user and every face associated with it.")
@click.option(
    "--external-id", "external_image_id", help="Erase every face indexed under this ExternalImageId."
)
@data_option
def erase(collection_id: str, user_id: str | None, external_image_id: str | None, data_dir: Path) -> None:
    """Erase a person's templates for good: from the database, the vector index and the files."""
    from regard.service.retention import erase as erase_faces

    if (user_id is None) == (external_image_id is None):
        raise click.UsageError("Give exactly one of --user or --external-id.")
    with open_regard(data_dir) as regard:
        report = erase_faces(
            regard, collection_id, user_id=user_id, external_image_id=external_image_id, ctx=cli_context()
        )
    who = f"user {user_id}" if user_id else f"external image id {external_image_id}"
    click.echo(f"Erased {len(report.face_ids)} face(s) of {who} from {collection_id}.")


COMMANDS = [audit, retention, erase]
