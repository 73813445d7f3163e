"""ClusterFaces on real faces: pure clusters, everyone with two faces found, stable IDs, paging, audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.service.conftest import gallery, image

from regard.errors import (
    AccessDeniedException,
    InvalidPaginationTokenException,
    InvalidParameterException,
    ResourceNotFoundException,
)
from regard.service.app import Regard
from regard.service.context import RequestContext

PEOPLE = {**gallery("bbt"), **{f"knn-{k}": v for k, v in gallery("knn/train").items()}}
assert len(PEOPLE) == 13 and len(PEOPLE["knn-alex_lacamoire"]) == 1


def index(regard: Regard, collection: str, person: str, path: Path) -> str:
    response = regard.invoke(
        "IndexFaces",
        {
            "CollectionId": collection,
            "Image": image(path),
            "ExternalImageId": f"{person}-{path.stem}",
            "MaxFaces": 1,
        },
    )
    return str(response["FaceRecords"][0]["Face"]["FaceId"])


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, engine) -> Iterator[tuple[Regard, dict[str, str]]]:
    """A collection holding every gallery face; face ID -> person."""
    regard = Regard.open(tmp_path_factory.mktemp("cluster") / "data", engine=engine)
    regard.invoke("CreateCollection", {"CollectionId": "all"})
    owner = {index(regard, "all", person, path): person for person, paths in PEOPLE.items() for path in paths}
    yield regard, owner
    regard.close()


def run(regard: Regard, ctx: RequestContext | None = None, **params: object) -> dict:
    return regard.invoke("ClusterFaces", {"CollectionId": "all", **params}, ctx)


def test_every_cluster_is_one_person_and_everyone_with_two_faces_is_found(indexed) -> None:
    regard, owner = indexed
    response = run(regard)
    clusters = response["Clusters"]
    seen = [face for c in clusters for face in c["FaceIds"]]
    assert len(seen) == len(set(seen))
    assert sorted(seen + response["UnclusteredFaceIds"]) == sorted(owner)
    for cluster in clusters:
        people = {owner[face] for face in cluster["FaceIds"]}
        assert len(people) == 1, people  # purity: a false merge would name two people as one
        assert len(cluster["FaceIds"]) >= 2
        assert cluster["RepresentativeFaceId"] in cluster["FaceIds"]
        assert 80.0 <= cluster["Cohesion"] <= 100.0
    found = {owner[c["FaceIds"][0]] for c in clusters}
    with_two = {person for person, paths in PEOPLE.items() if len(paths) >= 2}
    assert found == with_two
    assert "knn-alex_lacamoire" not in found  # one photo: nobody to match
    clustered = sum(len(c["FaceIds"]) for c in clusters)
    assert clustered >= 0.9 * sum(len(PEOPLE[p]) for p in with_two)


def test_min_cluster_size_and_threshold_change_the_grouping(indexed) -> None:
    regard, _ = indexed
    big = run(regard, MinClusterSize=5)["Clusters"]
    assert big and all(len(c["FaceIds"]) >= 5 for c in big)
    strict = run(regard, ClusterThreshold=99.5)
    loose_faces = len(strict["UnclusteredFaceIds"])
    assert loose_faces > len(run(regard)["UnclusteredFaceIds"])  # stricter: fewer faces grouped


def test_cluster_ids_survive_a_rerun_and_pages_cover_everything(indexed) -> None:
    regard, _ = indexed
    first = {c["ClusterId"]: sorted(c["FaceIds"]) for c in run(regard)["Clusters"]}
    again = {c["ClusterId"]: sorted(c["FaceIds"]) for c in run(regard)["Clusters"]}
    assert again == first
    pages, token = [], None
    while True:
        params = {"MaxResults": 3} | ({"NextToken": token} if token else {})
        response = run(regard, **params)
        pages.append(response)
        token = response.get("NextToken")
        if not token:
            break
    assert len(pages) == -(-len(first) // 3)
    assert all(len(p["Clusters"]) <= 3 for p in pages)
    assert {c["ClusterId"]: sorted(c["FaceIds"]) for p in pages for c in p["Clusters"]} == first
    ids = [c["ClusterId"] for p in pages for c in p["Clusters"]]
    assert ids == sorted(ids)
    with pytest.raises(InvalidPaginationTokenException):
        run(regard, NextToken=pages[0]["NextToken"] + "x")
    with pytest.raises(InvalidPaginationTokenException):  # a token for other parameters
        run(regard, NextToken=pages[0]["NextToken"], ClusterThreshold=90)


def test_bad_requests_are_refused_clearly(indexed) -> None:
    regard, _ = indexed
    with pytest.raises(ResourceNotFoundException):
        regard.invoke("ClusterFaces", {"CollectionId": "missing"})
    for bad in (
        {"ClusterThreshold": 101},
        {"ClusterThreshold": "high"},
        {"MinClusterSize": 1},
        {"MinClusterSize": 2.5},
        {"IncludeUserFaces": "yes"},
        {"MaxResults": 0},
    ):
        with pytest.raises(InvalidParameterException):
            run(regard, **bad)
    with pytest.raises(AccessDeniedException):
        run(regard, RequestContext(scope="search"))


def test_audit_says_who_clustered_what(indexed) -> None:
    regard, owner = indexed
    ctx = RequestContext(access_key="AKIAAUDITTEST0000001", scope="index", client="test")
    response = run(regard, ctx)
    record = regard.store.list_audit(collection_id="all")[-1]
    assert record.entry.operation == "ClusterFaces"
    assert record.entry.access_key == ctx.access_key
    details = record.entry.details
    assert details["faces"] == len(owner)
    assert details["clusters"] == len(response["Clusters"])
    assert details["cluster_ids"] == [c["ClusterId"] for c in response["Clusters"]]
    assert details["unclustered"] == len(response["UnclusteredFaceIds"])
    json.dumps(details)


def test_ids_stay_when_faces_are_added_or_deleted_and_user_faces_are_left_out(tmp_path: Path, engine) -> None:
    with Regard.open(tmp_path / "data", engine=engine) as regard:
        regard.invoke("CreateCollection", {"CollectionId": "all"})
        cast = ("amy", "howard", "penny", "sheldon")
        owner = {index(regard, "all", p, path): p for p in cast[:3] for path in PEOPLE[p][:3]}
        before = {owner[c["FaceIds"][0]]: c["ClusterId"] for c in run(regard)["Clusters"]}
        assert set(before) == set(cast[:3])
        owner |= {index(regard, "all", p, path): p for p in cast for path in PEOPLE[p][3:]}
        owner |= {index(regard, "all", "sheldon", path): "sheldon" for path in PEOPLE["sheldon"][:3]}
        after = run(regard)["Clusters"]
        named = {owner[c["FaceIds"][0]]: c for c in after}
        for person in cast[:3]:
            assert named[person]["ClusterId"] == before[person]  # grew, kept its ID
            assert len(named[person]["FaceIds"]) >= 4
        assert named["sheldon"]["ClusterId"] not in before.values()
        penny = named["penny"]["FaceIds"]
        regard.invoke("DeleteFaces", {"CollectionId": "all", "FaceIds": penny[:2]})
        third = {owner[c["FaceIds"][0]]: c for c in run(regard)["Clusters"]}
        assert third["penny"]["ClusterId"] == before["penny"]
        assert not set(penny[:2]) & set(third["penny"]["FaceIds"])
        # faces of a user are named already: left out unless asked for
        regard.invoke("CreateUser", {"CollectionId": "all", "UserId": "amy"})
        amy = named["amy"]["FaceIds"]
        regard.invoke("AssociateFaces", {"CollectionId": "all", "UserId": "amy", "FaceIds": amy})
        without = run(regard)
        assert not {f for c in without["Clusters"] for f in c["FaceIds"]} & set(amy)
        assert not set(amy) & set(without["UnclusteredFaceIds"])
        with_users = run(regard, IncludeUserFaces=True)["Clusters"]
        assert any(set(amy) <= set(c["FaceIds"]) for c in with_users)


def test_incremental_run_keeps_clusters_and_adds_newcomers_through_the_index(tmp_path: Path, engine) -> None:
    with Regard.open(tmp_path / "data", engine=engine) as regard:
        regard.invoke("CreateCollection", {"CollectionId": "all"})
        owner = {index(regard, "all", p, path): p for p in ("amy", "raj") for path in PEOPLE[p][:3]}
        before = {owner[c["FaceIds"][0]]: c["ClusterId"] for c in run(regard)["Clusters"]}
        owner |= {index(regard, "all", "amy", path): "amy" for path in PEOPLE["amy"][3:]}
        owner |= {index(regard, "all", "leonard", path): "leonard" for path in PEOPLE["leonard"][:3]}
        owner |= {index(regard, "all", "knn-alex_lacamoire", PEOPLE["knn-alex_lacamoire"][0]): "alex"}
        response = run(regard, Incremental=True)
        named = {owner[c["FaceIds"][0]]: c for c in response["Clusters"]}
        assert set(named) == {"amy", "raj", "leonard"}
        for person, cluster in named.items():
            assert {owner[f] for f in cluster["FaceIds"]} == {person}
        assert named["amy"]["ClusterId"] == before["amy"] and len(named["amy"]["FaceIds"]) == len(
            PEOPLE["amy"]
        )
        assert named["raj"]["ClusterId"] == before["raj"]
        assert named["leonard"]["ClusterId"] not in before.values()
        assert [owner[f] for f in response["UnclusteredFaceIds"]] == ["alex"]
        full = {c["ClusterId"]: sorted(c["FaceIds"]) for c in run(regard)["Clusters"]}
        assert full == {c["ClusterId"]: sorted(c["FaceIds"]) for c in response["Clusters"]}
        record = regard.store.list_audit(collection_id="all")[-2]
        assert record.entry.details["incremental"] is True
