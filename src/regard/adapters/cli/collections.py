"""``regard collections``, ``index``, ``search`` and ``users``: stored faces from a shell."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from regard.adapters.cli.common import cli_context, open_regard, print_json
from regard.adapters.cli.options import data_option, purpose_option
from regard.errors import RegardError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
console = Console()


@click.group("collections")
def collections() -> None:
    """Create, list, describe and delete collections."""


@collections.command("create")
@click.argument("collection_id")
@click.option("--purpose", help="Why the faces in this collection are held (kept as provenance).")
@click.option("--retention-days", type=float, help="Erase each face this many days after it is indexed.")
@click.option(
    "--require-purpose",
    is_flag=True,
    help="Refuse every search of this collection that states no purpose (tag regard:require-purpose).",
)
@data_option
def create(
    collection_id: str,
    purpose: str | None,
    retention_days: float | None,
    require_purpose: bool,
    data_dir: Path,
) -> None:
    """Create a collection bound to the current model pack."""
    params: dict[str, Any] = {"CollectionId": collection_id}
    if require_purpose:
        from regard.service.purpose import REQUIRE_PURPOSE_TAG

        params["Tags"] = {REQUIRE_PURPOSE_TAG: "true"}
    if purpose:
        params["RegardPurpose"] = purpose
    if retention_days is not None:
        params["RegardRetentionDays"] = retention_days
    with open_regard(data_dir) as regard:
        response = regard.invoke("CreateCollection", params, cli_context())
    click.echo(f"Created {collection_id} ({response['FaceModelVersion']}).")


@collections.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the ListCollections response body.")
@data_option
def list_(as_json: bool, data_dir: Path) -> None:
    """List collections with their face and user counts."""
    with open_regard(data_dir) as regard:
        ids: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"NextToken": token} if token else {}
            response = regard.invoke("ListCollections", params, cli_context())
            ids.extend(response["CollectionIds"])
            token = response.get("NextToken")
            if not token:
                break
        if as_json:
            print_json({"CollectionIds": ids})
            return
        table = Table("collection", "faces", "users", "model", "purpose", "retention (days)")
        for collection_id in ids:
            record = regard.store.get_collection(collection_id)
            table.add_row(
                collection_id,
                str(record.face_count),
                str(record.user_count),
                record.face_model_version,
                record.purpose or "",
                "" if record.retention_days is None else f"{record.retention_days:g}",
            )
        console.print(table)


@collections.command("describe")
@click.argument("collection_id")
@data_option
def describe(collection_id: str, data_dir: Path) -> None:
    """Print the DescribeCollection response body."""
    with open_regard(data_dir) as regard:
        print_json(regard.invoke("DescribeCollection", {"CollectionId": collection_id}, cli_context()))


@collections.command("delete")
@click.argument("collection_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@data_option
def delete(collection_id: str, yes: bool, data_dir: Path) -> None:
    """Delete a collection and erase all its faces and users."""
    if not yes:
        click.confirm(f"Erase collection {collection_id} and every face in it?", abort=True)
    with open_regard(data_dir) as regard:
        regard.invoke("DeleteCollection", {"CollectionId": collection_id}, cli_context())
    click.echo(f"Deleted {collection_id}.")


def _image_files(paths: tuple[Path, ...]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            )
        else:
            found.append(path)
    return found


def external_id_for(path: Path) -> str:
    """The file name, with characters Rekognition does not allow in an ExternalImageId replaced by '_'."""
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:")
    return "".join(c if c in allowed else "_" for c in path.name)[:255] or "image"


@click.command("index")
@click.argument("collection_id")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--max-faces", type=int, help="Index at most this many faces of each image (largest first).")
@click.option(
    "--quality-filter",
    type=click.Choice(["NONE", "AUTO", "LOW", "MEDIUM", "HIGH"]),
    default="AUTO",
    show_default=True,
)
@click.option("--user", "user_id", help="Associate the indexed faces with this user (created if needed).")
@click.option(
    "--expires-in-days",
    type=click.FloatRange(min=0, min_open=True),
    help="Erase these faces this many days from now (default: the collection's retention period).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of a table.")
@purpose_option
@data_option
def index(
    collection_id: str,
    paths: tuple[Path, ...],
    max_faces: int | None,
    quality_filter: str,
    user_id: str | None,
    expires_in_days: float | None,
    as_json: bool,
    purpose: str | None,
    data_dir: Path,
) -> None:
    """Index the faces in image files and folders (recursively); re-running skips what is indexed."""
    files = _image_files(paths)
    summary: dict[str, Any] = {
        "images": len(files),
        "indexed": 0,
        "skipped": 0,
        "unindexed": {},
        "failed": {},
    }
    face_ids: list[str] = []
    with open_regard(data_dir) as regard:
        regard.store.get_collection(collection_id)
        progress = Progress(
            TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), disable=as_json
        )
        with progress:
            task = progress.add_task("index", total=len(files))
            options: dict[str, Any] = {"CollectionId": collection_id, "QualityFilter": quality_filter}
            if max_faces:
                options["MaxFaces"] = max_faces
            if expires_in_days is not None:
                options["RegardExpiresAt"] = int(time.time() + expires_in_days * 86400)
            for path in files:
                _index_one(regard, options, path, summary, face_ids, purpose)
                progress.advance(task)
        if user_id and face_ids:
            _associate(regard, collection_id, user_id, face_ids, summary, purpose)
    if as_json:
        print_json(summary)
        return
    table = Table("images", "faces indexed", "images skipped (indexed before)")
    table.add_row(str(summary["images"]), str(summary["indexed"]), str(summary["skipped"]))
    console.print(table)
    for title, counts in (
        ("faces not indexed", summary["unindexed"]),
        ("images that failed", summary["failed"]),
    ):
        if counts:
            console.print(f"{title}: " + ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items())))


def _index_one(
    regard: Any,
    options: dict[str, Any],
    path: Path,
    summary: dict[str, Any],
    face_ids: list[str],
    purpose: str | None = None,
) -> None:
    """Index one file with the IndexFaces ``options``; counts the outcome in ``summary``."""
    from regard.service.indexing import already_indexed

    external_id = external_id_for(path)
    try:
        data = path.read_bytes()
        if already_indexed(regard, options["CollectionId"], hashlib.sha256(data).hexdigest(), external_id):
            summary["skipped"] += 1
            return
        params = {**options, "Image": {"Bytes": data}, "ExternalImageId": external_id}
        response = regard.invoke("IndexFaces", params, cli_context(purpose))
    except RegardError as error:
        summary["failed"][error.code] = summary["failed"].get(error.code, 0) + 1
        return
    except OSError:
        summary["failed"]["UnreadableFile"] = summary["failed"].get("UnreadableFile", 0) + 1
        return
    records = response["FaceRecords"]
    summary["indexed"] += len(records)
    face_ids.extend(record["Face"]["FaceId"] for record in records)
    if not records and not response["UnindexedFaces"]:
        summary["unindexed"]["NO_FACE"] = summary["unindexed"].get("NO_FACE", 0) + 1
    for unindexed in response["UnindexedFaces"]:
        for reason in unindexed["Reasons"]:
            summary["unindexed"][reason] = summary["unindexed"].get(reason, 0) + 1


def _associate(
    regard: Any,
    collection_id: str,
    user_id: str,
    face_ids: list[str],
    summary: dict[str, Any],
    purpose: str | None = None,
) -> None:
    if regard.store.get_user(collection_id, user_id) is None:
        regard.invoke("CreateUser", {"CollectionId": collection_id, "UserId": user_id}, cli_context(purpose))
    associated = 0
    for start in range(0, len(face_ids), 100):
        response = regard.invoke(
            "AssociateFaces",
            {"CollectionId": collection_id, "UserId": user_id, "FaceIds": face_ids[start : start + 100]},
            cli_context(purpose),
        )
        associated += len(response["AssociatedFaces"])
    summary["associated"] = associated


@click.command("search")
@click.argument("collection_id")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--threshold", type=float, default=80.0, show_default=True, help="FaceMatchThreshold, 0-100.")
@click.option("--max-faces", type=int, default=10, show_default=True)
@click.option("--users", "by_user", is_flag=True, help="Search users (SearchUsersByImage) instead of faces.")
@click.option("--json", "as_json", is_flag=True, help="Print the response body.")
@purpose_option
@data_option
def search(
    collection_id: str,
    image: Path,
    threshold: float,
    max_faces: int,
    by_user: bool,
    as_json: bool,
    purpose: str | None,
    data_dir: Path,
) -> None:
    """Search a collection with the largest face in IMAGE."""
    from regard.adapters.client import annotate_false_match_rates

    with open_regard(data_dir) as regard:
        if by_user:
            params = {
                "CollectionId": collection_id,
                "Image": {"Bytes": image.read_bytes()},
                "UserMatchThreshold": threshold,
                "MaxUsers": max_faces,
            }
            response = regard.invoke("SearchUsersByImage", params, cli_context(purpose))
        else:
            params = {
                "CollectionId": collection_id,
                "Image": {"Bytes": image.read_bytes()},
                "FaceMatchThreshold": threshold,
                "MaxFaces": max_faces,
            }
            response = regard.invoke("SearchFacesByImage", params, cli_context(purpose))
        annotate_false_match_rates(regard, response)
    if as_json:
        print_json(response)
        return
    _print_matches(response, by_user)


def _print_matches(response: dict[str, Any], by_user: bool) -> None:
    matches = response["UserMatches"] if by_user else response["FaceMatches"]
    if not matches:
        console.print("No match at this threshold.")
        return
    table = Table("similarity", "est. false-match rate", "user" if by_user else "face", "external image id")
    from regard.evaluation.calibration import format_fmr

    for match in matches:
        fmr = match.get("EstimatedFalseMatchRate")
        fmr_text = "not calibrated" if fmr is None else format_fmr(fmr, match["FalseMatchRateUpperBound"])
        if by_user:
            table.add_row(f"{match['Similarity']:.2f}", fmr_text, match["User"]["UserId"], "")
        else:
            face = match["Face"]
            table.add_row(
                f"{match['Similarity']:.2f}", fmr_text, face["FaceId"], face.get("ExternalImageId", "")
            )
    console.print(table)


@click.command("recognize")
@click.argument("collection_id")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--threshold", type=float, default=80.0, show_default=True, help="FaceMatchThreshold, 0-100.")
@click.option("--max-faces", type=int, default=100, show_default=True, help="Faces considered (1-100).")
@click.option("--draw", type=click.Path(dir_okay=False, path_type=Path), help="Write the image, labelled.")
@click.option("--json", "as_json", is_flag=True, help="Print the response body.")
@data_option
def recognize(
    collection_id: str,
    image: Path,
    threshold: float,
    max_faces: int,
    draw: Path | None,
    as_json: bool,
    data_dir: Path,
) -> None:
    """Name every face in IMAGE from a collection (RecognizeFaces), largest first.

    --draw writes the image with each recognized face boxed in green and labelled with its ExternalImageId
    (or UserId) and similarity; unrecognized faces are boxed in orange, labelled "?".
    """
    from regard.adapters.client import annotate_false_match_rates

    data = image.read_bytes()
    params = {
        "CollectionId": collection_id,
        "Image": {"Bytes": data},
        "FaceMatchThreshold": threshold,
        "MaxFaces": max_faces,
    }
    with open_regard(data_dir) as regard:
        response = regard.invoke("RecognizeFaces", params, cli_context())
        annotate_false_match_rates(regard, response)
    if draw is not None:
        _draw_recognized(data, response, draw)
    if as_json:
        print_json(response)
        return
    _print_recognized(response, image.name)


def _who(match: dict[str, Any]) -> str:
    """A match's name on screen: its ExternalImageId, else its UserId, else its FaceId."""
    face = match["Face"]
    return str(face.get("ExternalImageId") or face.get("UserId") or face["FaceId"])


