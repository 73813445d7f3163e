"""The console in headless Chromium against a real ``regard serve``: each page does its job, no JS errors."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from playwright.sync_api import expect
from tests.adapters.aws.server_process import BOOT_KEY_ID, BOOT_SECRET, ServerProcess

from .conftest import DATA, WRONG_SECRET, Console

pytestmark = pytest.mark.slow

PLAYERS = DATA / "vision" / "players.jpg"
OBAMA = DATA / "vision" / "obama.jpg"
OBAMA2 = DATA / "aws" / "obama2.jpg"
BIDEN = DATA / "aws" / "biden.jpg"
REFUSED = r"Failed to load resource: the server responded with a status of (401|400)"


def rekognition(server: ServerProcess) -> Any:
    return boto3.client(
        "rekognition",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=BOOT_KEY_ID,
        aws_secret_access_key=BOOT_SECRET,
    )


def audit_details(page: Any, filters: dict[str, str], operation: str) -> list[dict[str, Any]]:
    """The details of ``operation``'s audit records (ListAuditRecords ``filters``), oldest first."""
    records = page.evaluate(
        """async (filters) => {
            const who = await (await fetch('api/session')).json();
            const r = await fetch('api/op/ListAuditRecords', {method: 'POST', body: JSON.stringify(filters),
              headers: {'Content-Type': 'application/json', 'X-CSRF-Token': who.CsrfToken}});
            return (await r.json()).Records;
        }""",
        filters,
    )
    return [json.loads(r["Details"]) for r in records if r["Operation"] == operation]


def test_sign_in_and_out(signed_in: Callable[[str], Console]) -> None:
    console = signed_in("admin")
    page = console.page
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Detect", "Compare", "Collections", "Search", "Video", "Audit log", "Keys"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["regard_console"]["httpOnly"] and cookies["regard_console"]["sameSite"] == "Strict"
    # The secret is nowhere the page's scripts can read.
    stored = page.evaluate(
        "() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie"
    )
    assert BOOT_SECRET not in stored and "regard_console" not in stored
    console.screenshot("signed-in")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_wrong_secret_is_refused(console: Console) -> None:
    console.expected.append(REFUSED)
    console.sign_in(BOOT_KEY_ID, WRONG_SECRET)
    expect(console.page.get_by_role("alert")).to_contain_text("Sign-in failed")
    expect(console.page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(console.page.get_by_role("button", name="Sign out")).to_be_hidden()
    console.screenshot("sign-in-refused")


def test_detect_players(signed_in: Callable[[str], Console], server: ServerProcess) -> None:
    expected = len(rekognition(server).detect_faces(Image={"Bytes": PLAYERS.read_bytes()})["FaceDetails"])
    assert expected > 10
    console = signed_in("admin")
    console.open("Detect")
    console.page.get_by_label("Image").set_input_files(PLAYERS)
    expect(console.page.locator("#face-count")).to_have_text(f"{expected} faces")
    rows = console.page.locator("#detect-result tbody tr")
    expect(rows).to_have_count(expected)
    assert console.page.locator("#detect-result canvas").count() == 1
    console.screenshot("detect")


def test_compare_same_person(signed_in: Callable[[str], Console]) -> None:
    console = signed_in("admin")
    console.open("Compare")
    page = console.page
    page.get_by_label("Source image").set_input_files(OBAMA)
    page.get_by_label("Target image").set_input_files(OBAMA2)
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.locator("#compare-headline")).to_have_text("Matched: 1 face")
    row = page.locator("#compare-result tbody tr").first
    similarity = float(row.locator("td").nth(1).inner_text().rstrip("%"))
    assert similarity > 80
    assert re.fullmatch(r"[0-9.e+-]+( \(none seen\))?", row.locator("td").nth(2).inner_text()), (
        row.inner_text()
    )
    console.screenshot("compare")
    # A stated purpose goes with the comparison into its audit record.
    since = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
    page.get_by_label("Purpose").fill("CASE-9: same person?")
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.locator("#compare-headline")).to_have_text("Matched: 1 face")
    compared = audit_details(page, {"Since": since}, "CompareFaces")
    assert compared and compared[-1].get("purpose") == "CASE-9: same person?"  # the newest
    page.get_by_label("Target image").set_input_files(BIDEN)
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.locator("#compare-headline")).to_have_text("No match")


