"""ClusterFaces (a Regard extension): group the faces of a collection into the people nobody has named yet.

The grouping itself is ``regard.grouping`` (kNN graph, Chinese Whispers, cohesion check). This operation
chooses the faces (by default those that belong to no user), keeps ClusterIds stable between runs, and
pages the clusters:

* Stable IDs: the assignments of the last run are stored (``Store.set_face_clusters``); a new run gives each
  cluster the previous ID it shares most faces with (``grouping.keep_cluster_ids``), so a person found once
  keeps the ID after faces are added or deleted, and only new people get new IDs. Because it writes these
  assignments, ClusterFaces needs an ``index`` key.
* Incremental (``Incremental: true``): the last run's clusters stay as they are (less deleted faces); each
  face not in one looks up its neighbours in the collection's vector index (``Store.search_faces``) and joins
  the cluster they vote for if it passes the same cohesion check; only the faces left over are clustered
  afresh. It never merges or splits existing clusters: run without it (the default) now and then, with the
  same ClusterThreshold. Measured, it is not cheaper than a full run at 10,000 faces
  (bench/results/cluster.md): one search per unclustered face costs more than the full run's batched graph.
* Paging: the first page (no NextToken) clusters and stores; later pages read the stored assignments, so
  all pages describe one run. Clusters are ordered by ClusterId; UnclusteredFaceIds come with the first page.
* Cohesion is the similarity (0-100, ``vision.similarity``) of the cluster's mean pairwise cosine; the
  RepresentativeFaceId is the medoid (the face with the highest mean cosine to the others).

The default threshold is similarity 80 (cosine 0.40), Rekognition's search default; measured in
``bench/bench_cluster.py`` (docs/accuracy.md, "Clustering"): on the labelled sets no cluster mixed two people
at it, and the calibrated false-match rate of a single pair at 80 is about 1e-4 or lower.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from regard.errors import InvalidParameterException
from regard.grouping import EJECT_MARGIN, cluster_vectors, describe, keep_cluster_ids
from regard.service import params as p
from regard.service.common import page, require_same_model
from regard.service.context import RequestContext
from regard.vision.similarity import cosine_from_similarity, similarity_from_cosine

if TYPE_CHECKING:
    from regard.service.app import Regard

OPERATION = "ClusterFaces"
DEFAULT_THRESHOLD = 80.0
DEFAULT_MIN_CLUSTER_SIZE = 2
DEFAULT_MAX_RESULTS = 1000
MAX_RESULTS = 4096
_READ_PAGE = 10_000
DEFAULT_K = 20  # neighbours a new face looks at when it joins an existing cluster


def cluster_faces(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    threshold = p.number(params, "ClusterThreshold", default=DEFAULT_THRESHOLD)
    min_size = p.integer(params, "MinClusterSize", default=DEFAULT_MIN_CLUSTER_SIZE, low=2, high=None)
    include_users = _boolean(params, "IncludeUserFaces")
    incremental = _boolean(params, "Incremental")
    limit = p.integer(params, "MaxResults", default=DEFAULT_MAX_RESULTS, low=1, high=MAX_RESULTS)
    token = p.string(params, "NextToken", required=False)
    collection = regard.store.get_collection(collection_id)
    require_same_model(regard, collection)
    scope = f"{collection_id}|{threshold!r}|{min_size}|{include_users}"
    unclustered: list[str] = []
    if token is None:
        assignments, unclustered, faces = _cluster(
            regard, collection_id, threshold, min_size, include_users, incremental
        )
    else:
        assignments = regard.store.get_face_clusters(collection_id)
    members: dict[str, list[str]] = {}
    for face_id, cluster_id in sorted(assignments.items()):
        members.setdefault(cluster_id, []).append(face_id)
    ids, next_token = page(
        regard,
        OPERATION,
        scope,
        token,
        limit,
        lambda after, n: [c for c in sorted(members) if after is None or c > after][:n],
        lambda cluster_id: cluster_id,
    )
    clusters = _describe_page(regard, collection_id, {c: members[c] for c in ids})
    details: dict[str, Any] = {"threshold": threshold, "cluster_ids": ids}
    if token is None:
        details.update(
            min_cluster_size=min_size,
            include_user_faces=include_users,
            incremental=incremental,
            faces=faces,
            clusters=len(members),
            clustered_faces=len(assignments),
            unclustered=len(unclustered),
        )
        regard.store.set_face_clusters(
            collection_id, assignments, audit=regard.audit_entry(ctx, OPERATION, collection_id, **details)
        )
    else:
        regard.record(regard.audit_entry(ctx, OPERATION, collection_id, page=True, **details))
    response: dict[str, Any] = {"Clusters": clusters, "UnclusteredFaceIds": unclustered}
    if next_token:
        response["NextToken"] = next_token
    return response


def _boolean(params: dict[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if not isinstance(value, bool):
        raise InvalidParameterException(f"{name} must be true or false.")
    return value


def _cluster(
    regard: Regard,
    collection_id: str,
    threshold: float,
    min_size: int,
    include_users: bool,
    incremental: bool,
) -> tuple[dict[str, str], list[str], int]:
    """(face_id -> ClusterId, unclustered face IDs, faces considered) for one run."""
    face_ids, vectors = _faces_in_scope(regard, collection_id, include_users)
    if not face_ids:
        return {}, [], 0
    cosine = cosine_from_similarity(threshold)
    previous = regard.store.get_face_clusters(collection_id)
    kept: dict[str, str] = {}
    if incremental and previous:
        kept = _kept_clusters(previous, set(face_ids), min_size)
        kept |= _join_existing(regard, collection_id, face_ids, vectors, kept, cosine)
    rest = [i for i, face in enumerate(face_ids) if face not in kept]
    groups, loose = cluster_vectors(vectors[rest], threshold=cosine, min_size=min_size) if rest else ([], [])
    named = [[face_ids[rest[i]] for i in group.members] for group in groups]
    taken = set(kept.values())
    old = {face: cluster for face, cluster in previous.items() if cluster not in taken}
    ids = keep_cluster_ids(named, old)
    assignments = dict(kept)
    assignments |= {face: cluster_id for cluster_id, faces in zip(ids, named, strict=True) for face in faces}
    return assignments, sorted(face_ids[rest[i]] for i in loose), len(face_ids)


def _faces_in_scope(regard: Regard, collection_id: str, include_users: bool) -> tuple[list[str], np.ndarray]:
    face_ids: list[str] = []
    vectors: list[np.ndarray] = []
    after: str | None = None
    while True:
        batch = regard.store.list_faces(collection_id, after=after, limit=_READ_PAGE)
        if not batch:
            break
        after = batch[-1].face_id
        chosen = [f.face_id for f in batch if include_users or f.user_id is None]
        found = regard.store.get_embeddings(collection_id, chosen)
        for face_id in chosen:
            if face_id in found:
                face_ids.append(face_id)
                vectors.append(found[face_id])
        if len(batch) < _READ_PAGE:
            break
    matrix = np.stack(vectors).astype(np.float32) if vectors else np.empty((0, 0), np.float32)
    return face_ids, matrix


def _kept_clusters(previous: dict[str, str], in_scope: set[str], min_size: int) -> dict[str, str]:
    """The last run's clusters, less faces gone or now out of scope; those left too small dissolve."""
    members: dict[str, list[str]] = {}
    for face, cluster in previous.items():
        if face in in_scope:
            members.setdefault(cluster, []).append(face)
    return {face: c for c, faces in members.items() if len(faces) >= min_size for face in faces}


