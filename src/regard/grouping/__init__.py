"""Grouping faces into people: a thresholded k-nearest-neighbour graph, then Chinese Whispers.

Pure numpy/usearch; knows nothing of storage or HTTP (``service/clustering.py`` runs it on a collection).
"""

from regard.grouping.clusters import EJECT_MARGIN, Cluster, cluster_vectors, describe, keep_cluster_ids
from regard.grouping.knn import knn_graph

__all__ = ["EJECT_MARGIN", "Cluster", "cluster_vectors", "describe", "keep_cluster_ids", "knn_graph"]