def _print_recognized(response: dict[str, Any], name: str) -> None:
    from regard.evaluation.calibration import format_fmr

    entries = [(e, e["FaceMatches"][0]) for e in response["RecognizedFaces"]]
    entries += [(e, None) for e in response["UnrecognizedFaces"]]
    table = Table(
        "left",
        "top",
        "width",
        "height",
        "who",
        "similarity",
        "est. false-match rate",
        title=f"{len(response['RecognizedFaces'])} of {len(entries)} face(s) recognized in {name}",
    )
    for entry, match in entries:
        box = entry["Face"]["BoundingBox"]
        where = [f"{box[k]:.3f}" for k in ("Left", "Top", "Width", "Height")]
        if match is None:
            table.add_row(*where, "? (" + ", ".join(entry["Reasons"]) + ")", "-", "")
            continue
        fmr = match.get("EstimatedFalseMatchRate")
        fmr_text = "not calibrated" if fmr is None else format_fmr(fmr, match["FalseMatchRateUpperBound"])
        table.add_row(*where, _who(match), f"{match['Similarity']:.2f}", fmr_text)
    console.print(table)


def _draw_recognized(data: bytes, response: dict[str, Any], out: Path) -> None:
    from regard.adapters.cli.faces import Mark, draw_marks
    from regard.vision.image import decode_image

    decoded = decode_image(data)
    size = (decoded.width, decoded.height)
    marks = []
    for entry in response["RecognizedFaces"] + response["UnrecognizedFaces"]:
        matches = entry.get("FaceMatches")
        label = f"{_who(matches[0])} {matches[0]['Similarity']:.1f}" if matches else "?"
        colour = (0, 255, 0) if matches else (0, 165, 255)
        marks.append(Mark(_pixel_box(entry["Face"]["BoundingBox"], size), [], label, colour))
    draw_marks(decoded, marks, out)