def _join_existing(
    regard: Regard,
    collection_id: str,
    face_ids: list[str],
    vectors: np.ndarray,
    kept: dict[str, str],
    cosine: float,
) -> dict[str, str]:
    """New faces that join a kept cluster: found through the vector index, then checked like a member.

    A face's neighbours at or above the threshold vote for their clusters with their cosines (a Chinese
    Whispers step); it joins the winner if its mean cosine to that cluster passes the cohesion check.
    """
    sums: dict[str, tuple[np.ndarray, int]] = {}
    members: dict[str, list[str]] = {}
    for member, cluster in kept.items():
        members.setdefault(cluster, []).append(member)
    joined: dict[str, str] = {}
    for i, face in enumerate(face_ids):
        if face in kept:
            continue
        votes: dict[str, float] = {}
        for record, score in regard.store.search_faces(
            collection_id, vectors[i], max_results=DEFAULT_K, min_cosine=cosine, exclude=(face,)
        ):
            cluster = kept.get(record.face_id)
            if cluster is not None:
                votes[cluster] = votes.get(cluster, 0.0) + score
        if not votes:
            continue
        best = min(votes, key=lambda c: (-votes[c], c))
        if best not in sums:
            found = regard.store.get_embeddings(collection_id, members[best])
            sums[best] = (np.sum(list(found.values()), axis=0), len(found))
        total, count = sums[best]
        if count and float(vectors[i] @ total) / count >= cosine - EJECT_MARGIN:
            joined[face] = best
    return joined


def _describe_page(
    regard: Regard, collection_id: str, page_members: dict[str, list[str]]
) -> list[dict[str, Any]]:
    wanted = [face for faces in page_members.values() for face in faces]
    vectors = regard.store.get_embeddings(collection_id, wanted) if wanted else {}
    out: list[dict[str, Any]] = []
    for cluster_id, faces in page_members.items():
        present = [f for f in faces if f in vectors]  # a face deleted since the run is left out
        if not present:
            continue
        summary = describe(np.stack([vectors[f] for f in present]).astype(np.float32))
        out.append(
            {
                "ClusterId": cluster_id,
                "FaceIds": present,
                "RepresentativeFaceId": present[summary.representative],
                "Cohesion": round(similarity_from_cosine(summary.cohesion), 5),
            }
        )
    return out