def test_collection_create_browse_search_delete(
    signed_in: Callable[[str], Console], server: ServerProcess
) -> None:
    console = signed_in("admin")
    page = console.page
    name = f"console-{uuid.uuid4().hex[:8]}"
    console.open("Collections")
    page.get_by_label("Collection ID").fill(name)
    page.get_by_label("Purpose", exact=True).fill("Console test: staff entrance")
    page.get_by_label("Retention (days)").fill("30")
    page.get_by_role("button", name="Create collection").click()
    detail = page.locator("#collection-detail")
    expect(detail.get_by_role("heading", name=f"Collection {name}")).to_be_visible()
    expect(detail).to_contain_text("Console test: staff entrance")
    expect(detail).to_contain_text("30 days")
    # Index a face, then see its provenance.
    detail.get_by_label("Image to index").set_input_files(OBAMA)
    detail.get_by_label("ExternalImageId").fill("obama.jpg")
    detail.get_by_role("button", name="Index faces").click()
    face_rows = detail.locator("tbody tr").filter(has_text="obama.jpg")
    expect(face_rows).to_have_count(1)
    row_text = face_rows.first.inner_text()
    assert BOOT_KEY_ID in row_text and "never" not in row_text  # indexed by this key; expires (30 days)
    console.screenshot("collections")

    # Search finds it, with similarity and an estimated false-match rate.
    console.open("Search")
    expect(page.get_by_label("Collection").locator(f"option[value='{name}']")).to_have_count(1)
    page.get_by_label("Collection").select_option(name)
    page.get_by_label("Probe image").set_input_files(OBAMA2)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-headline")).to_have_text("1 match")
    match = page.locator("#search-result tbody tr").first
    expect(match).to_contain_text("obama.jpg")
    assert float(match.locator("td").nth(3).inner_text().rstrip("%")) > 80
    console.screenshot("search")

    # Delete the face, then the collection.
    console.open("Collections")
    page.get_by_role("button", name=f"Open {name}").click()
    detail.get_by_role("checkbox").first.check()
    detail.get_by_role("button", name="Delete selected faces").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete faces").click()
    expect(detail).to_contain_text("No faces in this collection.")
    page.get_by_role("button", name=f"Delete collection {name}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete collection").click()
    expect(page.get_by_role("button", name=f"Open {name}")).to_have_count(0)
    # Neither the service nor the console kept the photos that went through it.
    images = [p for p in server.data_dir.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    assert images == []


def test_audit_page(signed_in: Callable[[str], Console]) -> None:
    console = signed_in("admin")
    console.open("Audit log")
    page = console.page
    expect(page.locator("#audit-verification")).to_contain_text("Hash chain verified")
    rows = page.locator("#audit-result tbody tr")
    expect(rows.first).to_be_visible()
    expect(page.locator("#audit-result")).to_contain_text("ConsoleSignIn")
    console.screenshot("audit")
    page.get_by_label("Operation").select_option("ConsoleSignIn")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows.first).to_contain_text("ConsoleSignIn")
    for text in rows.all_inner_texts():
        assert "ConsoleSignIn" in text