def _pixel_box(box: dict[str, float], size: tuple[int, int]) -> tuple[float, float, float, float]:
    width, height = size
    left, top = box["Left"] * width, box["Top"] * height
    return (left, top, left + box["Width"] * width, top + box["Height"] * height)


@click.group("users")
def users() -> None:
    """Group a person's faces under one user ID, and search by user."""


@users.command("create")
@click.argument("collection_id")
@click.argument("user_id")
@data_option
def users_create(collection_id: str, user_id: str, data_dir: Path) -> None:
    """Create a user."""
    with open_regard(data_dir) as regard:
        regard.invoke("CreateUser", {"CollectionId": collection_id, "UserId": user_id}, cli_context())
    click.echo(f"Created user {user_id}.")


@users.command("list")
@click.argument("collection_id")
@data_option
def users_list(collection_id: str, data_dir: Path) -> None:
    """List the users of a collection."""
    with open_regard(data_dir) as regard:
        table = Table("user", "status")
        token: str | None = None
        while True:
            params: dict[str, Any] = {"CollectionId": collection_id}
            if token:
                params["NextToken"] = token
            response = regard.invoke("ListUsers", params, cli_context())
            for user in response["Users"]:
                table.add_row(user["UserId"], user["UserStatus"])
            token = response.get("NextToken")
            if not token:
                break
    console.print(table)


