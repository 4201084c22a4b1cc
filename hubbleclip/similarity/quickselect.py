"""Quick select: k-means on a query's nearest neighbours (the ALMA archive's cluster view).

Each cluster is shown by its representative (the member closest to the centroid); choosing it
preselects the representative's nearest members of the same cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hubbleclip.errors import UserError


@dataclass
class Cluster:
    representative: int  # database index
    members: list[int]  # the representative's nearest cluster members (database indices)
    size: int  # number of neighbours in the cluster


def quick_select(
    embeddings: np.ndarray, neighbours: np.ndarray, n_clusters: int = 5, n_members: int = 15, seed: int = 0
) -> list[Cluster]:
    """Cluster the rows ``neighbours`` (database indices, -1 = none) of ``embeddings``.
    Clusters are returned largest first."""
    from sklearn.cluster import KMeans

    pool = np.asarray([i for i in np.asarray(neighbours).tolist() if i >= 0], np.int64)
    if n_clusters < 1:
        raise UserError(f"the number of clusters must be at least 1, got {n_clusters}")
    if len(pool) < n_clusters:
        raise UserError(f"{len(pool)} neighbours cannot form {n_clusters} clusters")
    vecs = np.asarray(embeddings[pool], np.float32)
    km = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit(vecs)
    clusters = []
    for c in range(n_clusters):
        members = np.flatnonzero(km.labels_ == c)
        dist = np.linalg.norm(vecs[members] - km.cluster_centers_[c], axis=1)
        rep = members[np.argmin(dist)]
        sims = vecs[members] @ vecs[rep]
        nearest = members[np.lexsort((members, -sims))]
        nearest = nearest[nearest != rep][:n_members]
        clusters.append(Cluster(int(pool[rep]), pool[nearest].tolist(), len(members)))
    return sorted(clusters, key=lambda c: -c.size)