def test_detect_key_sees_no_collections(signed_in: Callable[[str], Console]) -> None:
    console = signed_in("detect")
    page = console.page
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Detect", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Compare", exact=True)).to_be_visible()
    for hidden in ("Collections", "Search", "Audit log", "Video", "Keys"):
        expect(nav.get_by_role("link", name=hidden, exact=True)).to_have_count(0)
    page.goto(console.url + "#/collections")
    expect(page.get_by_text('Not allowed: a key with scope "detect"')).to_be_visible()
    # The API refuses too, whatever the page shows: the service checks the key's scope.
    status = page.evaluate(
        """async () => {
            const who = await (await fetch('api/session')).json();
            const r = await fetch('api/op/ListCollections', {method: 'POST', body: '{}',
              headers: {'Content-Type': 'application/json', 'X-CSRF-Token': who.CsrfToken}});
            return [r.status, (await r.json()).Code];
        }"""
    )
    assert status == [400, "AccessDeniedException"]
    console.expected.append(REFUSED)
    console.screenshot("detect-scope")


def test_video_face_search_timeline(signed_in: Callable[[str], Console], server: ServerProcess) -> None:
    name = f"video-{uuid.uuid4().hex[:8]}"
    rek = rekognition(server)
    rek.create_collection(CollectionId=name)
    for person in ("lin-manuel-miranda", "alex-lacamoire"):
        portrait = (DATA / "video" / f"{person}.png").read_bytes()
        rek.index_faces(CollectionId=name, Image={"Bytes": portrait}, ExternalImageId=person, MaxFaces=1)
    console = signed_in("admin")
    console.open("Video")
    page = console.page
    page.get_by_label("Bucket").select_option("videos")
    page.get_by_label("Video file").fill("hamilton.mp4")
    expect(page.get_by_label("Collection").locator(f"option[value='{name}']")).to_have_count(1)
    page.get_by_label("Collection").select_option(name)
    page.get_by_label("Purpose").fill("TICKET-42: who was on stage")
    page.get_by_role("button", name="Start face search").click()
    expect(page.locator("#video-headline")).to_have_text("2 people recognised", timeout=240_000)
    table = page.locator("#video-result tbody")
    expect(table).to_contain_text("lin-manuel-miranda")
    expect(table).to_contain_text("alex-lacamoire")
    assert page.locator("#video-result svg circle").count() >= 2
    started = audit_details(page, {"CollectionId": name}, "StartFaceSearch")
    assert [d.get("purpose") for d in started] == ["TICKET-42: who was on stage"]
    console.screenshot("video")
    rek.delete_collection(CollectionId=name)


UNLABELLED = """() => [...document.querySelectorAll('main input, main select, main button, main textarea')]
    .filter((el) => !el.closest('[hidden]'))
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                    && !(el.tagName === 'BUTTON' && el.textContent.trim()))
    .map((el) => el.outerHTML)"""


def test_keyboard_only_and_every_control_labelled(console: Console, server: ServerProcess) -> None:
    page = console.page
    page.goto(console.url)
    expect(page.get_by_label("Access key ID")).to_be_focused()  # focus starts in the form
    page.keyboard.type(BOOT_KEY_ID)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Secret access key")).to_be_focused()
    page.keyboard.type(BOOT_SECRET)
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    assert page.get_by_role("navigation", name="Main").count() == 1
    assert page.locator("[role=status][aria-live=polite]").count() == 1
    for link in ("Detect", "Compare", "Collections", "Search", "Video", "Audit log", "Keys"):
        target = page.get_by_role("navigation").get_by_role("link", name=link, exact=True)
        target.focus()
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", f"no visible focus on the {link} link"
        page.keyboard.press("Enter")  # links are followed from the keyboard
        expect(target).to_have_attribute("aria-current", "page")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert page.evaluate(UNLABELLED) == [], link