@users.command("associate")
@click.argument("collection_id")
@click.argument("user_id")
@click.argument("face_ids", nargs=-1, required=True)
@click.option("--threshold", type=float, default=75.0, show_default=True, help="UserMatchThreshold, 0-100.")
@data_option
def users_associate(
    collection_id: str, user_id: str, face_ids: tuple[str, ...], threshold: float, data_dir: Path
) -> None:
    """Associate faces with a user."""
    with open_regard(data_dir) as regard:
        response = regard.invoke(
            "AssociateFaces",
            {
                "CollectionId": collection_id,
                "UserId": user_id,
                "FaceIds": list(face_ids),
                "UserMatchThreshold": threshold,
            },
            cli_context(),
        )
    print_json(response)


@users.command("search")
@click.argument("collection_id")
@click.option("--user", "user_id", help="Find users like this user.")
@click.option("--face", "face_id", help="Find users matching this face ID.")
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Or an image.")
@click.option("--threshold", type=float, default=80.0, show_default=True, help="UserMatchThreshold, 0-100.")
@purpose_option
@data_option
def users_search(
    collection_id: str,
    user_id: str | None,
    face_id: str | None,
    image: Path | None,
    threshold: float,
    purpose: str | None,
    data_dir: Path,
) -> None:
    """Search users by user, face or image."""
    if sum(x is not None for x in (user_id, face_id, image)) != 1:
        raise click.UsageError("Give exactly one of --user, --face or --image.")
    with open_regard(data_dir) as regard:
        params: dict[str, Any] = {"CollectionId": collection_id, "UserMatchThreshold": threshold}
        if image is not None:
            params["Image"] = {"Bytes": image.read_bytes()}
            response = regard.invoke("SearchUsersByImage", params, cli_context(purpose))
        else:
            params.update({"UserId": user_id} if user_id else {"FaceId": face_id})
            response = regard.invoke("SearchUsers", params, cli_context(purpose))
    _print_matches(response, True)


COMMANDS = [collections, index, search, recognize, users]
