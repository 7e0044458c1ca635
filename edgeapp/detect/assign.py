"""Optimal one-to-one assignment (the Hungarian method) for the small matrices of tracking.

scipy's ``linear_sum_assignment`` would do, but scipy is not in either install
profile and a tracker's matrices are a few rows by a few columns: the classic
O(n^2 m) shortest-augmenting-path form with potentials, in plain Python, is
exact and costs microseconds at that size. The evaluation uses it too (ids of
ground-truth people against ids of tracks).
"""

from __future__ import annotations

import math
from typing import Sequence


def min_cost_assignment(cost: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """``(row, column)`` pairs of a minimum-total-cost matching that covers every row when there are
    no more rows than columns (else every column). Entries must be finite."""
    n = len(cost)
    m = len(cost[0]) if n else 0
    if n == 0 or m == 0:
        return []
    if n > m:
        return [(r, c) for c, r in min_cost_assignment([[cost[r][c] for r in range(n)] for c in range(m)])]
    inf = math.inf
    u = [0.0] * (n + 1)  # row potentials (1-based, as the classic formulation)
    v = [0.0] * (m + 1)
    owner = [0] * (m + 1)  # owner[j]: the row assigned to column j, 0 for none
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = [inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0 = owner[j0]
            row = cost[i0 - 1]
            delta, j1 = inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    cur = row[j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    return sorted((owner[j] - 1, j - 1) for j in range(1, m + 1) if owner[j])


def assign(cost: Sequence[Sequence[float]], max_cost: float) -> list[tuple[int, int]]:
    """Pairs of a minimum-cost matching that only uses entries ``<= max_cost`` (others are forbidden:
    give them any larger value or infinity)."""
    if not cost or not cost[0]:
        return []
    # A forbidden pair costs more than every allowed one together, so it is only chosen when a row has
    # nothing else; it is then dropped. Rows and columns with no allowed pair stay out of the problem.
    rows = [r for r, line in enumerate(cost) if any(c <= max_cost for c in line)]
    cols = [c for c in range(len(cost[0])) if any(cost[r][c] <= max_cost for r in rows)]
    if not rows or not cols:
        return []
    big = 1.0 + 2.0 * sum(abs(cost[r][c]) for r in rows for c in cols if cost[r][c] <= max_cost)
    sub = [[cost[r][c] if cost[r][c] <= max_cost else big for c in cols] for r in rows]
    return [(rows[i], cols[j]) for i, j in min_cost_assignment(sub) if sub[i][j] <= max_cost]