def test_admin_creates_and_revokes_a_key(signed_in: Callable[[str], Console]) -> None:
    console = signed_in("admin")
    page = console.page
    console.open("Keys")
    page.get_by_label("Scope").select_option("search")
    page.get_by_label("Name").fill("console-made")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("Store the secret now")).to_be_visible()
    new_id = page.locator(".secret dd").first.inner_text()
    secret = page.locator(".secret dd").nth(1).inner_text()
    assert new_id.startswith("AKIA") and len(secret) == 40
    row = page.locator("tbody tr").filter(has_text=new_id)
    expect(row).to_contain_text("console-made")
    console.screenshot("keys")
    page.get_by_role("button", name=f"Revoke {new_id}").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("button", name=f"Revoke {new_id}")).to_have_count(0)
    # The revoked key can no longer sign in.
    page.get_by_role("button", name="Sign out").click()
    console.expected.append(REFUSED)
    console.sign_in(new_id, secret)
    expect(page.get_by_role("alert")).to_contain_text("Sign-in failed")


def test_users_and_association(signed_in: Callable[[str], Console], server: ServerProcess) -> None:
    name = f"users-{uuid.uuid4().hex[:8]}"
    rek = rekognition(server)
    rek.create_collection(CollectionId=name)
    rek.index_faces(CollectionId=name, Image={"Bytes": OBAMA.read_bytes()}, ExternalImageId="obama.jpg")
    console = signed_in("admin")
    page = console.page
    console.open("Collections")
    page.get_by_role("button", name=f"Open {name}").click()
    detail = page.locator("#collection-detail")
    detail.get_by_label("New user ID").fill("barack")
    detail.get_by_role("button", name="Create user").click()
    expect(detail.locator("tbody tr").filter(has_text="barack")).to_have_count(1)
    detail.get_by_role("checkbox").first.check()
    detail.get_by_label("User for the selected faces").select_option("barack")
    detail.get_by_role("button", name="Associate selected faces").click()
    expect(detail.locator("tbody tr").filter(has_text="obama.jpg")).to_contain_text("barack")
    users = rek.list_users(CollectionId=name)["Users"]
    assert [u["UserId"] for u in users] == ["barack"]
    faces = rek.list_faces(CollectionId=name)["Faces"]
    assert [f.get("UserId") for f in faces] == ["barack"]
    rek.delete_collection(CollectionId=name)


def test_search_key_sees_collections_but_cannot_change_them(signed_in: Callable[[str], Console]) -> None:
    console = signed_in("search")
    page = console.page
    nav = page.get_by_role("navigation", name="Main")
    for shown in ("Detect", "Compare", "Collections", "Search", "Video"):
        expect(nav.get_by_role("link", name=shown, exact=True)).to_be_visible()
    for hidden in ("Audit log", "Keys"):
        expect(nav.get_by_role("link", name=hidden, exact=True)).to_have_count(0)
    console.open("Collections")
    expect(page.locator("#collections-title")).to_be_visible()
    expect(page.get_by_role("button", name="Create collection")).to_have_count(0)


def test_name_every_face(signed_in: Callable[[str], Console], server: ServerProcess) -> None:
    """The server offers RecognizeFaces, so the Search page names every face of a crowd photo."""
    console = signed_in("admin")
    page = console.page
    offered = "RecognizeFaces" in page.evaluate(
        "async () => (await (await fetch('api/session')).json()).Operations"
    )
    console.open("Search")
    button = page.get_by_role("button", name="Name every face")
    assert offered
    name = f"crowd-{uuid.uuid4().hex[:8]}"
    rek = rekognition(server)
    rek.create_collection(CollectionId=name)
    for person in ("obama", "biden"):
        portrait = (DATA / "galleries" / "knn" / "train" / person / f"{person}.jpg").read_bytes()
        rek.index_faces(CollectionId=name, Image={"Bytes": portrait}, ExternalImageId=person, MaxFaces=1)
    page.reload()
    expect(page.get_by_label("Collection").locator(f"option[value='{name}']")).to_have_count(1)
    page.get_by_label("Collection").select_option(name)
    page.get_by_label("Probe image").set_input_files(
        DATA / "galleries" / "knn" / "test" / "obama_and_biden.jpg"
    )
    button.click()
    expect(page.locator("#search-headline")).to_contain_text("2 named")
    expect(page.locator("#search-result tbody")).to_contain_text("obama")
    expect(page.locator("#search-result tbody")).to_contain_text("biden")
    console.screenshot("recognize")
    rek.delete_collection(CollectionId=name)


