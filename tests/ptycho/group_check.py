"""PtychoPINN's grouping rule restated in numpy, to check fastsci's groups.

usage: group_check.py POINTS SEEDS GROUPS K C MODE
POINTS: little-endian float64 (x, y) pairs; SEEDS: int64 seed index of each
group; GROUPS: int32 (ngroups, C) members; MODE: fixed | oversampling.

For each seed the neighbour list is built as hoidn/PtychoPINN
ptycho/raw_data.py does it (_generate_groups_efficiently and
_generate_groups_with_oversampling): the min(K + 1, n) nearest points by
distance, then neighbors[1:K+1] when K + 1 points were found, else
neighbors[:K] (fixed) or neighbors[1:] (oversampling); the seed itself is put
in front when fewer than C remain. Fixed path: a group is C distinct members
of that list. Oversampling: a group is a C-combination of the list in list
order (itertools.combinations). Exits 0 if every group satisfies the rule,
else prints the first offending group and exits 1. Points must have distinct
distances from each seed (random points), as the reference's column-0 rule
assumes.
"""
import sys

import numpy as np


def available(pts, s, K, C, oversampling):
    n = len(pts)
    d = pts - pts[s]
    d2 = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]
    kq = min(K + 1, n)
    nb = np.lexsort((np.arange(n), d2))[:kq]
    if len(nb) > K:
        nb = nb[1:K + 1]
    else:
        nb = nb[1:] if oversampling else nb[:K]
    if len(nb) < C:
        nb = np.concatenate([[s], nb])
    return list(nb[:K])


def main():
    pts = np.fromfile(sys.argv[1], dtype="<f8").reshape(-1, 2)
    seeds = np.fromfile(sys.argv[2], dtype="<i8")
    K, C = int(sys.argv[4]), int(sys.argv[5])
    over = sys.argv[6] == "oversampling"
    groups = np.fromfile(sys.argv[3], dtype="<i4").reshape(-1, C)
    if len(groups) != len(seeds):
        print(f"{len(groups)} groups but {len(seeds)} seeds")
        return 1
    for b, (s, g) in enumerate(zip(seeds, groups)):
        av = available(pts, int(s), K, C, over)
        g = [int(v) for v in g]
        if len(set(g)) != C or any(v not in av for v in g):
            print(f"group {b} (seed {s}) = {g} is not C distinct members of {av}")
            return 1
        if over and [av.index(v) for v in g] != sorted(av.index(v) for v in g):
            print(f"group {b} (seed {s}) = {g} is not a combination of {av} in order")
            return 1
    print(f"{len(groups)} groups follow PtychoPINN's rule")
    return 0


if __name__ == "__main__":
    sys.exit(main())
