"""Strongly connected components of a share matrix (graph.projection.build.Components): labels are first ranks."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from corpgraph.graph.projection.build import Components


def test_a_loop_is_one_component_ranked_between_its_owner_and_its_holding() -> None:
    # 2 holds 40% of 0; 0 and 1 hold 50% and 30% of each other; 1 holds 60% of 3; 4 holds nothing
    rows, cols, shares = [2, 0, 1, 1], [0, 1, 0, 3], [0.4, 0.5, 0.3, 0.6]
    comps = Components.of(sp.csr_matrix((shares, (rows, cols)), shape=(5, 5)))
    rank = comps.rank
    assert rank[2] < rank[0] and rank[1] == rank[0] + 1 and rank[1] < rank[3]  # the loop's members in node order
    assert comps.labels[0] == comps.labels[1] == rank[0]  # a component is named by its first rank
    assert [comps.labels[k] == rank[k] for k in (2, 3, 4)] == [True] * 3  # a node alone: its label is its rank
    assert comps.cyclic(comps.labels).tolist() == [True, True, False, False, False]
    assert comps.cyclic_nodes.tolist() == [0, 1] and comps.cyclic_ranks.tolist() == [rank[0], rank[1]]
    assert comps.order[rank].tolist() == [0, 1, 2, 3, 4]
    assert comps.ranks_of(np.array([3, 1, 0])).tolist() == [rank[3], rank[1], rank[0]]
    members, inside = comps.block(int(comps.labels[0]))
    assert members.tolist() == [0, 1] and inside.toarray().tolist() == [[0.0, 0.5], [0.3, 0.0]]
    assert comps.members(int(comps.labels[4])).tolist() == [4]