def test_purpose_bound_search_and_subject_report(signed_in: Callable[[str], Console]) -> None:
    """A collection that requires a purpose refuses a search without; the stated one reaches the audit."""
    console = signed_in("admin")
    page = console.page
    name = f"bound-{uuid.uuid4().hex[:8]}"
    console.open("Collections")
    page.get_by_label("Collection ID").fill(name)
    page.get_by_label("Require a stated purpose for searches").check()
    page.get_by_role("button", name="Create collection").click()
    detail = page.locator("#collection-detail")
    expect(detail.locator("#collection-searches")).to_have_text("Purpose required")
    detail.get_by_label("Image to index").set_input_files(OBAMA)
    detail.get_by_label("ExternalImageId").fill("obama.jpg")
    detail.get_by_role("button", name="Index faces").click()
    expect(detail.locator("tbody tr").filter(has_text="obama.jpg")).to_have_count(1)

    console.open("Search")
    page.get_by_label("Collection").select_option(name)
    expect(page.get_by_text("This collection requires a stated purpose for searches.")).to_be_visible()
    page.get_by_label("Probe image").set_input_files(OBAMA2)
    console.expected.append(REFUSED)  # the refusal is a 400, which Chromium logs
    page.get_by_role("button", name="Search", exact=True).click()
    alert = page.locator("#search-result").get_by_role("alert")
    expect(alert).to_contain_text(f"Collection {name} requires a stated purpose for SearchFacesByImage")
    expect(alert).to_contain_text("fill in the Purpose field")
    console.screenshot("search-purpose-refused")
    purpose = f"CASE-{uuid.uuid4().hex[:6]}: identify the visitor at gate 3 (é)"
    page.get_by_label("Purpose").fill(purpose)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-headline")).to_have_text("1 match")
    console.screenshot("search")  # after, so replaces, the plain search's screenshot

    # The audit record of that search holds the purpose and the probe's hash, as ListAuditRecords tells.
    searches = audit_details(page, {"CollectionId": name}, "SearchFacesByImage")
    assert [d.get("purpose") for d in searches] == [None, purpose]  # the refusal is recorded too, without
    probe_sha256 = hashlib.sha256(OBAMA2.read_bytes()).hexdigest()
    assert searches[-1]["probe_sha256"] == probe_sha256

    console.open("Audit log")
    row = page.locator("#audit-result tbody tr").filter(has_text=purpose)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("SearchFacesByImage")
    expect(row.locator(f"[title='{probe_sha256}']")).to_have_text(probe_sha256[:12] + "…")
    console.screenshot("audit")
    report = page.get_by_role("form", name="Subject access report")
    report.get_by_label("Collection").fill(name)
    report.get_by_label("Person given as").select_option("ExternalImageId")
    report.get_by_label("Person", exact=True).fill("obama.jpg")
    report.get_by_role("button", name="Run report").click()
    found = page.locator("#subject-result tbody tr").filter(has_text="SearchFacesByImage")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("RETURNED")
    expect(found).to_contain_text(purpose)
    expect(page.locator("#subject-result tbody tr").filter(has_text="IndexFaces")).to_contain_text("CHANGED")
    page.evaluate("() => document.getElementById('subject-title').scrollIntoView()")
    console.screenshot("subject-report")


GALLERY = DATA / "galleries" / "bbt"
PEOPLE = ("penny", "raj", "sheldon")


