"""``regard cluster``: who keeps appearing in a collection, as clusters; a contact sheet; clusters to users.

The contact sheet crops faces from the caller's own image folder (``--images``): Regard stores no face
images, so each face's source is found by its ExternalImageId (the file name ``regard index`` gave it) and
the SHA-256 of the image bytes it was indexed from. ``--to-users`` goes through CreateUser and AssociateFaces,
so their rules (UserMatchThreshold, at most 100 faces per user) and audit records apply.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from regard.adapters.cli.collections import _image_files, external_id_for
from regard.adapters.cli.common import cli_context, open_regard, print_json
from regard.adapters.cli.options import data_option
from regard.errors import ConflictException, RegardError
from regard.service.users import MAX_FACES_PER_USER

console = Console()
SHEET_COLUMNS = 8


@click.command("cluster")
@click.argument("collection_id")
@click.option("--json", "as_json", is_flag=True, help="Print the ClusterFaces response (all pages).")
@click.option("--threshold", type=click.FloatRange(0, 100), help="ClusterThreshold: similarity 0-100 (80).")
@click.option("--min-size", type=click.IntRange(min=2), help="MinClusterSize: smallest cluster (2).")
@click.option("--include-user-faces", is_flag=True, help="Also cluster faces that belong to a user.")
@click.option("--contact-sheet", type=click.Path(dir_okay=False, path_type=Path), help="Write a PNG/JPEG.")
@click.option(
    "--images",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The folder the faces were indexed from (needed for --contact-sheet).",
)
@click.option("--to-users", is_flag=True, help="Create a user per cluster and associate its faces.")
@click.option("--user-prefix", default="cluster-", show_default=True, help="UserId = prefix + ClusterId.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (--to-users).")
@data_option
def cluster(
    collection_id: str,
    as_json: bool,
    threshold: float | None,
    min_size: int | None,
    include_user_faces: bool,
    contact_sheet: Path | None,
    images: Path | None,
    to_users: bool,
    user_prefix: str,
    yes: bool,
    data_dir: Path,
) -> None:
    """Group the faces of COLLECTION_ID that belong to no user into clusters of one person each."""
    if contact_sheet is not None and images is None:
        raise click.UsageError("--contact-sheet needs --images: Regard keeps no face images.")
    params: dict[str, Any] = {"CollectionId": collection_id, "IncludeUserFaces": include_user_faces}
    if threshold is not None:
        params["ClusterThreshold"] = threshold
    if min_size is not None:
        params["MinClusterSize"] = min_size
    with open_regard(data_dir) as regard:
        result = _all_pages(regard, params)
        faces = {
            f.face_id: f
            for f in regard.store.get_faces(
                collection_id, [face for c in result["Clusters"] for face in c["FaceIds"]]
            )
        }
        if contact_sheet is not None and images is not None:
            written = _write_sheet(result["Clusters"], faces, images, contact_sheet)
            click.echo(f"Wrote {contact_sheet} ({written} faces).", err=as_json)
        if as_json:
            print_json(result)
        else:
            _print_table(result, faces)
        if to_users:
            _to_users(regard, collection_id, result["Clusters"], user_prefix, yes)


def _all_pages(regard: Any, params: dict[str, Any]) -> dict[str, Any]:
    clusters: list[dict[str, Any]] = []
    unclustered: list[str] = []
    token: str | None = None
    while True:
        page = regard.invoke(
            "ClusterFaces", {**params, **({"NextToken": token} if token else {})}, cli_context()
        )
        clusters += page["Clusters"]
        unclustered += page["UnclusteredFaceIds"]
        token = page.get("NextToken")
        if not token:
            return {"Clusters": clusters, "UnclusteredFaceIds": unclustered}


def _print_table(result: dict[str, Any], faces: dict[str, Any]) -> None:
    table = Table("cluster", "faces", "cohesion", "representative", "images")
    for c in result["Clusters"]:
        names = sorted({faces[f].external_image_id or "" for f in c["FaceIds"] if f in faces})
        shown = ", ".join(names[:4]) + (f" (+{len(names) - 4})" if len(names) > 4 else "")
        table.add_row(
            c["ClusterId"], str(len(c["FaceIds"])), f"{c['Cohesion']:.1f}", c["RepresentativeFaceId"], shown
        )
    console.print(table)
    console.print(
        f"{len(result['Clusters'])} clusters; {len(result['UnclusteredFaceIds'])} faces matched nobody."
    )


def _write_sheet(clusters: list[dict[str, Any]], faces: dict[str, Any], folder: Path, out: Path) -> int:
    """One row per cluster, representative first; only faces whose source image is found in ``folder``."""
    from regard.adapters.cli.sheets import face_tile, write_sheet
    from regard.service.common import box_to_wire
    from regard.vision.image import read_image_file

    wanted = {(f.external_image_id, f.image_sha256) for f in faces.values()}
    sources: dict[tuple[str | None, str | None], Path] = {}
    for path in _image_files((folder,)):
        name = external_id_for(path)
        if any(name == ext for ext, _ in wanted):
            key = (name, hashlib.sha256(path.read_bytes()).hexdigest())
            if key in wanted:
                sources.setdefault(key, path)
    rows, written, decoded = [], 0, {}
    for c in clusters:
        order = [c["RepresentativeFaceId"]] + [f for f in c["FaceIds"] if f != c["RepresentativeFaceId"]]
        row = []
        for face_id in order[:SHEET_COLUMNS]:
            face = faces.get(face_id)
            path = sources.get((face.external_image_id, face.image_sha256)) if face else None
            if path is None:
                continue
            try:
                if path not in decoded:
                    decoded = {path: read_image_file(path).pixels}  # one image in memory at a time
                pixels = decoded[path]
            except RegardError:
                continue
            caption = (
                f"{c['ClusterId'][:8]} {len(c['FaceIds'])}" if not row else (face.external_image_id or "")
            )
            row.append(face_tile(pixels, box_to_wire(face.bounding_box), caption))
            written += 1
        rows.append(row)
    write_sheet(rows, out)
    return written


def _to_users(
    regard: Any, collection_id: str, clusters: list[dict[str, Any]], prefix: str, yes: bool
) -> None:
    if not clusters:
        click.echo("No clusters: no users to create.")
        return
    total = sum(len(c["FaceIds"]) for c in clusters)
    if not yes:
        click.confirm(
            f"Create {len(clusters)} users ({prefix}<ClusterId>) and associate {total} faces with them?",
            abort=True,
        )
    for c in clusters:
        user_id = f"{prefix}{c['ClusterId']}"
        with contextlib.suppress(ConflictException):  # named before (a re-run): add the new faces to it
            regard.invoke("CreateUser", {"CollectionId": collection_id, "UserId": user_id}, cli_context())
        order = [c["RepresentativeFaceId"]] + [f for f in c["FaceIds"] if f != c["RepresentativeFaceId"]]
        kept = order[:MAX_FACES_PER_USER]
        try:
            done = regard.invoke(
                "AssociateFaces",
                {"CollectionId": collection_id, "UserId": user_id, "FaceIds": kept},
                cli_context(),
            )
        except RegardError as error:  # e.g. the user would pass 100 faces: say so, go on with the others
            click.echo(f"{user_id}: not associated: {error.code}: {error.message}", err=True)
            continue
        refused = len(done["UnsuccessfulFaceAssociations"]) + len(order) - len(kept)
        note = f", {refused} not associated" if refused else ""
        click.echo(f"{user_id}: {len(done['AssociatedFaces'])} faces{note}")


COMMANDS = [cluster]