def test_find_people_and_make_user(signed_in: Callable[[str], Console], server: ServerProcess) -> None:
    """ClusterFaces on a collection of three people's faces, page by page, then one cluster made a user."""
    client = rekognition(server)
    name = f"people-{uuid.uuid4().hex[:8]}"
    client.create_collection(CollectionId=name)
    for person in PEOPLE:
        for path in sorted((GALLERY / person).iterdir()):
            image = {"Bytes": path.read_bytes()}
            done = client.index_faces(
                CollectionId=name, Image=image, ExternalImageId=f"{person}-{path.name}", MaxFaces=1
            )
            assert len(done["FaceRecords"]) == 1, path
    console = signed_in("index")
    page = console.page
    console.open("Collections")
    page.get_by_role("button", name=f"Open {name}").click()
    section = page.locator("#clusters")
    expect(section.get_by_role("heading", name="Find people")).to_be_visible()
    # Labelled fields with the service's defaults; run from the keyboard, two clusters a page.
    expect(section.get_by_label("Cluster threshold (similarity)")).to_have_value("80")
    expect(section.get_by_label("Minimum cluster size")).to_have_value("2")
    expect(section.get_by_label("Include faces that already belong to a user")).not_to_be_checked()
    section.get_by_label("Clusters per page").fill("2")
    section.get_by_label("Clusters per page").press("Enter")
    summary = page.locator("#cluster-summary")
    expect(summary).to_have_text("2 clusters shown (more to load); 0 faces unclustered.")
    more = section.get_by_role("button", name="More clusters")
    more.focus()
    page.keyboard.press("Enter")
    expect(summary).to_have_text(f"{len(PEOPLE)} clusters shown; 0 faces unclustered.")
    rows = section.locator("#cluster-results tbody tr")
    expect(rows).to_have_count(len(PEOPLE))
    found: dict[str, tuple[str, list[str]]] = {}  # person -> (ClusterId, ExternalImageIds)
    for row in rows.all():
        cells = row.locator("td").all_inner_texts()
        images = cells[4].split(", ")
        people = {image.split("-")[0] for image in images}
        assert len(people) == 1, images  # one person per cluster
        assert int(cells[1]) == len(images) == 5 and cells[3] in images
        assert 0 < float(cells[2]) <= 100
        found[people.pop()] = (cells[0], images)
    assert sorted(found) == sorted(PEOPLE)
    console.screenshot("clusters")

    # Make user: the UserId is asked for, prefilled from the ClusterId.
    person = PEOPLE[0]
    cluster_id, images = found[person]
    section.get_by_role("button", name=f"Make user from cluster {cluster_id}").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("User ID")).to_have_value(f"cluster-{cluster_id}")
    dialog.get_by_label("User ID").fill(person)
    page.keyboard.press("Enter")
    expect(section.locator("#cluster-results")).to_contain_text(f"User {person}: 5 faces associated.")
    user_cell = page.locator("#collection-detail").get_by_role("cell", name=person, exact=True)
    expect(user_cell).to_have_count(1)  # the Users list is refreshed, the clusters stay
    expect(rows).to_have_count(len(PEOPLE))
    assert [u["UserId"] for u in client.list_users(CollectionId=name)["Users"]] == [person]
    faces = client.list_faces(CollectionId=name, UserId=person, MaxResults=100)["Faces"]
    assert sorted(f["ExternalImageId"] for f in faces) == sorted(images)

    # A search key sees no "Find people" (the service would refuse ClusterFaces anyway).
    page.get_by_role("button", name="Sign out").click()
    key_id, secret = server.keys["search"]
    console.sign_in(key_id, secret)
    expect(page.get_by_text(f"{key_id} · search")).to_be_visible()
    console.open("Collections")
    page.get_by_role("button", name=f"Open {name}").click()
    detail = page.locator("#collection-detail")
    expect(detail.get_by_role("heading", name=f"Collection {name}")).to_be_visible()
    expect(page.locator("#clusters")).to_have_count(0)
    client.delete_collection(CollectionId=name)
